package cluster

import (
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"

	"postdeck/cluster/report"
	"postdeck/store"
)

// mirror is this node's copy of the cluster's shared keys (everything
// under the prefix but status/ and election/), kept current by the watch.
type mirror struct {
	rev       int64 // etcd revision the copy is at
	markerRev int64 // modification revision of rev: the configuration's revision
	markerSeq int64 // version of rev: how many configuration revisions there were
	marker    report.RevMarker
	kv        map[string][]byte // relative key -> value
	// statuses are the nodes' status keys as the watch delivers them (the
	// watch covers the whole prefix), by node: the dashboard and /metrics
	// read the cluster's health from here without asking etcd.
	statuses map[string]watchedStatus
}

// watchedStatus is a node's status key: its value and the lease it is
// under (0: none, which a node never writes).
type watchedStatus struct {
	raw   []byte
	lease int64
}

func newMirror() *mirror {
	return &mirror{kv: map[string][]byte{}, statuses: map[string]watchedStatus{}}
}

// relevant reports whether a relative key belongs in the mirror.
func relevant(rel string) bool {
	return !strings.HasPrefix(rel, dirStatus) && !strings.HasPrefix(rel, dirElection) && !strings.HasPrefix(rel, dirAudit)
}

func (m *mirror) clone() *mirror {
	c := *m
	c.kv = maps.Clone(m.kv)
	c.statuses = maps.Clone(m.statuses)
	return &c
}

// ready reports whether the cluster was initialised (cluster init done).
func (m *mirror) ready() bool {
	var info report.ClusterInfo
	return json.Unmarshal(m.kv[keyMeta], &info) == nil && info.State == "ready"
}

// node returns a node's record (ok false when it has none).
func (m *mirror) node(name string) (report.NodeRecord, bool) {
	raw, ok := m.kv[dirNodes+name]
	if !ok {
		return report.NodeRecord{}, false
	}
	var r report.NodeRecord
	if err := json.Unmarshal(raw, &r); err != nil {
		return report.NodeRecord{}, false
	}
	return r, true
}

// nodes returns every node's record, by name.
func (m *mirror) nodes() []report.NodeRecord {
	var out []report.NodeRecord
	for _, k := range slices.Sorted(maps.Keys(m.kv)) {
		if name, ok := strings.CutPrefix(k, dirNodes); ok {
			if r, ok := m.node(name); ok {
				out = append(out, r)
			}
		}
	}
	return out
}

// undecodable is a value of the cluster's configuration that does not
// decode. Nodes write only what they decoded: it was changed outside
// postdeck (etcdctl), and every change is refused until it is put right
// (Node.unreadable says how).
type undecodable struct {
	what string // "settings", "map NAME"
	rel  string // its key under the prefix
	err  error
}

func (e *undecodable) Error() string { return fmt.Sprintf("decode cluster %s: %v", e.what, e.err) }

func (e *undecodable) Unwrap() error { return e.err }

// sharedSettings decodes the cluster's settings document.
func (m *mirror) sharedSettings() (store.Settings, error) {
	s := store.DefaultSettings()
	if raw, ok := m.kv[keySettings]; ok {
		if err := json.Unmarshal(raw, &s); err != nil {
			return s, &undecodable{what: "settings", rel: keySettings, err: err}
		}
	}
	return s, nil
}

// state builds the configuration node renders: the shared settings with
// node's own values laid over them, the documents and the maps.
func (m *mirror) state(node string) (store.State, error) {
	var st store.State
	s, err := m.sharedSettings()
	if err != nil {
		return st, err
	}
	if rec, ok := m.node(node); ok {
		if s, err = overlay(s, rec.Values); err != nil {
			return st, err
		}
	}
	st.Settings = s
	st.MainConfig = string(m.kv[keyMainConfig])
	st.MasterConfig = string(m.kv[keyMaster])
	st.Maps = []store.Map{}
	for _, k := range slices.Sorted(maps.Keys(m.kv)) {
		if !strings.HasPrefix(k, dirMaps) {
			continue
		}
		var mp store.Map
		if err := json.Unmarshal(m.kv[k], &mp); err != nil {
			return st, &undecodable{what: "map " + strings.TrimPrefix(k, dirMaps), rel: k, err: err}
		}
		st.Maps = append(st.Maps, mp)
	}
	return st, nil
}

