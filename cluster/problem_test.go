package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"postdeck/postfix/postfixtest"
	"postdeck/store"
)

// deadNode is a node (not started) whose etcd endpoint nothing listens
// on, and its log.
func deadNode(t *testing.T) (*Node, *postfixtest.SyncBuffer) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	var logged postfixtest.SyncBuffer
	n, err := New(Config{Endpoints: []string{"http://" + addr}, Node: "n1", RequestTimeout: 300 * time.Millisecond},
		openDB(t, "n1.example.test"), slog.New(slog.NewTextHandler(&logged, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = n.cli.Close() })
	return n, &logged
}

// TestViewSaysPlainlyWhyTheClusterIsUnreachable: the cluster view, which
// every role sees, names an etcd failure in plain words, never with the
// client's (endpoints, gRPC's and the system's text); those go to the log.
func TestViewSaysPlainlyWhyTheClusterIsUnreachable(t *testing.T) {
	n, logged := deadNode(t)
	// Cut off: the follower's last error.
	refused := status.Error(codes.Unavailable, `connection error: desc = "transport: Error while dialing: dial tcp 10.9.8.7:2379: connect: connection refused"`)
	n.setConnected(false, fmt.Errorf("read the cluster's configuration: %w", refused))
	if v := n.View(context.Background()); v.Reachable || v.Error != "the cluster store (etcd) cannot be reached" {
		t.Fatalf("cut off: reachable %v error %q", v.Reachable, v.Error)
	}
	// Following, until the view's own read fails (etcd stopped answering).
	n.setConnected(true, nil)
	v := n.View(context.Background())
	if v.Reachable || v.Error != "the cluster store (etcd) did not answer in time" {
		t.Fatalf("read failed: reachable %v error %q", v.Reachable, v.Error)
	}
	if !strings.Contains(logged.String(), "deadline exceeded") {
		t.Errorf("the log lacks etcd's error:\n%s", logged.String())
	}
}

// TestEtcdProblemWords: etcd's and gRPC's errors in plain words.
func TestEtcdProblemWords(t *testing.T) {
	for _, c := range []struct {
		err  error
		want string
	}{
		{fmt.Errorf("read the cluster's configuration: %w", context.DeadlineExceeded), "the cluster store (etcd) did not answer in time"},
		{status.Error(codes.DeadlineExceeded, "context deadline exceeded"), "the cluster store (etcd) did not answer in time"},
		{fmt.Errorf("watch the cluster: %w", rpctypes.ErrNoLeader), "the cluster store (etcd) has no leader: too few of its members are up"},
		{rpctypes.ErrPermissionDenied, "the cluster store (etcd) refused this node's credentials"},
		{rpctypes.ErrAuthFailed, "the cluster store (etcd) refused this node's credentials"},
		{errStoppedAnswering, "the cluster store (etcd) stopped answering"},
		{errors.New("dial tcp 10.9.8.7:2379: connect: connection refused"), "the cluster store (etcd) cannot be reached"},
	} {
		if got := etcdProblem(c.err); got != c.want {
			t.Errorf("%v: %q, want %q", c.err, got, c.want)
		}
	}
}

// TestUnreadableRevisionIsPlain: a revision whose configuration this
// node cannot build (here the settings do not decode) fails with a plain
// sentence in its status, which every role sees; the decode error goes to
// the log.
func TestUnreadableRevisionIsPlain(t *testing.T) {
	n, logged := deadNode(t)
	m := newMirror()
	m.kv[keySettings] = []byte(`{"hostname": 7`)
	m.markerRev, m.markerSeq = 9, 4
	n.applyMirror(context.Background(), m)
	n.mu.Lock()
	st := n.status
	n.mu.Unlock()
	if !st.Failing || st.Result != "failed" || st.Message != configUnreadable || st.Tried != 9 {
		t.Fatalf("status %+v, want failing with %q", st, configUnreadable)
	}
	if !strings.Contains(logged.String(), "decode cluster settings") {
		t.Errorf("the log lacks the decode error:\n%s", logged.String())
	}
}

