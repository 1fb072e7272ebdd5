package store

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// MPA spool states. "processing" is never stored: the MPA reports it for
// the entries its workers hold, and an entry stored in any state is picked
// up again when the MPA starts.
const (
	SpoolWaiting    = "waiting"    // never attempted, or requeued
	SpoolProcessing = "processing" // a worker holds it (reported, not stored)
	SpoolRetry      = "retry"      // a temporary failure; next try at NextAttempt
)

// Error repository stages: where in the MPA a message failed.
const (
	StagePipeline    = "pipeline"    // a processor failed (for example a template)
	StageDelivery    = "delivery"    // the reinjection listener refused recipients (5xx)
	StageExpired     = "expired"     // temporary failures for longer than the queue lifetime
	StageInterrupted = "interrupted" // the MPA stopped while Postfix was answering the final dot
)

// MPARecipient is one RCPT TO of the original envelope with its DSN
// parameters, so that reinjection can repeat them.
type MPARecipient struct {
	Address   string   `json:"address"`
	Notify    []string `json:"notify,omitempty"`     // NOTIFY= values
	ORcptType string   `json:"orcpt_type,omitempty"` // ORCPT= address type (rfc822, utf-8)
	ORcpt     string   `json:"orcpt,omitempty"`      // ORCPT= address, decoded
}

// MPARawByteBase is how an envelope address keeps a byte that is not
// UTF-8 in the MPA's spool, whose JSON would turn it into U+FFFD: as the
// character MPARawByteBase plus the byte, in the last private-use plane,
// which no address of a real mailbox uses (mpa's escapeAddress writes it,
// queue.Readable shows it as U+FFFD).
const MPARawByteBase = 0x10FF00

// MPAEnvelope is the SMTP envelope Postfix handed to the MPA, kept verbatim
// so that the message is reinjected with the same parameters.
type MPAEnvelope struct {
	Sender     string         `json:"sender"`
	Recipients []MPARecipient `json:"recipients"`
	Size       int64          `json:"size,omitempty"`     // SIZE= as declared
	Body       string         `json:"body,omitempty"`     // BODY= (7BIT, 8BITMIME)
	SMTPUTF8   bool           `json:"smtputf8,omitempty"` // SMTPUTF8 given
	Ret        string         `json:"ret,omitempty"`      // DSN RET= (FULL, HDRS)
	EnvID      string         `json:"envid,omitempty"`    // DSN ENVID=, decoded
	Helo       string         `json:"helo,omitempty"`     // the client's EHLO name
	Client     string         `json:"client,omitempty"`   // the client's address
}

// Addresses lists the recipient addresses.
func (e MPAEnvelope) Addresses() []string {
	out := make([]string, len(e.Recipients))
	for i, r := range e.Recipients {
		out[i] = r.Address
	}
	return out
}

// SpoolEntry is one message in the MPA queue. Its body lives in the MPA's
// spool directory under the entry's ID.
type SpoolEntry struct {
	ID          string      `json:"id"`
	Envelope    MPAEnvelope `json:"envelope"`
	Size        int64       `json:"size"` // bytes of the stored message
	Received    time.Time   `json:"received"`
	State       string      `json:"state"`
	Attempts    int         `json:"attempts"`
	NextAttempt time.Time   `json:"next_attempt"`
	LastError   string      `json:"last_error,omitempty"`
	// Done lists recipients already delivered (a message split into several
	// deliveries may be half done when a retry is needed).
	Done []string `json:"done,omitempty"`
	// Delivering lists recipients whose final dot was sent and whose answer
	// is not yet recorded. Found non-empty at start, they are in doubt:
	// Postfix may have queued them; the MPA finds out from Postfix's log.
	Delivering []string `json:"delivering,omitempty"`
	// DeliveryID names the transaction of Delivering in Postfix's log (the
	// XFORWARD IDENT the reinjection smtpd logs as orig_queue_id=).
	DeliveryID string `json:"delivery_id,omitempty"`
	// DeliveringSince is when Delivering was recorded.
	DeliveringSince time.Time `json:"delivering_since,omitzero"`
	// LogOffset is the size of Postfix's maillog when that transaction
	// began: its log lines come after it.
	LogOffset int64 `json:"log_offset,omitempty"`
	// FirstQueueID is the queue id of the Postfix that handed the message
	// to the MPA (from its Received header), kept for the error repository
	// and the logs; empty when the message did not come from Postfix.
	FirstQueueID string `json:"first_queue_id,omitempty"`
	// SlowRuns counts the attempts whose pipeline ran past a time bound
	// (MaxTemplateTime, ProcessTimeout); deferred deliveries do not
	// count, so that a message that waited out a relay's outage still
	// gets its tries against a busy moment.
	SlowRuns int `json:"slow_runs,omitempty"`
}

