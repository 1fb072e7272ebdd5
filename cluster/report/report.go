// Package report holds the plain types a cluster node reports and the
// cluster view shows (no etcd, no gRPC), so that package admin and the
// console can name them without linking etcd's client.
package report

import (
	"encoding/json"
	"time"
)

// ClusterInfo is the cluster's meta key: written by `postdeck cluster
// init`, "seeding" while the first node's database is copied in, "ready"
// once it is complete.
type ClusterInfo struct {
	State   string    `json:"state"`
	By      string    `json:"by"`
	Created time.Time `json:"created"`
}

// RevMarker is the rev key: who made the last configuration change.
type RevMarker struct {
	Node   string    `json:"node"`
	Actor  string    `json:"actor"`
	Action string    `json:"action"`
	At     time.Time `json:"at"`
	// AllowOpenRelay: the administrator let the change through although
	// the open-relay probe found it relaying mail for strangers; every
	// node's apply allows it too.
	AllowOpenRelay bool `json:"allow_open_relay,omitempty"`
}

// NodeRecord is a node's entry in the cluster, written when it joins and
// kept until it is removed: its name, its console's address (for the
// cluster view), which settings are its own and their values.
type NodeRecord struct {
	Name   string    `json:"name"`
	API    string    `json:"api,omitempty"`
	Joined time.Time `json:"joined"`
	// PerNode are the settings (API field names) this node keeps for
	// itself; Values their values.
	PerNode []string                   `json:"per_node"`
	Values  map[string]json.RawMessage `json:"values"`
}

// Revision identifies a configuration revision: Rev is the etcd revision
// of its commit (the rev key's modification revision), Seq counts the
// configuration's revisions since the cluster was seeded (the rev key's
// version), Marker says who made it.
type Revision struct {
	Rev    int64     `json:"revision"`
	Seq    int64     `json:"seq"`
	Marker RevMarker `json:"marker"`
}

// Outcome is what a node made of a revision.
type Outcome struct {
	OK      bool   `json:"ok"`
	Result  string `json:"result"`  // applied, unchanged, refused, rolled back, failed
	Message string `json:"message"` // Postfix's own words when it refused
	// RetryAfter, when set, is how soon the node tries the same revision
	// again unless a newer one comes first: a cause of the node's own
	// that may pass (a full disk). Without it a node stayed on its last
	// good configuration until the next change or a restart.
	RetryAfter time.Duration `json:"-"`
}

// Counts are a node's Postfix state and its queue and MPA counts.
type Counts struct {
	PostfixRunning bool           `json:"postfix_running"`
	Queue          map[string]int `json:"queue,omitempty"`
	MPASpool       int            `json:"mpa_spool"`
	MPAErrors      int            `json:"mpa_errors"`
}

// NodeStatus is what a node reports about itself, under its lease: it
// disappears when the node stops renewing the lease.
type NodeStatus struct {
	Node           string         `json:"node"`
	API            string         `json:"api,omitempty"`
	Applied        int64          `json:"applied_revision"` // the last good configuration
	AppliedSeq     int64          `json:"applied_seq"`
	Tried          int64          `json:"tried_revision"` // the last revision it tried
	TriedSeq       int64          `json:"tried_seq"`
	Result         string         `json:"result"`
	Message        string         `json:"message,omitempty"`
	Failing        bool           `json:"failing"`
	PostfixRunning bool           `json:"postfix_running"`
	Queue          map[string]int `json:"queue,omitempty"`
	MPASpool       int            `json:"mpa_spool"`
	MPAErrors      int            `json:"mpa_errors"`
	SPFLeader      bool           `json:"spf_leader"`
	Updated        time.Time      `json:"updated"`
}

// View is the cluster as the console's cluster page and `postdeck cluster
// status` show it.
type View struct {
	Node      string `json:"node"` // the node that answers
	Prefix    string `json:"prefix"`
	Reachable bool   `json:"reachable"`
	Error     string `json:"error,omitempty"`
	// Revision is the newest configuration revision the answering node
	// knows; Seq counts revisions, and a node's lag is Seq minus its
	// applied Seq.
	Revision int64             `json:"revision"`
	Seq      int64             `json:"seq"`
	Last     RevMarker         `json:"last_change"`
	Nodes    []NodeView        `json:"nodes"`
	Requests map[string]uint64 `json:"etcd_requests"`
	// ViewRequests is how many requests this view made (after Requests
	// was read): what a reader of Requests subtracts from the next view.
	ViewRequests uint64 `json:"view_requests"`
}

// NodeView is one node in the view.
type NodeView struct {
	Name    string      `json:"name"`
	API     string      `json:"api,omitempty"`
	Joined  time.Time   `json:"joined"`
	PerNode []string    `json:"per_node"`
	Alive   bool        `json:"alive"` // its lease is live
	Lag     int64       `json:"lag"`   // revisions behind
	Status  *NodeStatus `json:"status,omitempty"`
	// Heartbeat is when the node last renewed its lease (estimated from
	// the lease's remaining time).
	Heartbeat time.Time `json:"heartbeat,omitzero"`
	// BehindSince, while Lag > 0, is the latest moment the node is known
	// to have been behind since: a node applying a change lags for a few
	// seconds, one that lags for minutes is stuck.
	BehindSince time.Time `json:"behind_since,omitzero"`
}
