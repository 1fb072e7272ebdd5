// Package cluster makes a postdeck daemon one node of a gateway cluster
// whose configuration lives in etcd (go.etcd.io/etcd/client/v3). Without
// the cluster flags nothing of it runs and the node is standalone.
//
// # What is shared, what stays local
//
// Under one prefix (default /postdeck/) etcd holds what every node of the
// cluster runs: the MTA settings, the Edit Main Config document, an
// imported master.cf, the maps (including the SPF-derived ones), and the
// shared buckets of the store (users, tokens, SPF sources, the MPA
// pipeline) as their stored JSON. Each node keeps its own values of the
// settings named by --cluster-per-node (host name and HELO name by
// default) in its record under nodes/, so each renders its own myhostname.
// The MPA spool and error repository, the Postfix queue and job statuses
// stay on the node. The audit log is copied (audit.go): each node writes
// its entries to its store, copies them to audit/NODE/SEQ and copies the
// other nodes' into its store, marked with their node.
//
//	PREFIX/meta                 cluster init: seeding, then ready
//	PREFIX/rev                  the last configuration change (who, what);
//	                            its mod revision is the configuration's
//	                            revision, its version counts revisions
//	PREFIX/config/settings      store.Settings (JSON), the shared values
//	PREFIX/config/mainconfig    the Edit Main Config document
//	PREFIX/config/master        an imported master.cf (absent: postdeck's own)
//	PREFIX/config/maps/NAME     store.Map (JSON)
//	PREFIX/shared/BUCKET/KEY    users, tokens, spf_sources, mpa_config values
//	PREFIX/nodes/NAME           report.NodeRecord: API address, per-node values
//	PREFIX/status/NAME          report.NodeStatus, under the node's lease
//	PREFIX/election/jobs        the election of the node that runs the SPF refresh
//	PREFIX/secret/peer-token    the token nodes act on each other's API with
//	PREFIX/audit/NODE/SEQ       store.AuditEntry, the newest 10,000 per node
//
// # Writes
//
// A change on any node is made on the newest configuration this node has
// seen (Latest), validated against this node's Postfix (mta's Check:
// render, postconf, postmap probes on a staging copy, nothing made live)
// and committed in one transaction that compares the rev key's mod
// revision with the one the change was based on, and moves it (Commit).
// When another change came first the transaction does nothing; the
// change is made again on the newer configuration, where an edit based on
// an older document version is refused as stale (409 with the diff),
// exactly as on a standalone node. Fields of the settings and of a map
// that a newer node wrote (a rolling upgrade) and this version does not
// know are kept when this node saves them. The caller's answer is this
// node's apply of the committed revision. A commit that got no answer
// within the request timeout may have been applied: the node sends the
// same transaction again (it applies at most once: its compare, and a
// marker only it wrote) and answers saved or not saved by what etcd says,
// or, when etcd says nothing within another request timeout, that the
// change may have been saved and the Cluster page shows the last change
// (settle). Users, tokens, SPF sources and the pipeline change in the
// store first and are committed the same way (ChangeShared); a refused
// commit (or one that may have been saved) puts the store back, and the
// apply loop brings in what the cluster has.
//
// # Following
//
// Every node reads the whole prefix once, then watches it from the next
// revision (follow). Each new configuration revision is applied by one
// goroutine (applyLoop; bursts coalesce): the configuration through the
// usual apply pipeline with validation and rollback, which stores it in
// the node's bbolt only when Postfix runs it (the last good
// configuration, with which the node starts and keeps working without
// etcd); the shared buckets straight into the store. A node that refuses
// a revision keeps its last good configuration and reports failing,
// without holding up the others.
//
// # Status, heartbeat and election
//
// A node writes its status (applied and tried revision, result with
// Postfix's words, Postfix's state, queue and MPA counts) under a lease
// after every revision and when its state changes (looked at every 10 s);
// an idle node sends nothing but its lease keep-alive, which is its
// heartbeat. The same lease carries its candidacy in an etcd election:
// the elected node runs the cluster's scheduled jobs (the SPF refresh),
// the others take the resulting maps from the cluster.
//
// The watch brings every node's status key too, and its deletion when a
// lease runs out: Health, the dashboard's and /metrics' view of the
// cluster, is read from that copy and asks etcd nothing; View (the
// cluster page, `postdeck cluster status`) reads the statuses and each
// lease's age from etcd.
//
// # Partitions
//
// Requests carry etcd's require-leader flag, so a member without a
// leader fails them at once. A node that cannot reach a quorum keeps
// serving mail with its last good configuration and refuses changes with
// a sentence that says the cluster is unreachable (503). It retries with
// a backoff; when etcd answers again it reads the whole prefix and
// applies the newest revision: it catches up by revision, never by
// replaying its own writes.
//
// The package imports etcd's client and gRPC; only cmd/postdeck imports
// it. Package admin names it through an interface and the plain types of
// package report.
package cluster