// ErrorEntry is one message in the MPA error repository. Its body lives in
// the MPA's spool directory under the entry's ID.
type ErrorEntry struct {
	ID       string      `json:"id"`
	Envelope MPAEnvelope `json:"envelope"`
	Size     int64       `json:"size"`
	Received time.Time   `json:"received"`
	FailedAt time.Time   `json:"failed_at"`
	Stage    string      `json:"stage"`
	Reason   string      `json:"reason"`
	Attempts int         `json:"attempts"`
}

// MPATemplate is a named Go text/template used by the rules processor.
type MPATemplate struct {
	Name string `json:"name"`
	Text string `json:"text"`
}

// MPAPipeline is the MPA's processing configuration: the ordered
// processors, the rules document and the templates it references. The MPA
// validates it before it is stored (mpa.Server.PutPipeline).
type MPAPipeline struct {
	Processors []string      `json:"processors"`
	Rules      string        `json:"rules"`
	Templates  []MPATemplate `json:"templates"`
	Updated    time.Time     `json:"updated"`
}

// DefaultMPAPipeline is the pipeline of a fresh installation: the trace
// processor and an empty rules processor.
func DefaultMPAPipeline() MPAPipeline {
	return MPAPipeline{Processors: []string{"trace", "rules"}, Templates: []MPATemplate{}}
}

// ValidSpoolID reports whether id has the shape of an MPA spool id: it is
// used as a file name, so anything else is refused before it reaches one.
func ValidSpoolID(id string) bool {
	if id == "" || len(id) > 64 || id[0] == '.' {
		return false
	}
	for _, c := range id {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '.' || c == '-') {
			return false
		}
	}
	return !strings.Contains(id, "..")
}

// MPASpoolCommit records the outcome of a step on spool entry id in one
// transaction: next replaces the entry (nil deletes it) and errs are added
// to the error repository. It goes through the group commit (committer),
// so commits of concurrent SMTP sessions and workers share one fsync.
//
// An inline body follows its entries: error entries split off under new
// ids get a copy, and a final commit (next nil) that no error entry takes
// over deletes it.
func (db *DB) MPASpoolCommit(id string, next *SpoolEntry, errs []ErrorEntry) error {
	defer db.mpaGen.Add(1) // after the commit (MPACounts)
	// Encoded before the commit, not while holding the writer.
	var nextRaw []byte
	if next != nil {
		raw, err := json.Marshal(next)
		if err != nil {
			return fmt.Errorf("commit spool entry %s: encode: %w", id, err)
		}
		nextRaw = raw
	}
	errsRaw := make([][]byte, len(errs))
	for i := range errs {
		raw, err := json.Marshal(&errs[i])
		if err != nil {
			return fmt.Errorf("commit spool entry %s: encode: %w", id, err)
		}
		errsRaw[i] = raw
	}
	err := db.commits.batch(func(tx *bolt.Tx) error {
		bodies := tx.Bucket(bucketMPABodies)
		body := bodies.Get([]byte(id))
		keep := next != nil
		for i := range errs {
			if errs[i].ID == id {
				keep = true
			} else if body != nil {
				if err := bodies.Put([]byte(errs[i].ID), append([]byte(nil), body...)); err != nil {
					return err
				}
			}
		}
		if !keep && body != nil {
			if err := bodies.Delete([]byte(id)); err != nil {
				return err
			}
		}
		if next != nil {
			if err := tx.Bucket(bucketMPASpool).Put([]byte(id), nextRaw); err != nil {
				return err
			}
		} else if err := tx.Bucket(bucketMPASpool).Delete([]byte(id)); err != nil {
			return err
		}
		if len(errs) == 0 {
			return nil
		}
		// The usage record changes with the entries (mpausage.go); an id
		// stored already (never in practice: ids are unique) is replaced,
		// and counts once.
		u, err := loadErrorUsage(tx)
		if err != nil {
			return err
		}
		eb := tx.Bucket(bucketMPAErrors)
		for i := range errs {
			k := []byte(errs[i].ID)
			if old := eb.Get(k); old != nil {
				u.entries, u.bytes = u.entries-1, u.bytes-errorRecordSize(old)
			}
			if err := eb.Put(k, errsRaw[i]); err != nil {
				return err
			}
			u.entries, u.bytes = u.entries+1, u.bytes+entryUsageSize(errs[i].Size)
		}
		return u.put(tx)
	})
	if err != nil {
		return fmt.Errorf("commit spool entry %s: %w", id, err)
	}
	return nil
}

