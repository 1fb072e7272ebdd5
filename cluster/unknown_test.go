package cluster

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"postdeck/store"
)

// TestCommitKeepsNewerNodesFields: in a rolling upgrade a newer node
// writes settings and maps with fields this version does not know; a
// change saved on this (older) node keeps them, in the values it changes
// and in those it leaves alone, instead of dropping them.
func TestCommitKeepsNewerNodesFields(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cfg, db := initOneNode(ctx, t)
	adm, err := Connect(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer adm.Close()
	// What a newer node wrote: a setting and a map field of its own.
	settings, err := json.Marshal(map[string]any{"hostname": "newer.example.test", "relay_domains": []string{"old.example.test"}, "message_size_limit": 10240000, "newer_setting": "keep me"})
	if err != nil {
		t.Fatal(err)
	}
	mapJSON := func(name string) string {
		raw, err := json.Marshal(map[string]any{"name": name, "type": "hash", "content": "k v\n", "owner": "admin", "newer_field": true})
		if err != nil {
			t.Fatal(err)
		}
		return string(raw)
	}
	k := keys(normPrefix(cfg.Prefix))
	if _, err := adm.cli.Txn(ctx).Then(clientv3.OpPut(k.of(keySettings), string(settings)),
		clientv3.OpPut(k.of(dirMaps+"changed"), mapJSON("changed")), clientv3.OpPut(k.of(dirMaps+"alone"), mapJSON("alone")),
		clientv3.OpPut(k.of(keyRev), `{"node":"newer","actor":"admin","action":"newer change"}`)).Commit(); err != nil {
		t.Fatal(err)
	}

	a, _ := startNode(ctx, t, cfg, db)
	var newRev int64
	for attempt := 0; newRev == 0; attempt++ {
		base, rev, err := a.Latest(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(base.Maps) != 2 || attempt > 5 {
			t.Fatalf("attempt %d: the newer node's maps: %+v", attempt, base.Maps)
		}
		next := base
		next.Settings.RelayDomains = []string{"new.example.test"}
		next.Maps = []store.Map{base.Maps[0], base.Maps[1]}
		for i := range next.Maps {
			if next.Maps[i].Name == "changed" {
				next.Maps[i].Content = "k changed\n"
			}
		}
		got, wait, err := a.Commit(ctx, rev, base, next, "admin", "older change", false)
		if err != nil || attempt > 5 {
			t.Fatalf("commit: %d %v", got, err)
		}
		if got == 0 {
			if err := a.WaitRevision(ctx, wait); err != nil {
				t.Fatal(err)
			}
		}
		newRev = got
	}
	resp, err := adm.cli.Get(ctx, k.of("config/"), clientv3.WithPrefix())
	if err != nil {
		t.Fatal(err)
	}
	for _, kv := range resp.Kvs {
		rel, _ := k.rel(string(kv.Key))
		var fields map[string]any
		if err := json.Unmarshal(kv.Value, &fields); err != nil {
			continue // the main config document
		}
		switch rel {
		case keySettings:
			if fields["newer_setting"] != "keep me" || fields["relay_domains"] == nil || fields["relay_domains"].([]any)[0] != "new.example.test" {
				t.Errorf("settings after the older node's change: %s", kv.Value)
			}
		case dirMaps + "changed":
			if fields["newer_field"] != true || fields["content"] != "k changed\n" {
				t.Errorf("the changed map: %s", kv.Value)
			}
		case dirMaps + "alone":
			if fields["newer_field"] != true || kv.ModRevision == newRev {
				t.Errorf("the map left alone (revision %d, the change's %d): %s", kv.ModRevision, newRev, kv.Value)
			}
		}
	}
}
