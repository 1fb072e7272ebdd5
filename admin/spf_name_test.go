package admin

import (
	"context"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"

	"postdeck/jobs"
	"postdeck/store"
)

// TestSPFSourceNameCheckedFirst: a name no SPF source can have (not a map
// name) is an unknown source, answered before the refresher is asked:
// the refresher keeps a lock for every name it is asked about and uses
// the name as a database key. The refresher here is an empty one, which
// panics if called at all (its lock map is nil).
func TestSPFSourceNameCheckedFirst(t *testing.T) {
	s := New(Config{})
	s.SetRefresher(&jobs.Refresher{})
	ctx := context.Background()
	names := []string{"", ".", "..", "../x", "a/b", "/etc/passwd", "x\x00y", "-lead", "a b", "map\n", strings.Repeat("a", 101)}
	for range 1000 {
		b := make([]byte, 1+rand.IntN(40))
		for i := range b {
			b[i] = byte(rand.IntN(256))
		}
		b[0] = '/' // never a map name
		names = append(names, string(b))
	}
	call := func(op string, f func() error) {
		t.Helper()
		defer func() {
			if r := recover(); r != nil {
				t.Fatalf("%s reached the refresher: %v", op, r)
			}
		}()
		err := f()
		var ue *store.UserError
		if !errors.Is(err, store.ErrNotFound) || !errors.As(err, &ue) || !strings.Contains(ue.Msg, "no SPF source") {
			t.Fatalf("%s: %v, want not found", op, err)
		}
	}
	for _, name := range names {
		call("refresh "+strings.ToValidUTF8(name, "?"), func() error { _, err := s.RefreshSPF(ctx, Root, name); return err })
		call("remove "+strings.ToValidUTF8(name, "?"), func() error { return s.RemoveSPFSource(ctx, Root, name) })
	}
}