// shared returns the shared buckets' content.
func (m *mirror) shared() store.Shared {
	out := store.Shared{}
	for _, b := range store.SharedBuckets {
		out[b] = map[string][]byte{}
	}
	for k, v := range m.kv {
		rest, ok := strings.CutPrefix(k, dirShared)
		if !ok {
			continue
		}
		bucket, key, ok := strings.Cut(rest, "/")
		if !ok || out[bucket] == nil {
			continue
		}
		out[bucket][key] = v
	}
	return out
}

// overlay returns s with the given fields (API names) set from values.
func overlay(s store.Settings, values map[string]json.RawMessage) (store.Settings, error) {
	if len(values) == 0 {
		return s, nil
	}
	fields, err := settingsFields(s)
	if err != nil {
		return s, err
	}
	maps.Copy(fields, values)
	raw, err := json.Marshal(fields)
	if err != nil {
		return s, err
	}
	var out store.Settings
	if err := json.Unmarshal(raw, &out); err != nil {
		return s, fmt.Errorf("per-node settings: %w", err)
	}
	return out, nil
}

// settingsFields is s as API field name -> JSON value.
func settingsFields(s store.Settings) (map[string]json.RawMessage, error) {
	raw, err := json.Marshal(s)
	if err != nil {
		return nil, err
	}
	var fields map[string]json.RawMessage
	return fields, json.Unmarshal(raw, &fields)
}

// SettingsFieldNames are the settings' API field names, the names
// --cluster-per-node accepts.
func SettingsFieldNames() []string {
	f, _ := settingsFields(store.DefaultSettings())
	return slices.Sorted(maps.Keys(f))
}

// splitSettings divides settings a node saves into what goes to the
// cluster's settings document (the per-node fields keep the shared
// document's values) and the node's own values.
func splitSettings(next, shared store.Settings, perNode []string) (store.Settings, map[string]json.RawMessage, error) {
	nf, err := settingsFields(next)
	if err != nil {
		return next, nil, err
	}
	sf, err := settingsFields(shared)
	if err != nil {
		return next, nil, err
	}
	own := map[string]json.RawMessage{}
	for _, f := range perNode {
		if v, ok := nf[f]; ok {
			own[f] = v
			nf[f] = sf[f]
		}
	}
	raw, err := json.Marshal(nf)
	if err != nil {
		return next, nil, err
	}
	var out store.Settings
	return out, own, json.Unmarshal(raw, &out)
}

// The JSON field names this version knows of the settings and of a map.
var (
	settingsKnown = jsonFields(reflect.TypeFor[store.Settings]())
	mapKnown      = jsonFields(reflect.TypeFor[store.Map]())
)

func jsonFields(t reflect.Type) map[string]bool {
	out := map[string]bool{}
	for f := range t.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name != "" && name != "-" {
			out[name] = true
		}
	}
	return out
}

// keepUnknown returns next, a value as this version writes it, with the
// fields of old (the cluster's copy) that this version does not know: a
// newer node wrote them during a rolling upgrade, and a change saved on
// this node must not drop them (the newer nodes render them). next is
// returned as it is when old has none.
func keepUnknown(old, next []byte, known map[string]bool) ([]byte, error) {
	var oldFields map[string]json.RawMessage
	if len(old) == 0 || json.Unmarshal(old, &oldFields) != nil {
		return next, nil
	}
	var extra []string
	for k := range oldFields {
		if !known[k] {
			extra = append(extra, k)
		}
	}
	if len(extra) == 0 {
		return next, nil
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(next, &fields); err != nil {
		return nil, err
	}
	for _, k := range extra {
		fields[k] = oldFields[k]
	}
	return json.Marshal(fields)
}
