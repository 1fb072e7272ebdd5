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
//     Postfix alike.
//   - Events (watch.go). inotify on maildrop, incoming, active, deferred,
//     hold and defer and their hash subdirectories (watched as Postfix
//     makes them). Each event marks its queue id dirty; a batch looks at
//     each dirty id again with lstat and reads the file only when its
//     stamp (inode, mtime, size, mode) changed, so hold or release of
//     100,000 messages costs 100,000 lstat calls. Every request first asks
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
//   - Memory. A fixed cost per message: 190 bytes of Go heap for a
//     message with one recipient, measured at 100,000 messages
//     (BenchmarkQueue, queue_index_peak_rss_100k: heap in use after a
//     collection, divided by the messages). That is the entry (80 bytes:
//     id, sender, recipients, arrival, size, queue, expiry), its stamps
//     and location (24), the id (16), one recipient (32) and the id map
//     (about 40); each further recipient adds 32 bytes and its address.
//     Senders, addresses and delay reasons that repeat are shared (an
//     interning table of at most 16,384 strings). The slices shrink when
//     more than half of them are free. At 100,000 messages the index is
//     about 19 MB of live heap; the process's peak RSS then depends on
//     the collector: 62 MB with Go's default GOGC=100, 70 MB with the
//     daemon's policy (package memlimit: GOGC=400 under a soft limit of
//     1.5 times the live heap plus 24 MiB, at least 64 MiB), and 110 MB
//     with a fixed 256 MiB limit, which let the heap grow to five times
//     what is live.
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
