package mta

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"postdeck/panics"
	"postdeck/store"
)

// A save of a big hash or btree map spends most of its time in postmap,
// and its content checks (validateMapContent, in the change's mutate) take
// a CPU for tens of milliseconds more before the apply gets to stage it.
// So putMap starts postmap on the new content first, in a directory of its
// own (startPrebuild), and the checks run meanwhile on the other CPU, as
// does the store's write of the content (store.StageMapContent). The
// apply's stage adopts the built file instead of building again when the
// bytes it stages are the ones built (adoptPrebuilt): the indexed file is
// built once. Whatever fails or differs falls back to the build in
// staging, so the prebuild changes how fast a save is, never what is
// checked or what goes live.
const (
	// prebuildMin is the content size from which a map is built ahead:
	// smaller ones build in a few milliseconds.
	prebuildMin = 256 << 10
	// prebuildName is the directory under the configuration directory
	// that holds the builds ahead, one temporary directory each.
	prebuildName = ".postdeck-prebuild"
)

// prebuild is one build ahead: data (the bytes Render writes for the map)
// built as TYPE.NAME.map in dir.
type prebuild struct {
	rel    string // maps.d/TYPE.NAME.map
	data   []byte
	dir    string
	cancel context.CancelFunc
	done   chan struct{} // closed when postmap ended
	err    error         // postmap failed or warned; set before done closes

	claimed bool // an apply took it (guarded by prebuilds.mu); it then removes dir

	// staged is the content written ahead into the store (StageMapContent)
	// beside postmap, for the state's commit to move into place; set
	// before stageDone closes.
	staged    store.StagedMap
	stageDone chan struct{}
}

// prebuilds are the builds ahead not yet dropped by their putMap.
type prebuilds struct {
	mu      sync.Mutex
	all     []*prebuild
	adopted int // builds ahead that went into staging, for tests
}

// startPrebuild starts postmap on mp's content in a directory of its own
// when mp is an indexed map of at least prebuildMin bytes, and returns
// what dropPrebuild must be given (nil when nothing was started).
func (m *Manager) startPrebuild(mp store.Map) *prebuild {
	if !indexedMap[mp.Type] || len(mp.Content) < prebuildMin || ValidMapName(mp.Name) != nil {
		return nil
	}
	parent := filepath.Join(m.inst.ConfigDir, prebuildName)
	if err := os.MkdirAll(parent, 0o700); err != nil {
		return nil
	}
	dir, err := os.MkdirTemp(parent, "map-")
	if err != nil {
		return nil
	}
	content := mp.Content // as Render writes it
	if !strings.HasSuffix(content, "\n") {
		content += "\n"
	}
	rel := MapFile(mp.Type, mp.Name)
	pb := &prebuild{rel: rel, data: []byte(content), dir: dir, done: make(chan struct{}), stageDone: make(chan struct{})}
	// postmap reads the main.cf of its -c directory: an empty one, as for
	// the dumps (docs/postfix.md), so that nothing of the live or staged
	// main.cf can make it warn or fail.
	src := filepath.Join(dir, filepath.Base(rel))
	old := time.Now().Add(-backdate)
	if err := os.WriteFile(filepath.Join(dir, "main.cf"), nil, 0o644); err != nil ||
		os.Chtimes(filepath.Join(dir, "main.cf"), old, old) != nil ||
		os.WriteFile(src, pb.data, 0o600) != nil {
		_ = os.RemoveAll(dir)
		return nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	pb.cancel = cancel
	m.prebuilt.mu.Lock()
	m.prebuilt.all = append(m.prebuilt.all, pb)
	m.prebuilt.mu.Unlock()
	go func() {
		defer close(pb.done)
		defer func() {
			if r := recover(); r != nil {
				panics.Recovered(panics.MTA)
				pb.err = fmt.Errorf("build %s ahead: internal error: %v", rel, r)
			}
		}()
		_, stderr, err := m.pfStaging(dir).Run(ctx, nil, "postmap", mp.Type+":"+src)
		if err == nil && hasProblem(stderr) {
			err = fmt.Errorf("postmap: %s", firstProblem(string(stderr)))
		}
		pb.err = err
	}()
	go func() {
		defer close(pb.stageDone)
		defer func() {
			if r := recover(); r != nil {
				panics.Recovered(panics.MTA)
			}
		}()
		staged, err := m.db.StageMapContent(mp.Name, mp.Content)
		if err != nil {
			m.log.Debug("map content not staged; the save writes it", "map", mp.Name, "err", err)
		}
		pb.staged = staged
	}()
	return pb
}

// dropPrebuild ends pb's life as far as its putMap is concerned: no apply
// can adopt it any more; unless one did, postmap is stopped when it still
// runs and the directory goes.
func (m *Manager) dropPrebuild(pb *prebuild) {
	if pb == nil {
		return
	}
	m.prebuilt.mu.Lock()
	for i, p := range m.prebuilt.all {
		if p == pb {
			m.prebuilt.all = append(m.prebuilt.all[:i], m.prebuilt.all[i+1:]...)
			break
		}
	}
	claimed := pb.claimed
	m.prebuilt.mu.Unlock()
	<-pb.stageDone
	if err := m.db.DropStagedMap(pb.staged); err != nil {
		m.log.Warn("drop the map content staged for a save", "err", err)
	}
	if claimed {
		return // the apply that took it removes it
	}
	pb.cancel()
	<-pb.done
	_ = os.RemoveAll(pb.dir)
}

// adoptPrebuilt moves a build ahead of exactly data into staging as rel
// and rel.db, and reports whether it did; false means build it there.
func (m *Manager) adoptPrebuilt(rel string, data []byte, staging string) bool {
	var pb *prebuild
	m.prebuilt.mu.Lock()
	for _, p := range m.prebuilt.all {
		if !p.claimed && p.rel == rel && bytes.Equal(p.data, data) {
			pb, p.claimed = p, true
			break
		}
	}
	m.prebuilt.mu.Unlock()
	if pb == nil {
		return false
	}
	defer os.RemoveAll(pb.dir)
	<-pb.done
	// The content staged in the store beside postmap is done by now, or
	// nearly: the state's commit after this apply moves it into place
	// only when it is there.
	<-pb.stageDone
	if pb.err != nil {
		m.log.Debug("map built ahead failed; building it in staging", "map", rel, "err", pb.err)
		return false
	}
	src := filepath.Join(pb.dir, filepath.Base(rel))
	dst := filepath.Join(staging, rel)
	if err := os.Rename(src+".db", dst+".db"); err != nil {
		return false
	}
	if err := os.Rename(src, dst); err != nil {
		_ = os.Remove(dst + ".db")
		return false
	}
	m.prebuilt.mu.Lock()
	m.prebuilt.adopted++
	m.prebuilt.mu.Unlock()
	return true
}
