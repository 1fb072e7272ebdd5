// Package store is postdeck's source of truth: one bbolt file that holds every
// setting, document, map, user and queue of the appliance. Postfix's files are
// rendered from it; nothing else is authoritative.
//
// Values are JSON with explicit tags. Keys are constants in keys.go. No
// network, DNS or exec happens inside a transaction, and bytes are copied out
// before a transaction ends.
//
// Bucket tree (schema version 5):
//
//	meta
//	  schema_version      -> decimal string, see migrations.go
//	  cluster             -> ClusterMeta (JSON; a cluster node only: its name
//	                         and the revision of its last good configuration)
//	  mpa_error_usage     -> 16 bytes, big-endian: the entries of mpa_errors and the
//	                         sum of their sizes, changed with them (schema 5;
//	                         mpausage.go)
//	settings
//	  mta                 -> Settings (JSON)
//	  wiring              -> Wiring (JSON): the MPA's addresses and chain an import chose (absent: none)
//	mainconfig
//	  document            -> the Edit Main Config text (raw bytes)
//	  master              -> the Edit Master Config text (absent: postdeck's own service table)
//	  installation        -> imported main.cf lines of installation parameters (absent: none)
//	maps
//	  <name>              -> Map without its content (JSON: name, type, owner, updated, secret)
//	map_content           (schema 4)
//	  <name>              (a bucket per map, so that a change of one map never
//	                       rewrites another's bytes; see maps.go)
//	    content           -> the map's content, raw bytes
//	audit
//	  <seq big-endian u64> -> AuditEntry (JSON)
//	users
//	  <username>          -> User (JSON, bcrypt hash; must_change_password
//	                         while a one-time password is not replaced)
//	tokens
//	  <sha256 hex>        -> Token (JSON; the secret itself is never stored;
//	                         owner: the user it acts for, "" for root's;
//	                         expires, last_used: optional times; names unique)
//	mpa_spool
//	  <spool id>          -> SpoolEntry (JSON; see mpa.go)
//	mpa_errors
//	  <spool id>          -> ErrorEntry (JSON; see mpa.go; a split-off entry's
//	                         id is <spool id>-<suffix>)
//	mpa_bodies            (schema 2)
//	  <spool id>          -> a message body kept inline (small messages; larger
//	                         ones are files in the MPA's spool directory)
//	mpa_seen              (schema 3)
//	  <slot: 8-byte big-endian unix seconds, start of a 10-minute span>
//	    <first queue id>\x00<sender>\x00<recipient>\x00<orcpt type>;<orcpt>
//	                      -> spool id (a resend key; see mpaseen.go)
//	    \x00expires        -> 8-byte big-endian unix seconds: pinned until then
//	mpa_config
//	  pipeline            -> MPAPipeline (JSON: processors, rules, templates)
//	(message bodies are files SPOOLDIR/msg/<id> of package mpa, not in bbolt)
//	jobs
//	  <job name>          -> job status (JSON)
//	  spf:<map name>      -> JobStatus of that map's SPF refresh (jobs.go)
//	spf_sources
//	  <map name>          -> SPFSource (JSON; see jobs.go)
//
// Migrations are an append-only list; each runs in its own transaction and
// bumps schema_version in that same transaction. A database whose version is
// newer than this binary knows is refused.
package store