// MPASpoolAdd stores a new spool entry and, when the message is small
// enough to be kept inline, its body, in one group commit: the message is
// durable when it returns. seen are the entry's resend keys (see
// MPASeenLookup), recorded in the same commit.
func (db *DB) MPASpoolAdd(e SpoolEntry, body []byte, seen []string) error {
	defer db.mpaGen.Add(1) // after the commit (MPACounts)
	raw, err := json.Marshal(&e)
	if err != nil {
		return fmt.Errorf("add spool entry %s: encode: %w", e.ID, err)
	}
	err = db.commits.batch(func(tx *bolt.Tx) error {
		if body != nil {
			if err := tx.Bucket(bucketMPABodies).Put([]byte(e.ID), body); err != nil {
				return err
			}
		}
		if len(seen) > 0 {
			slot, err := seenSlot(tx, e.Received)
			if err != nil {
				return err
			}
			for _, k := range seen {
				if err := slot.Put([]byte(k), []byte(e.ID)); err != nil {
					return err
				}
			}
		}
		return tx.Bucket(bucketMPASpool).Put([]byte(e.ID), raw)
	})
	if err != nil {
		return fmt.Errorf("add spool entry %s: %w", e.ID, err)
	}
	return nil
}

// MPABody returns the inline body of id (a copy); false when the body is
// not kept inline.
func (db *DB) MPABody(id string) ([]byte, bool, error) {
	var out []byte
	err := db.bolt.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucketMPABodies).Get([]byte(id)); v != nil {
			out = append([]byte{}, v...)
		}
		return nil
	})
	return out, out != nil, err
}

// MPABodySizes returns the length of every inline body by id, read in
// one transaction without copying them: a restore counts a backup's
// bodies against the error quota, and copies of thousands of them (up to
// the size of the backup's database) would be garbage for nothing.
func (db *DB) MPABodySizes() (map[string]int64, error) {
	sizes := map[string]int64{}
	err := db.bolt.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketMPABodies).ForEach(func(k, v []byte) error {
			sizes[string(k)] = int64(len(v))
			return nil
		})
	})
	return sizes, err
}

// MPABodyPut stores an inline body (a restored message).
func (db *DB) MPABodyPut(id string, body []byte) error {
	return db.bolt.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketMPABodies).Put([]byte(id), body)
	})
}

// MPASweepBodies deletes inline bodies no spool or error entry references
// (left by nothing in normal operation; a safety net at start) and returns
// how many it removed.
func (db *DB) MPASweepBodies() (int, error) {
	n := 0
	err := db.bolt.Update(func(tx *bolt.Tx) error {
		bodies, spool, errs := tx.Bucket(bucketMPABodies), tx.Bucket(bucketMPASpool), tx.Bucket(bucketMPAErrors)
		var drop [][]byte
		if err := bodies.ForEach(func(k, _ []byte) error {
			if spool.Get(k) == nil && errs.Get(k) == nil {
				drop = append(drop, append([]byte(nil), k...))
			}
			return nil
		}); err != nil {
			return err
		}
		for _, k := range drop {
			if err := bodies.Delete(k); err != nil {
				return err
			}
		}
		n = len(drop)
		return nil
	})
	return n, err
}

// MPASpoolGet returns one spool entry or ErrNotFound.
func (db *DB) MPASpoolGet(id string) (SpoolEntry, error) {
	var e SpoolEntry
	err := db.bolt.View(func(tx *bolt.Tx) error {
		found, err := getJSON(tx, bucketMPASpool, []byte(id), &e)
		if err == nil && !found {
			err = NotFound("MPA queue entry %s does not exist", id)
		}
		return err
	})
	return e, err
}

