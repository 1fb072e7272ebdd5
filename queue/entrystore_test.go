package queue

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

// storeOf is an entryStore holding entries in their order.
func storeOf(entries []queueEntry) *entryStore {
	st := &entryStore{}
	for i := range entries {
		st.set(int32(i), &entries[i])
	}
	return st
}

// loaded is slot i of st, with recipients of its own.
func loaded(st *entryStore, i int32) (queueEntry, bool) {
	var e queueEntry
	ok := st.load(i, &e)
	e.rcpts = slices.Clone(e.rcpts)
	return e, ok
}

// TestEntryStoreKeepsWhatWasSet: random puts, replacements (longer and
// shorter recipient lists, the same strings again) and frees, checked
// against plain entries after every step and across packs; strings read
// before a change keep their bytes after it.
func TestEntryStoreKeepsWhatWasSet(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	word := func(n int) string {
		if r.IntN(8) == 0 {
			return ""
		}
		return fmt.Sprintf("%s-%d", strings.Repeat("x", r.IntN(n)), r.IntN(40))
	}
	entry := func(id string) queueEntry {
		e := queueEntry{id: id, sender: word(30), subject: word(200), arrival: r.Int64N(1 << 40), size: r.Int64N(1 << 30),
			queue: uint8(r.IntN(len(Names))), expired: r.IntN(2) == 0}
		for range r.IntN(5) {
			e.rcpts = append(e.rcpts, Recipient{Address: word(20) + "@d" + fmt.Sprint(r.IntN(9)), DelayReason: word(300)})
		}
		return e
	}
	st := &entryStore{}
	var want []queueEntry
	type held struct {
		s, was string
	}
	var kept []held
	for step := range 20000 {
		i := int32(r.IntN(len(want) + 1))
		switch k := r.IntN(10); {
		case int(i) == len(want) || k < 5:
			id := fmt.Sprintf("ID%06d", step)
			if int(i) < len(want) && want[i].id != "" && r.IntN(2) == 0 {
				id = want[i].id // read again, maybe unchanged
			}
			e := entry(id)
			if int(i) < len(want) && r.IntN(3) == 0 {
				e = want[i] // the very same again
				e.rcpts = slices.Clone(e.rcpts)
			}
			st.set(i, &e)
			if int(i) == len(want) {
				want = append(want, e)
			} else {
				want[i] = e
			}
		case k < 8:
			st.free(i)
			want[i] = queueEntry{}
		default:
			if got, ok := loaded(st, i); ok {
				kept = append(kept, held{got.sender + got.subject, strings.Clone(got.sender + got.subject)})
			}
		}
		if step%1000 == 999 {
			slotOf := make([]int32, st.count())
			p := st.packed(slotOf)
			var packedWant []queueEntry
			for old, n := range slotOf {
				if (n >= 0) != (want[old].id != "") {
					t.Fatalf("slot %d: live %v, new number %d", old, want[old].id != "", n)
				}
				if n >= 0 {
					if int(n) != len(packedWant) {
						t.Fatalf("slot %d became %d, want %d", old, n, len(packedWant))
					}
					packedWant = append(packedWant, want[old])
				}
			}
			st, want = p, packedWant
			runtime.GC()
		}
		if step%97 == 0 || step%1000 == 999 {
			if st.count() != len(want) {
				t.Fatalf("step %d: %d slots, want %d", step, st.count(), len(want))
			}
			for j := range want {
				got, ok := loaded(st, int32(j))
				if ok != (want[j].id != "") {
					t.Fatalf("step %d slot %d: live %v, want %v", step, j, ok, want[j].id != "")
				}
				if !ok {
					continue
				}
				w := want[j]
				if len(w.rcpts) == 0 {
					w.rcpts = nil
				}
				if len(got.rcpts) == 0 {
					got.rcpts = nil
				}
				if !reflect.DeepEqual(got, w) {
					t.Fatalf("step %d slot %d:\n got %+v\nwant %+v", step, j, got, w)
				}
			}
		}
	}
	for _, h := range kept {
		if h.s != h.was {
			t.Fatalf("a string read earlier changed: %q, was %q", h.s, h.was)
		}
	}
	if len(kept) == 0 {
		t.Fatal("no string was kept to check")
	}
}

