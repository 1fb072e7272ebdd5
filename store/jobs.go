package store

import (
	"sort"
	"time"

	bolt "go.etcd.io/bbolt"
)

// SPFSource is a domain whose SPF record the refresher flattens into a cidr
// map. The map name is the key: one source per map.
type SPFSource struct {
	Domain   string    `json:"domain"`
	Map      string    `json:"map"`
	Schedule string    `json:"schedule"` // cron spec, UTC, optional seconds field
	Value    string    `json:"value"`    // right-hand side of every map line, e.g. "OK"
	Builtin  bool      `json:"builtin"`  // shipped default; cannot be removed
	Created  time.Time `json:"created"`
}

// PrefixChange is one change a refresh made to a map.
type PrefixChange struct {
	At      time.Time `json:"at"`
	Added   []string  `json:"added,omitempty"`
	Removed []string  `json:"removed,omitempty"`
}

// JobStatus is the persistent state of one job, kept across restarts so
// that the console can say when a job last ran and why it kept the old map.
type JobStatus struct {
	Job         string         `json:"job"`
	LastRun     time.Time      `json:"last_run"`
	LastSuccess time.Time      `json:"last_success"`
	Outcome     string         `json:"outcome"` // "updated", "unchanged", "failed"
	LastError   string         `json:"last_error,omitempty"`
	Warnings    []string       `json:"warnings,omitempty"`
	PrefixCount int            `json:"prefix_count"`
	Queries     int            `json:"queries"`
	DurationMS  int64          `json:"duration_ms"`
	Changes     []PrefixChange `json:"changes,omitempty"` // most recent first

	// ConsecutiveFailures counts the failed runs since the last success.
	ConsecutiveFailures int `json:"consecutive_failures,omitempty"`
	// FailingSince is when the first of those failed runs started (zero
	// after a success, and for failures counted before it was kept).
	FailingSince time.Time `json:"failing_since,omitzero"`
}

// SPFJobName is the jobs-bucket key of the refresh job of map name.
func SPFJobName(mapName string) string { return "spf:" + mapName }

// ListSPFSources returns every SPF source sorted by map name.
func (db *DB) ListSPFSources() ([]SPFSource, error) {
	var out []SPFSource
	err := db.bolt.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketSPFSources).ForEach(func(k, _ []byte) error {
			var s SPFSource
			if _, err := getJSON(tx, bucketSPFSources, k, &s); err != nil {
				return err
			}
			out = append(out, s)
			return nil
		})
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Map < out[j].Map })
	return out, err
}

// GetSPFSource returns the source of map name or ErrNotFound.
func (db *DB) GetSPFSource(name string) (SPFSource, error) {
	var s SPFSource
	err := db.bolt.View(func(tx *bolt.Tx) error {
		found, err := getJSON(tx, bucketSPFSources, []byte(name), &s)
		if err == nil && !found {
			err = NotFound("There is no SPF source for map %s", name)
		}
		return err
	})
	return s, err
}

// CreateSPFSource stores a new source; a source for the same map is
// ErrConflict. Callers validate s first.
func (db *DB) CreateSPFSource(s SPFSource) error {
	defer db.spfGen.Add(1) // after the commit: a reader meanwhile reads again
	if s.Map == "" {
		return Invalid("map", "map name is required")
	}
	return db.bolt.Update(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketSPFSources).Get([]byte(s.Map)) != nil {
			return Conflict("An SPF source for map %s already exists", s.Map)
		}
		return putJSON(tx, bucketSPFSources, []byte(s.Map), s)
	})
}

// PutSPFSource creates or replaces the source of s.Map.
func (db *DB) PutSPFSource(s SPFSource) error {
	defer db.spfGen.Add(1) // after the commit: a reader meanwhile reads again
	if s.Map == "" {
		return Invalid("map", "map name is required")
	}
	return db.bolt.Update(func(tx *bolt.Tx) error {
		return putJSON(tx, bucketSPFSources, []byte(s.Map), s)
	})
}

// DeleteSPFSource removes the source of map name and its job status in one
// transaction. A missing source is ErrNotFound.
func (db *DB) DeleteSPFSource(name string) error {
	defer db.spfGen.Add(1) // after the commit: a reader meanwhile reads again
	return db.bolt.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketSPFSources)
		if b.Get([]byte(name)) == nil {
			return NotFound("There is no SPF source for map %s", name)
		}
		if err := b.Delete([]byte(name)); err != nil {
			return err
		}
		return tx.Bucket(bucketJobs).Delete([]byte(SPFJobName(name)))
	})
}

// GetJobStatus returns the status of job name or ErrNotFound when the job
// has never run.
func (db *DB) GetJobStatus(name string) (JobStatus, error) {
	var st JobStatus
	err := db.bolt.View(func(tx *bolt.Tx) error {
		found, err := getJSON(tx, bucketJobs, []byte(name), &st)
		if err == nil && !found {
			err = NotFound("Job %s has never run", name)
		}
		return err
	})
	return st, err
}

// PutJobStatus stores st under st.Job.
func (db *DB) PutJobStatus(st JobStatus) error {
	defer db.spfGen.Add(1) // after the commit: a reader meanwhile reads again
	if st.Job == "" {
		return Invalid("job", "job name is required")
	}
	return db.bolt.Update(func(tx *bolt.Tx) error {
		return putJSON(tx, bucketJobs, []byte(st.Job), st)
	})
}
