package jobs

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"postdeck/mta"
	"postdeck/postfix/postfixtest"
	"postdeck/store"
)

// failingMaps is a MapSaver whose reads or saves fail with given errors.
type failingMaps struct {
	getErr, putErr error
}

func (f failingMaps) PutMap(ctx context.Context, actor string, m store.Map) error { return f.putErr }

func (f failingMaps) PutMaps(ctx context.Context, actor string, ms []store.Map) []error {
	errs := make([]error, len(ms))
	for i := range errs {
		errs[i] = f.putErr
	}
	return errs
}

func (f failingMaps) GetMap(name string) (store.Map, error) {
	if f.getErr != nil {
		return store.Map{}, f.getErr
	}
	return store.Map{}, store.NotFound("map %s does not exist", name)
}

// refreshWith refreshes a source for root.test saved through maps, asking
// the DNS server at resolver, and returns the result, the stored status
// and the refresher's log.
func refreshWith(t *testing.T, maps MapSaver, resolver string) (RefreshResult, SourceStatus, string) {
	t.Helper()
	db := openStore(t)
	if err := db.PutSPFSource(store.SPFSource{Domain: "root.test", Map: "spf", Schedule: "0 0 * * *", Value: "OK"}); err != nil {
		t.Fatal(err)
	}
	var logged postfixtest.SyncBuffer
	sched := NewScheduler(testLogger(t))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := sched.Shutdown(ctx); err != nil {
			t.Error(err)
		}
	})
	ref, err := NewRefresher(RefresherConfig{DB: db, Maps: maps, Scheduler: sched, Resolver: resolver,
		QueryTimeout: 500 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(&logged, nil))})
	if err != nil {
		t.Fatal(err)
	}
	res, err := ref.RefreshNow(context.Background(), "tester", "spf")
	if err != nil {
		t.Fatal(err)
	}
	st, err := ref.Status(context.Background(), "spf")
	if err != nil {
		t.Fatal(err)
	}
	return res, st, logged.String()
}

// TestKeptMapReasonHidesInternalErrors: a refresh that kept the live map
// says why in words an administrator can act on (what the API answers,
// the status's last_error, the console's SPF page): a store failure is a
// plain sentence without its file path or bbolt's words, which go to the
// log; Postfix's refusal and a user error's sentence are shown as they
// are.
func TestKeptMapReasonHidesInternalErrors(t *testing.T) {
	storeErr := errors.New("open /var/lib/postdeck/postdeck.db: input/output error")
	refused := &mta.ApplyError{Stage: "reload", PostfixSaid: "fatal: bad map", RolledBack: true}
	// failingMaps has no map: a failure leaves it empty (a map that
	// cannot be read counts as live).
	cases := []struct {
		name   string
		maps   failingMaps
		want   string
		hidden []string // in the log, never in the reason
	}{
		{name: "reading the live map fails", maps: failingMaps{getErr: storeErr},
			want: "kept the live map: " + internalFailure, hidden: []string{"/var/lib/postdeck", "input/output error", "read live map"}},
		{name: "saving fails in the store", maps: failingMaps{putErr: storeErr},
			want: "the map stays empty: " + internalFailure, hidden: []string{"/var/lib/postdeck", "input/output error", "save map"}},
		{name: "Postfix refuses the map", maps: failingMaps{putErr: refused},
			want: "the map stays empty: " + refused.Error()}, // Postfix's words, shown by mta.ApplyError
		{name: "a user error", maps: failingMaps{putErr: store.Invalid("content", "Map spf is larger than 1 MiB")},
			want: "the map stays empty: Map spf is larger than 1 MiB."},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := newTestDNS(t)
			d.txt("root.test", "v=spf1 ip4:192.0.2.0/24 -all")
			res, st, logged := refreshWith(t, c.maps, d.Addr)
			if res.Outcome != OutcomeFailed || res.Error != c.want || st.LastError != c.want {
				t.Fatalf("outcome %q error %q last_error %q, want %q", res.Outcome, res.Error, st.LastError, c.want)
			}
			for _, h := range c.hidden {
				if !strings.Contains(logged, h) {
					t.Errorf("the log lacks %q:\n%s", h, logged)
				}
			}
		})
	}
}

// TestKeptMapReasonSaysDNSTransportPlainly: a DNS server that refuses the
// connection is named in plain words, not with Go's and the system's
// ("read udp 127.0.0.1:…: connection refused"), which go to the log.
func TestKeptMapReasonSaysDNSTransportPlainly(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := pc.LocalAddr().String()
	if err := pc.Close(); err != nil {
		t.Fatal(err)
	}
	res, st, logged := refreshWith(t, failingMaps{}, closed)
	want := "the map stays empty: lookup TXT root.test: the DNS server refused the connection"
	if res.Error != want || st.LastError != want {
		t.Fatalf("error %q last_error %q, want %q", res.Error, st.LastError, want)
	}
	if !strings.Contains(logged, "connection refused") {
		t.Errorf("the log lacks the transport error:\n%s", logged)
	}
}