// MPASpoolGetBody returns one spool entry (or ErrNotFound) and, in the same
// read transaction, its inline body (a copy; nil when it is a file).
func (db *DB) MPASpoolGetBody(id string) (SpoolEntry, []byte, error) {
	var e SpoolEntry
	var body []byte
	err := db.bolt.View(func(tx *bolt.Tx) error {
		found, err := getJSON(tx, bucketMPASpool, []byte(id), &e)
		if err == nil && !found {
			err = fmt.Errorf("spool entry %q: %w", id, ErrNotFound)
		}
		if v := tx.Bucket(bucketMPABodies).Get([]byte(id)); v != nil && err == nil {
			body = append([]byte(nil), v...)
		}
		return err
	})
	return e, body, err
}

// MPASpoolList returns every spool entry, oldest first (ids sort by time).
func (db *DB) MPASpoolList() ([]SpoolEntry, error) {
	return listJSON[SpoolEntry](db, bucketMPASpool)
}

// MPASpoolHead is the start of the MPA queue and the count of all of it
// (MPASpoolHead).
type MPASpoolHead struct {
	Entries []SpoolEntry // the oldest entries, at most the limit asked for
	Total   int          // entries in the spool
	// Waiting and Retry count the entries by stored state, leaving out
	// those the caller said workers hold.
	Waiting, Retry int
	// Unreadable are the ids among the oldest limit whose records do not
	// decode: they count in Total and are left out of Entries.
	Unreadable []string
}

// Stored states as their JSON encodes them: the state is the only
// "state" key of a spool entry, and a quote inside a string value is
// escaped, so the bytes cannot occur anywhere else.
var (
	spoolStateWaiting = []byte(`"state":"` + SpoolWaiting + `"`)
	spoolStateRetry   = []byte(`"state":"` + SpoolRetry + `"`)
)

// MPASpoolHead returns the oldest limit spool entries and counts every
// entry by state, without decoding the others: the MPA Queue page,
// refreshed every few seconds, shows a page of a spool that can hold
// tens of thousands of messages when Postfix does not take them back.
// Entries whose id is in held are counted in Total only (a worker holds
// them: "processing").
func (db *DB) MPASpoolHead(limit int, held map[string]bool) (MPASpoolHead, error) {
	var h MPASpoolHead
	err := db.bolt.View(func(tx *bolt.Tx) error {
		h = MPASpoolHead{}
		return tx.Bucket(bucketMPASpool).ForEach(func(k, v []byte) error {
			h.Total++
			if len(h.Entries)+len(h.Unreadable) < limit {
				var e SpoolEntry
				if err := json.Unmarshal(v, &e); err != nil {
					h.Unreadable = append(h.Unreadable, string(k))
				} else {
					h.Entries = append(h.Entries, e)
				}
			}
			switch {
			case held[string(k)]:
			case bytes.Contains(v, spoolStateWaiting):
				h.Waiting++
			case bytes.Contains(v, spoolStateRetry):
				h.Retry++
			}
			return nil
		})
	})
	return h, err
}

// MPARecovery is what the MPA reads of its spool and error repository
// when it starts (MPARecovery).
type MPARecovery struct {
	// Due is every spool entry that decodes, oldest first, with when it
	// is next tried.
	Due []MPASpoolDue
	// ErrorIDs is every error-repository id, oldest first, readable or not.
	ErrorIDs []string
	// UnreadableSpool and UnreadableErrors are the records that do not
	// decode (written by another version, restored from an old backup,
	// damaged), by id, oldest first.
	UnreadableSpool, UnreadableErrors []MPAUnreadable
}

// MPASpoolDue is a spool entry's id and when it is next tried.
type MPASpoolDue struct {
	ID          string
	NextAttempt time.Time
}

// MPAUnreadable is a stored record that does not decode: its id and why.
type MPAUnreadable struct {
	ID  string
	Err error
}

// MPARecovery lists, in one read transaction, the spool entries to
// schedule and every id the MPA must keep the body of. A record that does
// not decode is reported, not an error: one entry written by another
// version or damaged must not keep the MPA (and with it every message of
// the gateway) from starting. Such a record is left exactly as it is (it
// may be a message somebody acknowledged), and so is its body.
func (db *DB) MPARecovery() (MPARecovery, error) {
	var r MPARecovery
	err := db.bolt.View(func(tx *bolt.Tx) error {
		r = MPARecovery{}
		if err := tx.Bucket(bucketMPASpool).ForEach(func(k, v []byte) error {
			var e SpoolEntry
			if err := json.Unmarshal(v, &e); err != nil {
				r.UnreadableSpool = append(r.UnreadableSpool, MPAUnreadable{ID: string(k), Err: err})
				return nil
			}
			r.Due = append(r.Due, MPASpoolDue{ID: string(k), NextAttempt: e.NextAttempt})
			return nil
		}); err != nil {
			return err
		}
		return tx.Bucket(bucketMPAErrors).ForEach(func(k, v []byte) error {
			r.ErrorIDs = append(r.ErrorIDs, string(k))
			var e ErrorEntry
			if err := json.Unmarshal(v, &e); err != nil {
				r.UnreadableErrors = append(r.UnreadableErrors, MPAUnreadable{ID: string(k), Err: err})
			}
			return nil
		})
	})
	return r, err
}

