package store

import (
	"encoding/json"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// TestVerifyFileChecksErrorEntries: an error-repository entry whose key
// is no MPA message id, whose key is not its own id, whose size is
// negative, or whose envelope holds a line feed (a command of its own
// on the reinjection listener, through a requeue) makes a backup unfit
// to restore (the key is a file name in the MPA's spool; the sizes are
// its byte quota); a sound entry, also one with a bare CR in an address
// as a session may store it, does not.
func TestVerifyFileChecksErrorEntries(t *testing.T) {
	for name, c := range map[string]struct {
		key  string
		e    ErrorEntry
		want string
	}{
		"sound":                   {"0000sound0001", ErrorEntry{ID: "0000sound0001", Size: 10}, ""},
		"a path for a key":        {"../../x", ErrorEntry{ID: "../../x", Size: 10}, "not an MPA message id"},
		"a key not its id":        {"../../x", ErrorEntry{ID: "0000sound0001", Size: 10}, "not an MPA message id"},
		"an id not its key":       {"0000sound0001", ErrorEntry{ID: "../../x", Size: 10}, "not an MPA message id"},
		"a negative size":         {"0000sound0001", ErrorEntry{ID: "0000sound0001", Size: -1}, "negative size"},
		"a command in the sender": {"0000sound0001", ErrorEntry{ID: "0000sound0001", Envelope: MPAEnvelope{Sender: "a@x>\r\nRCPT TO:<b@y"}}, "line break"},
		"a command in NOTIFY": {"0000sound0001", ErrorEntry{ID: "0000sound0001", Envelope: MPAEnvelope{Sender: "a@x",
			Recipients: []MPARecipient{{Address: "b@y", Notify: []string{"NEVER\nDATA"}}}}}, "line break"},
		"a bare CR in an address": {"0000sound0001", ErrorEntry{ID: "0000sound0001", Envelope: MPAEnvelope{Sender: "a\rb@x",
			Recipients: []MPARecipient{{Address: "c\rd@y"}}}}, ""},
	} {
		t.Run(name, func(t *testing.T) {
			db, path := openTemp(t)
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			bdb, err := bolt.Open(path, 0o600, nil)
			if err != nil {
				t.Fatal(err)
			}
			err = bdb.Update(func(tx *bolt.Tx) error {
				raw, err := json.Marshal(&c.e)
				if err != nil {
					return err
				}
				return tx.Bucket(bucketMPAErrors).Put([]byte(c.key), raw)
			})
			if err == nil {
				err = bdb.Close()
			}
			if err != nil {
				t.Fatal(err)
			}
			err = VerifyFile(path)
			if c.want == "" && err != nil || c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)) {
				t.Fatalf("VerifyFile: %v, want %q", err, c.want)
			}
		})
	}
}
