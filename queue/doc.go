// Package queue is the Postfix queue as an administrator works with it:
// listing with filters and sorts, the shape summary, one message's view
// (postcat), the actions (delete, bounce, hold, release, requeue, retry
// through postsuper and postqueue, by ids or by filter, in one command
// run), flush, and Send Mail (a test message submitted to the instance's
// smtpd).
//
// # The index
//
// The daemon keeps the queue in memory (Queue.Start): one entry per
// message with what `postqueue -j` shows (id, queue, sender, recipients
// with their delay reasons, size, arrival, forced expiry). Listings,
// filters, counts, the shape table, the status page and /metrics read it
// and never wait for Postfix: a page or the summary of 100,000 messages
// takes tens of milliseconds at most.
//
//   - Source. The index reads Postfix's queue files itself (qfile.go),
//     the way showq(8) reads them for postqueue: the record stream of
//     src/global/record.c, the defer log of each message for its delay
//     reasons (bounce_log.c), and showq's rules (mode 0700 means
//     complete, the group-execute bit means forced expiry, the defer log's
//     recipients first, then the queue file's recipients it did not name,
//     quote_822_local and printable()). A full read of 100,000 files takes
//     less time than postqueue -j, which reads the same files, prints JSON
//     and has it parsed again (BenchmarkQueue: queue_index_build_100k);
//     and only reading files lets a single change be followed without
//     reading the whole queue again. As root it works while master is
//     stopped, and postconf tells it where the queue is (queue_directory)
//     and how showq formats it, for a private instance and the system's
//     Postfix alike. A watch on the config directory hears main.cf change;
//     postconf is asked again, and when those parameters changed (an
//     administrator set smtputf8_enable) every file is read again.
//   - Events (watch.go). inotify on maildrop, incoming, active, deferred,
//     hold and defer and their hash subdirectories (watched as Postfix
//     makes them). Each event marks its queue id dirty; a batch looks at
//     each dirty id again with lstat and reads the file only when its
//     stamp (inode, mtime, size, mode) changed, so hold or release of
//     100,000 messages costs 100,000 lstat calls. After the first event
//     wakes it, the loop lets events gather for eventGather (10 ms) before
//     it reads them, unless a request wakes it first. Every request first asks
//     the watcher to apply what the kernel has queued so far (a few
//     microseconds when nothing changed), so a page reflects every change
//     Postfix finished before the request: that moment is the page's
//     as_of.
//   - Reconciliation. Every IndexOptions.Reconcile (DefaultReconcile, 5
//     minutes), after an inotify queue overflow and after a recovered
//     panic, every directory is listed again, every stamp compared,
//     changed files read and vanished ones dropped.
//   - Actions by filter find their candidates in the index, then check
//     each candidate's files again right before its id goes to
//     postsuper's standard input (the stamps of its queue file and defer
//     log; a full read and match when either changed), and send it only
//     when it still matches; postsuper
//     gets the filter's queue as its queue argument, so a message that
//     left that queue meanwhile is not touched. Above 5,000 matches eight
//     postsuper processes share the ids.
//   - Memory (entrystore.go). The index holds no Go pointer: each
//     message is a slot of fixed size (56 bytes: offsets and lengths of
//     its id, sender and subject, its recipients' place, arrival, size,
//     queue, expiry) beside its stamps and location (24), each recipient
//     16 bytes of offsets, and every string's bytes are in one arena; the
//     id map is keyed by a 64-bit hash of the id (the ids whose hash
//     another id holds are in a small map of their own). The collector
//     marks these few big slices without scanning them: with the
//     []queueEntry they replace, each collection at 100,000 messages
//     marked about 600,000 objects and took 15-25 ms of the daemon's two
//     cores while the console was being read. Senders, addresses, delay
//     reasons and subjects that repeat are stored once (an interning
//     table of at most 16,384 strings), and a message read again keeps
//     the strings that did not change. What replaced and removed messages
//     leave unused is packed away when it may be as much as what is used,
//     or when more than half of the slots are free. At 100,000 messages
//     with one recipient: 264 bytes of heap per message, 60 MB peak RSS
//     with the daemon's collector policy (BenchmarkQueue,
//     queue_index_peak_rss_100k).
//   - Summary (tally.go). The index keeps the summary current as
//     messages are put, moved and removed: counts and bytes per queue;
//     per destination domain the recipients (every queue but hold) and
//     the deferred messages by arrival second; the deferred messages'
//     slots by arrival second. Summary and Overview (the dashboard's
//     oldest deferred message and deferring domains) put those seconds
//     into the age buckets of their own moment, so they cost
//     O(domains + 11 x distinct arrival seconds), never a scan of the
//     messages: 0.12 ms for 100,000 messages to 10 domains that arrived
//     within two minutes, against 105 ms for the scan
//     (BenchmarkOverview100k). The scan stays for the postqueue -j
//     snapshot and as the tests' reference (TestTallyMatchesScan). Its
//     memory: 4 bytes per deferred message (its slot), and per domain
//     and arrival second two map entries (about 40 bytes each), deleted
//     when they empty.
//
// Without Start (or when it fails, which is logged), listings fall back
// to a `postqueue -j` snapshot that serves SnapshotTTL.
//
// Ids are validated before any command runs; commands get argv vectors
// through package postfix, never a shell. Audit entries are package
// admin's.
package queue