// MPAErrorList returns every error repository entry, oldest first.
func (db *DB) MPAErrorList() ([]ErrorEntry, error) {
	return listJSON[ErrorEntry](db, bucketMPAErrors)
}

// MPAErrorPage is a page of the error repository (MPAErrorPage).
type MPAErrorPage struct {
	Entries []ErrorEntry // at most the limit asked for, oldest first
	Total   int          // entries in the repository
	// Offset is where Entries start: the offset asked for, or the last
	// page's when that is past the end (entries deleted meanwhile).
	Offset int
	// IDs is every entry's id, oldest first, when asked for.
	IDs []string
	// Unreadable are the ids of the page's records that do not decode:
	// they keep their place (Offset, Total count them) and are left out
	// of Entries.
	Unreadable []string
}

// MPAErrorPage returns limit entries of the error repository from offset
// and the count of all, decoding only those: the MPA Repository page
// shows a page of a repository that holds 10,000 entries by default, and
// decoded all of them at every view. With ids it also returns every
// entry's id (keys only), which the confirmation of "all" names.
func (db *DB) MPAErrorPage(offset, limit int, ids bool) (MPAErrorPage, error) {
	var p MPAErrorPage
	err := db.bolt.View(func(tx *bolt.Tx) error {
		p = MPAErrorPage{}
		c := tx.Bucket(bucketMPAErrors).Cursor()
		for k, _ := c.First(); k != nil; k, _ = c.Next() {
			p.Total++
			if ids {
				p.IDs = append(p.IDs, string(k))
			}
		}
		if limit <= 0 {
			return nil
		}
		// Only an offset past the end moves (to the last page): the API
		// pages by any offset, and one inside the repository starts there.
		if p.Offset = max(offset, 0); p.Offset >= p.Total {
			p.Offset = max((p.Total-1)/limit*limit, 0)
		}
		i := 0
		for k, v := c.First(); k != nil && len(p.Entries)+len(p.Unreadable) < limit; k, v = c.Next() {
			if i++; i <= p.Offset {
				continue
			}
			var e ErrorEntry
			if err := json.Unmarshal(v, &e); err != nil {
				p.Unreadable = append(p.Unreadable, string(k))
				continue
			}
			p.Entries = append(p.Entries, e)
		}
		return nil
	})
	return p, err
}

// MPAErrorSelection is what MPAErrorSelect found.
type MPAErrorSelection struct {
	Entries []ErrorEntry // the first entries of the selection, at most the limit asked for
	Count   int          // distinct ids in the selection
	// Missing is the first id that is not in the repository (then
	// Entries is empty).
	Missing string
	// Unreadable are the ids among the first limit whose records do not
	// decode: they count in Count and are left out of Entries.
	Unreadable []string
}

// MPAErrorSelect looks up a selection of error-repository ids (each once,
// in the order given) and decodes at most limit of their entries: the
// confirmation of a selection of up to MaxErrorIDs shows a page of it.
func (db *DB) MPAErrorSelect(ids []string, limit int) (MPAErrorSelection, error) {
	var sel MPAErrorSelection
	err := db.bolt.View(func(tx *bolt.Tx) error {
		sel = MPAErrorSelection{}
		b := tx.Bucket(bucketMPAErrors)
		seen := make(map[string]bool, len(ids))
		for _, id := range ids {
			if seen[id] {
				continue
			}
			seen[id] = true
			v := b.Get([]byte(id))
			if v == nil {
				sel = MPAErrorSelection{Missing: id}
				return nil
			}
			sel.Count++
			if len(sel.Entries)+len(sel.Unreadable) < limit {
				var e ErrorEntry
				if err := json.Unmarshal(v, &e); err != nil {
					sel.Unreadable = append(sel.Unreadable, id)
					continue
				}
				sel.Entries = append(sel.Entries, e)
			}
		}
		return nil
	})
	return sel, err
}