// TestPlainTextEndpointOnAnotherMachineIsWarnedAbout: an http:// etcd
// endpoint on another machine gets a warning at start (the replicated SASL
// passwords cross the network in clear); loopback and https:// do not.
func TestPlainTextEndpointOnAnotherMachineIsWarnedAbout(t *testing.T) {
	for _, tc := range []struct {
		endpoints []string
		warned    bool
	}{
		{[]string{"http://192.0.2.10:2379"}, true},
		{[]string{"https://192.0.2.10:2379", "http://etcd.example.net:2379"}, true},
		{[]string{"http://127.0.0.1:2379", "http://[::1]:2379", "http://localhost:2379"}, false},
		{[]string{"https://192.0.2.10:2379"}, false},
	} {
		var logged postfixtest.SyncBuffer
		n, err := New(Config{Endpoints: tc.endpoints, Node: "n1", RequestTimeout: 300 * time.Millisecond},
			openDB(t, "n1.example.test"), slog.New(slog.NewTextHandler(&logged, nil)))
		if err != nil {
			t.Fatal(err)
		}
		_ = n.cli.Close()
		if got := strings.Contains(logged.String(), "without TLS on another machine"); got != tc.warned {
			t.Errorf("%v: warned %v, want %v:\n%s", tc.endpoints, got, tc.warned, logged.String())
		}
	}
}

// TestUndecodableConfigurationNamesItsKey: a settings document or a map
// changed by hand in etcd so that it does not decode refuses every change
// with a sentence that names its key and how to put it right (it was an
// internal error, a generic 500); put right, changes go through again.
func TestUndecodableConfigurationNamesItsKey(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cfg, db := initOneNode(ctx, t)
	a, r := startNode(ctx, t, cfg, db)
	waitUntil(t, "a applied the cluster's configuration", func() bool { return r.lastRev() > 0 })
	good, _, err := a.Latest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	put := func(rel, v string) {
		t.Helper()
		if _, err := a.cli.Put(ctx, a.keys.of(rel), v); err != nil {
			t.Fatal(err)
		}
		waitUntil(t, rel+" in a's copy", func() bool {
			m, _ := a.snapshot()
			return string(m.kv[rel]) == v
		})
	}
	// Latest is the base of every change; Commit reads the settings
	// again (a change made on the copy before it was changed).
	refused := func(what string, commit bool, want ...string) {
		t.Helper()
		m, _ := a.snapshot()
		_, _, err := a.Latest(ctx)
		errs := []error{err}
		if commit {
			_, _, err := a.Commit(ctx, m.markerRev, good, good, "root", "test", false)
			errs = append(errs, err)
		}
		for _, err := range errs {
			var ue *store.UserError
			if !errors.As(err, &ue) || ue.Kind != store.ErrConflict {
				t.Fatalf("%s: %v, want a conflict", what, err)
			}
			for _, w := range want {
				if !strings.Contains(ue.Msg, w) {
					t.Fatalf("%s: %q, want it to say %q", what, ue.Msg, w)
				}
			}
		}
	}
	put(keySettings, `{"hostname": 7`)
	refused("settings", true, "/postdeck/config/settings", "postdeck settings get --json | etcdctl put /postdeck/config/settings")
	// What the advice puts back: the API's settings, with their version.
	put(keySettings, `{"version":"x","relay_domains":["example.test"],"my_networks":["127.0.0.0/8"],"message_size_limit":10240000,"unverified_recipient_reject_code":550}`)
	if st, _, err := a.Latest(ctx); err != nil || st.Settings.RelayDomains[0] != "example.test" {
		t.Fatalf("after putting the settings back: %+v, %v", st.Settings, err)
	}
	put(dirMaps+"transport-maps", `{"name": "transport-maps", "content": [`)
	refused("map", false, "map transport-maps", "/postdeck/config/maps/transport-maps", "etcdctl del /postdeck/config/maps/transport-maps")
}
