package cluster

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"postdeck/store"
)

// bigMap is a hash map of about size bytes.
func bigMap(name string, size int) store.Map {
	var b strings.Builder
	for i := 0; b.Len() < size; i++ {
		fmt.Fprintf(&b, "user%07d@example.test OK\n", i)
	}
	return store.Map{Name: name, Type: "hash", Content: b.String()}
}

// TestLargeChangeWithinEtcdsLimit: a change below etcd's
// --max-request-bytes (8 MiB in etcdtest, 10 MiB as the README sets it) is
// committed and reaches the node's copy; one above is refused with the
// sentence that says it is too large, not as an unreachable cluster, and
// the node still follows the cluster.
func TestLargeChangeWithinEtcdsLimit(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cfg, db := initOneNode(ctx, t)
	n, r := startNode(ctx, t, cfg, db)
	waitUntil(t, "the node applied the seeded configuration", func() bool { return r.lastRev() > 0 })

	commit := func(mp store.Map) (int64, error) {
		for attempt := 0; attempt < 5; attempt++ {
			base, rev, err := n.Latest(ctx)
			if err != nil {
				return 0, err
			}
			next := base
			next.Maps = append([]store.Map{}, base.Maps...)
			next.Maps = append(next.Maps, mp)
			got, wait, err := n.Commit(ctx, rev, base, next, "admin", "map "+mp.Name, false)
			if err != nil || got != 0 {
				return got, err
			}
			if err := n.WaitRevision(ctx, wait); err != nil {
				return 0, err
			}
		}
		return 0, errors.New("no attempt committed")
	}

	// About 3 MiB: more than the client's default send limit (2 MiB),
	// less than etcd's.
	got, err := commit(bigMap("three", 3<<20))
	if err != nil || got == 0 {
		t.Fatalf("a 3 MiB map under an 8 MiB --max-request-bytes: revision %d, %v", got, err)
	}
	waitUntil(t, "the node applied the large map", func() bool { return r.lastRev() >= got })

	// About 9 MiB: more than etcd takes.
	_, err = commit(bigMap("nine", 9<<20))
	if !errors.Is(err, store.ErrInvalid) || !strings.Contains(err.Error(), "larger than the cluster takes in one transaction") {
		t.Fatalf("a 9 MiB map: %v", err)
	}
	if !n.Connected() {
		t.Fatal("the node says it is cut off after a change that was too large")
	}
}