// MPAErrorGet returns one error repository entry or ErrNotFound.
func (db *DB) MPAErrorGet(id string) (ErrorEntry, error) {
	var e ErrorEntry
	err := db.bolt.View(func(tx *bolt.Tx) error {
		found, err := getJSON(tx, bucketMPAErrors, []byte(id), &e)
		if err == nil && !found {
			err = NotFound("Error-repository entry %s does not exist", id)
		}
		return err
	})
	return e, err
}

// errorIDs resolves the ids an error action applies to: all of them, or
// the given ones, each of which must exist (else ErrNotFound, nothing done).
func errorIDs(tx *bolt.Tx, ids []string, all bool) ([][]byte, error) {
	b := tx.Bucket(bucketMPAErrors)
	var keys [][]byte
	if all {
		err := b.ForEach(func(k, _ []byte) error {
			keys = append(keys, append([]byte(nil), k...))
			return nil
		})
		return keys, err
	}
	seen := map[string]bool{}
	for _, id := range ids {
		if seen[id] {
			continue
		}
		seen[id] = true
		if b.Get([]byte(id)) == nil {
			// Most often another administrator was quicker: say so, and
			// that the other ids were left alone too.
			return nil, NotFound("Error-repository entry %s does not exist (any more: it may have been requeued or deleted meanwhile); nothing was done", id)
		}
		keys = append(keys, []byte(id))
	}
	return keys, nil
}

// MaxErrorIDs bounds the ids of one error-repository action: ten times
// the MPA's default quota of 10,000 entries. A selection that large is
// not one anybody ticks; a bigger repository is emptied with "all". The
// bound keeps a request from making the action look up millions of keys
// in one write transaction.
const MaxErrorIDs = 100000

func checkIDs(ids []string, all bool) error {
	if all {
		return nil
	}
	if len(ids) == 0 {
		return Invalid("ids", "Select at least one message (ids is empty).")
	}
	if len(ids) > MaxErrorIDs {
		return Invalid("ids", "Select at most %d messages at once (ids names %d).", MaxErrorIDs, len(ids))
	}
	for _, id := range ids {
		if !ValidSpoolID(id) {
			return Invalid("ids", "The id %q is not an MPA message id.", id)
		}
	}
	return nil
}

// MPAErrorDelete removes error entries (the given ids, or all) with their
// inline bodies and returns the removed ids; the caller removes body files
// afterwards. An entry whose record does not decode (another version's,
// or damaged) is removed like any other: deleting it is the only way an
// administrator has to clear it. An unknown id fails the whole action
// with ErrNotFound. It commits in chunks (eachError): with an error, the
// ids it returns were removed all the same.
func (db *DB) MPAErrorDelete(ids []string, all bool) ([]string, error) {
	return db.eachError(ids, all, func(tx *bolt.Tx, k []byte, _ *ErrorEntry) error {
		if err := tx.Bucket(bucketMPAErrors).Delete(k); err != nil {
			return err
		}
		return tx.Bucket(bucketMPABodies).Delete(k)
	})
}

// MPAErrorForget removes the error entries of ids that exist, with their
// inline bodies, and returns the removed ids: a refused restore takes back
// the entries it had added (RestoreFrom). Unlike MPAErrorDelete, an id
// that is gone (deleted or requeued meanwhile) is no error.
func (db *DB) MPAErrorForget(ids []string) ([]string, error) {
	defer db.mpaGen.Add(1) // after the commit (MPACounts)
	var done []string
	err := db.bolt.Update(func(tx *bolt.Tx) error {
		done = done[:0]
		errs, bodies := tx.Bucket(bucketMPAErrors), tx.Bucket(bucketMPABodies)
		u, err := loadErrorUsage(tx)
		if err != nil {
			return err
		}
		for _, id := range ids {
			k := []byte(id)
			v := errs.Get(k)
			if v == nil {
				continue
			}
			// A record that does not decode goes too (errorRecordSize):
			// the restore added it as it is.
			size := errorRecordSize(v)
			if err := errs.Delete(k); err != nil {
				return err
			}
			if err := bodies.Delete(k); err != nil {
				return err
			}
			u.entries, u.bytes = u.entries-1, u.bytes-size
			done = append(done, id)
		}
		return u.put(tx)
	})
	if err != nil {
		return nil, fmt.Errorf("remove restored error entries: %w", err)
	}
	return done, nil
}

