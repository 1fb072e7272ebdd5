package jobs

import (
	"context"
	"fmt"
	"sync"
	"time"

	"postdeck/panics"
	"postdeck/store"
)

// maxGather bounds how long a refreshed map waits for the refreshes
// running beside it before it is saved without them.
var maxGather = 5 * time.Second // a variable for tests

// burst saves the maps of refreshes that run together in one call, so
// that they go live in one apply and one reload: both sources refresh at
// start and on the same schedule, and each apply runs the open-relay
// probe, reloads Postfix and checks its listeners. A refresh joins before
// it asks DNS; once its map is ready it waits until every refresh that
// joined has its map ready too, or has ended without one (leave), or
// maxGather has passed; the last one saves them all.
type burst struct {
	mu      sync.Mutex
	running int          // refreshes that joined and have not saved or left
	waiting []*burstSave // maps ready, not yet handed to a save
}

// burstSave is one map waiting in a burst, and its answer.
type burstSave struct {
	actor string
	m     store.Map
	done  chan error // buffered: written once
}

// burstMember is one refresh's place in a burst, from join until it
// saves its map or leaves without one, whichever comes first.
type burstMember struct {
	b    *burst
	maps MapSaver
	out  bool // saved or left: no longer counted
}

// join counts a refresh in.
func (b *burst) join(maps MapSaver) *burstMember {
	b.mu.Lock()
	b.running++
	b.mu.Unlock()
	return &burstMember{b: b, maps: maps}
}

// leave counts out a refresh that saves no map (nothing when it saved or
// left already); when it was the last one running, it saves what waits.
func (mb *burstMember) leave(ctx context.Context) {
	if mb.out {
		return
	}
	mb.out = true
	b := mb.b
	b.mu.Lock()
	b.running--
	var batch []*burstSave
	if b.running == 0 {
		batch, b.waiting = b.waiting, nil
	}
	b.mu.Unlock()
	saveAll(ctx, mb.maps, batch)
}

// save counts a refresh out with its map ready and returns once the map
// is saved (by this refresh or by the last of its burst).
func (mb *burstMember) save(ctx context.Context, actor string, m store.Map) error {
	mb.out = true
	b, maps := mb.b, mb.maps
	s := &burstSave{actor: actor, m: m, done: make(chan error, 1)}
	b.mu.Lock()
	b.running--
	b.waiting = append(b.waiting, s)
	var batch []*burstSave
	if b.running == 0 {
		batch, b.waiting = b.waiting, nil
	}
	b.mu.Unlock()
	if batch != nil {
		saveAll(ctx, maps, batch)
		return <-s.done
	}
	timer := time.NewTimer(maxGather)
	defer timer.Stop()
	select {
	case err := <-s.done:
		return err
	case <-timer.C:
	}
	// The others are slow (a DNS server that does not answer): what waits
	// is saved now, this map with it unless a save took it meanwhile.
	b.mu.Lock()
	batch, b.waiting = b.waiting, nil
	b.mu.Unlock()
	saveAll(ctx, maps, batch)
	return <-s.done
}

// saveAll saves a burst's maps, one PutMaps per actor (scheduled
// refreshes and one an administrator asked for can meet), and answers
// each. A caller that goes away does not fail the others' saves, and a
// panic in a save answers every map still waiting (none waits forever).
func saveAll(ctx context.Context, maps MapSaver, batch []*burstSave) {
	defer func() {
		if r := recover(); r != nil {
			panics.Recovered(panics.Jobs)
			for _, s := range batch {
				if len(s.done) == 0 {
					s.done <- fmt.Errorf("save map %s: internal error: %v", s.m.Name, r)
				}
			}
		}
	}()
	ctx = context.WithoutCancel(ctx)
	for len(batch) > 0 {
		actor := batch[0].actor
		var mine, rest []*burstSave
		for _, s := range batch {
			if s.actor == actor {
				mine = append(mine, s)
			} else {
				rest = append(rest, s)
			}
		}
		ms := make([]store.Map, len(mine))
		for i, s := range mine {
			ms[i] = s.m
		}
		errs := maps.PutMaps(ctx, actor, ms)
		for i, s := range mine {
			s.done <- errs[i]
		}
		batch = rest
	}
}