// TestEntryStoreSharesRepeats: 10,000 messages from one sender to one
// address with one reason hold those strings once.
func TestEntryStoreSharesRepeats(t *testing.T) {
	st := &entryStore{}
	reason := strings.Repeat("connect to mx.example.org: Connection refused ", 4)
	for i := range 10000 {
		e := queueEntry{id: fmt.Sprintf("ID%06d", i), sender: "alice@example.com",
			rcpts: []Recipient{{Address: "bob@example.org", DelayReason: reason}}}
		st.set(int32(i), &e)
	}
	arena, rcpts := st.sizes()
	if max := 10000*len("ID000000") + 4096; arena > max {
		t.Fatalf("arena %d bytes for 10,000 ids of 8 bytes and three repeated strings (want at most %d)", arena, max)
	}
	if rcpts != 10000 {
		t.Fatalf("%d recipient refs, want 10000", rcpts)
	}
	// Reading every message again changes nothing in the arena.
	for i := range 10000 {
		e := queueEntry{id: fmt.Sprintf("ID%06d", i), sender: "alice@example.com",
			rcpts: []Recipient{{Address: "bob@example.org", DelayReason: reason}}}
		st.set(int32(i), &e)
	}
	if a2, r2 := st.sizes(); a2 != arena || r2 != rcpts {
		t.Fatalf("the same messages again grew the store: arena %d -> %d, recipients %d -> %d", arena, a2, rcpts, r2)
	}
}

// TestIndexIDClashes: with a hash that gives every id one of four
// values, lookups, replacements, removals and packs still find each id.
func TestIndexIDClashes(t *testing.T) {
	ix := newMsgIndex()
	ix.hash = func(id string) uint64 { return uint64(len(id) % 4) }
	r := rand.New(rand.NewPCG(5, 6))
	live := map[string]bool{}
	for step := range 5000 {
		id := fmt.Sprintf("ID%0*d", 1+r.IntN(6), r.IntN(300))
		if live[id] && r.IntN(2) == 0 {
			ix.remove(id)
			delete(live, id)
		} else {
			ix.put(queueEntry{id: id, queue: deferredQueue, arrival: int64(step)}, entryMeta{stamp: uint64(step)})
			live[id] = true
		}
		if step%50 == 0 {
			ix.compact()
		}
		if step%10 == 0 {
			if ix.len() != len(live) {
				t.Fatalf("step %d: %d messages, want %d", step, ix.len(), len(live))
			}
			for id := range live {
				i, ok := ix.lookup(id)
				if !ok || ix.st.id(i) != id {
					t.Fatalf("step %d: %s not found (%d %v)", step, id, i, ok)
				}
			}
			if _, ok := ix.lookup("ID-none"); ok {
				t.Fatal("an id never put was found")
			}
		}
	}
	if len(ix.clash) == 0 {
		t.Fatal("no id clashed: the test does not test clashes")
	}
	checkTally(t, ix, time.Unix(0, 0).UTC())
}

// TestIndexPacksWhatChurnLeaves: messages read again with new delay
// reasons, over and over, leave old reasons unused in the arena; the
// index packs them away, so the arena stays within a few times what is
// in use.
func TestIndexPacksWhatChurnLeaves(t *testing.T) {
	ix := newMsgIndex()
	const n = 2000
	for round := range 200 {
		for i := range n {
			ix.put(queueEntry{id: fmt.Sprintf("ID%06d", i), queue: deferredQueue,
				rcpts: []Recipient{{Address: "a@b.test", DelayReason: fmt.Sprintf("try %d of message %d: connection refused", round, i)}}}, entryMeta{})
		}
		ix.compact()
	}
	arena, _ := ix.st.sizes()
	if limit := 4*n*len("try 199 of message 1999: connection refused") + 2<<20; arena > limit {
		t.Fatalf("arena %d bytes after 200 rounds of %d messages (limit %d)", arena, n, limit)
	}
	checkTally(t, ix, time.Unix(0, 0).UTC())
}

// TestIndexHoldsNoPointers: the index's big slices are of types without
// pointers, which is what keeps the collector from scanning them.
func TestIndexHoldsNoPointers(t *testing.T) {
	for _, v := range []any{slot{}, rcptRef{}, entryMeta{}, ref{}} {
		if hasPointers(reflect.TypeOf(v)) {
			t.Errorf("%T holds a pointer", v)
		}
	}
	if hasPointers(reflect.TypeOf(map[uint64]int32{})) != true {
		t.Error("the check does not see a map's pointer")
	}
}

// hasPointers reports whether values of t hold a Go pointer.
func hasPointers(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Struct:
		for i := range t.NumField() {
			if hasPointers(t.Field(i).Type) {
				return true
			}
		}
		return false
	case reflect.Array:
		return hasPointers(t.Elem())
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Float32, reflect.Float64:
		return false
	}
	return true
}

func must(i int32, ok bool) int32 {
	if !ok {
		panic("not in the index")
	}
	return i
}