// MPAErrorRequeue moves error entries (the given ids, or all) back into the
// spool as waiting entries with no attempts: they are processed as new
// attempts. It returns the moved ids. An unknown id fails the whole action
// with ErrNotFound. It commits in chunks (eachError): with an error, the
// ids it returns were moved all the same. An entry whose record does not
// decode has no envelope to requeue with: it stays where it is, the
// others are moved, and the error (ErrConflict) names it and says to
// delete it.
func (db *DB) MPAErrorRequeue(ids []string, all bool, now time.Time) ([]string, error) {
	return db.eachError(ids, all, func(tx *bolt.Tx, k []byte, e *ErrorEntry) error {
		if e == nil {
			return errUnreadableEntry
		}
		s := SpoolEntry{ID: e.ID, Envelope: e.Envelope, Size: e.Size, Received: e.Received,
			State: SpoolWaiting, NextAttempt: now}
		if err := putJSON(tx, bucketMPASpool, k, &s); err != nil {
			return err
		}
		return tx.Bucket(bucketMPAErrors).Delete(k)
	})
}

// errorChunkEntries and errorChunkBytes bound one transaction of an
// error-repository action (eachError), as restoreChunkBytes bounds a
// restore's: the MPA needs the writer for every message it takes, hands
// on or gives up (its group commit, batch.go), and one transaction that
// requeued or deleted a whole repository held it, and with it Postfix's
// sessions to the MPA and every worker, for as long as it took (requeue
// all of 20,000 entries of 20 recipients: 1.0 s; of 2,000 entries of
// 1,000 recipients: 1.3 s). A chunk is a few milliseconds and one commit.
const (
	errorChunkEntries = 256
	errorChunkBytes   = 1 << 20
)

// eachError runs fn on the error entries ids (or all) and returns the ids
// done, sorted. The ids are resolved in the first transaction, which also
// does the first chunk: an unknown id fails the action before anything
// is done, as when two administrators act on the same entry. The rest
// follows in chunks of their own (errorChunkEntries, errorChunkBytes),
// each moving its entries whole, so that the MPA keeps taking and handing
// on mail meanwhile; "all" is what the repository held at the start, and
// an entry gone by the time its chunk commits (another administrator was
// quicker) is left out of the count. A chunk that fails ends the action
// with the ids done so far and the error: those are done for good, and
// the caller must still treat them as done. fn takes the entry out of
// mpa_errors: its chunk's usage record counts it out (mpausage.go).
//
// An entry whose record does not decode (another version's, or damaged)
// is passed to fn as nil. fn returns errUnreadableEntry to leave it as it
// is: the action goes on with the others, and ends with an error
// (ErrConflict) naming every entry so left.
func (db *DB) eachError(ids []string, all bool, fn func(tx *bolt.Tx, k []byte, e *ErrorEntry) error) ([]string, error) {
	if err := checkIDs(ids, all); err != nil {
		return nil, err
	}
	var (
		keys [][]byte // still to do; nil until the first transaction resolved them
		done []string
		left []string // records that do not decode, which fn left
	)
	for first := true; first || len(keys) > 0; first = false {
		var chunk, kept []string
		n := 0 // keys the chunk went through
		err := db.bolt.Update(func(tx *bolt.Tx) error {
			chunk, kept, n = chunk[:0], kept[:0], 0
			todo := keys
			if first {
				var err error
				if todo, err = errorIDs(tx, ids, all); err != nil {
					return err
				}
				keys = todo
			}
			b := tx.Bucket(bucketMPAErrors)
			u, err := loadErrorUsage(tx)
			if err != nil {
				return err
			}
			size := 0
			for n < len(todo) && n < errorChunkEntries && size < errorChunkBytes {
				k := todo[n]
				n++
				v := b.Get(k)
				if v == nil {
					continue // requeued or deleted since the action began
				}
				size += len(k) + len(v)
				var e ErrorEntry
				ep, esize := &e, int64(0)
				if err := json.Unmarshal(v, &e); err != nil {
					ep, esize = nil, errorRecordSize(v)
				} else {
					esize = entryUsageSize(e.Size)
				}
				if err := fn(tx, k, ep); errors.Is(err, errUnreadableEntry) {
					kept = append(kept, string(k))
					continue
				} else if err != nil {
					return err
				}
				u.entries, u.bytes = u.entries-1, u.bytes-esize
				chunk = append(chunk, string(k))
			}
			return u.put(tx)
		})
		db.mpaGen.Add(1) // after the commit (MPACounts)
		if err != nil {
			sort.Strings(done)
			return done, err
		}
		done = append(done, chunk...)
		left = append(left, kept...)
		keys = keys[n:]
		if hook := db.errorChunk.Load(); hook != nil && len(keys) > 0 {
			if err := (*hook)(len(done)); err != nil {
				sort.Strings(done)
				return done, err
			}
		}
	}
	sort.Strings(done)
	if len(left) > 0 {
		return done, unreadableEntries(left)
	}
	return done, nil
}

// errUnreadableEntry is what an eachError action returns for an entry
// whose record does not decode and that it leaves as it is.
var errUnreadableEntry = errors.New("error entry does not decode")

// maxNamedUnreadable bounds the ids unreadableEntries names.
const maxNamedUnreadable = 10

// NamedIDs names ids in a sentence: the first most of them, then "and N
// more" for the rest, so that an answer or a log line about many records
// stays short.
func NamedIDs(ids []string, most int) string {
	named := strings.Join(ids[:min(len(ids), most)], ", ")
	if len(ids) > most {
		named += fmt.Sprintf(" and %d more", len(ids)-most)
	}
	return named
}

// UnreadableError is the end of an error-repository action that did
// every entry but those whose records do not decode, which it left as
// they are (a requeue: they have no envelope). It is a conflict
// (ErrConflict) whose sentence names them and says to delete them; IDs
// are all of them.
type UnreadableError struct {
	UserError
	IDs []string
}

// Unwrap makes the error match *UserError (and its kind).
func (e *UnreadableError) Unwrap() error { return &e.UserError }

func (e *UnreadableError) Error() string { return e.Msg }

// unreadableEntries is the UnreadableError of the entries an action left
// because their records do not decode: its sentence names them (the
// first maxNamedUnreadable) and says what the administrator can do.
func unreadableEntries(ids []string) error {
	sort.Strings(ids)
	named := NamedIDs(ids, maxNamedUnreadable)
	msg := Sentence("The error-repository entries %s cannot be read (they were written by another postdeck version, or are damaged), so they cannot be requeued; they were left as they are: delete them.", named)
	if len(ids) == 1 {
		msg = Sentence("The error-repository entry %s cannot be read (it was written by another postdeck version, or is damaged), so it cannot be requeued; it was left as it is: delete it.", named)
	}
	return &UnreadableError{UserError: UserError{Kind: ErrConflict, Msg: msg}, IDs: ids}
}

// MPACounts returns the number of spool and error repository entries.
func (db *DB) MPACounts() (spool, errors int, err error) {
	gen := db.mpaGen.Load() // before the read: a commit after it moves gen
	if c := db.mpaCounts.Load(); c != nil && c.gen == gen {
		return c.spool, c.errors, nil
	}
	err = db.bolt.View(func(tx *bolt.Tx) error {
		spool = tx.Bucket(bucketMPASpool).Stats().KeyN
		errors = tx.Bucket(bucketMPAErrors).Stats().KeyN
		return nil
	})
	if err == nil {
		db.mpaCounts.Store(&cachedMPACounts{gen: gen, spool: spool, errors: errors})
	}
	return spool, errors, err
}

// cachedMPACounts is MPACounts' last answer and the generation it was
// counted at.
type cachedMPACounts struct {
	gen           uint64
	spool, errors int
}

// MPAPipelineGet returns the stored pipeline configuration, or
// DefaultMPAPipeline when none was saved.
func (db *DB) MPAPipelineGet() (MPAPipeline, error) {
	var p MPAPipeline
	err := db.bolt.View(func(tx *bolt.Tx) error {
		found, err := getJSON(tx, bucketMPAConfig, keyMPAPipeline, &p)
		if err == nil && !found {
			p = DefaultMPAPipeline()
		}
		return err
	})
	if p.Templates == nil {
		p.Templates = []MPATemplate{}
	}
	return p, err
}

// MPAPipelinePut stores the pipeline configuration as given. It does not
// validate: mpa.Server.PutPipeline does, then calls this.
func (db *DB) MPAPipelinePut(p MPAPipeline) error {
	return db.bolt.Update(func(tx *bolt.Tx) error {
		return putJSON(tx, bucketMPAConfig, keyMPAPipeline, &p)
	})
}
