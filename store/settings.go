package store

import (
	"slices"
	"strconv"
	"strings"

	bolt "go.etcd.io/bbolt"
)

// Settings are the MTA settings of the documentation's "MTA settings" page.
// Each field maps to Postfix parameters in mta.Render.
type Settings struct {
	Hostname          string   `json:"hostname"`
	RelayDomains      []string `json:"relay_domains"`
	ExternalRelayHost string   `json:"external_relay_host"`
	InternalRelayHost string   `json:"internal_relay_host"`
	// RelayTransport is the master.cf service relay_transport names
	// ("" is Postfix's relay); the Internal Relay Host is its next hop.
	RelayTransport                string   `json:"relay_transport"`
	RejectUnverifiedRecipient     bool     `json:"reject_unverified_recipient"`
	UnverifiedRecipientRejectCode int      `json:"unverified_recipient_reject_code"`
	MyNetworks                    []string `json:"my_networks"`
	MessageSizeLimit              int64    `json:"message_size_limit"`
	HeloName                      string   `json:"helo_name"`
}

// Canonical writes the settings one per line, "name = value" with the
// API's field names, lists comma-separated: what a version digests and a
// conflict diffs.
func (s Settings) Canonical() string {
	return "hostname = " + s.Hostname +
		"\nrelay_domains = " + strings.Join(s.RelayDomains, ", ") +
		"\nexternal_relay_host = " + s.ExternalRelayHost +
		"\ninternal_relay_host = " + s.InternalRelayHost +
		"\nreject_unverified_recipient = " + strconv.FormatBool(s.RejectUnverifiedRecipient) +
		"\nunverified_recipient_reject_code = " + strconv.Itoa(s.UnverifiedRecipientRejectCode) +
		"\nmy_networks = " + strings.Join(s.MyNetworks, ", ") +
		"\nmessage_size_limit = " + strconv.FormatInt(s.MessageSizeLimit, 10) +
		"\nhelo_name = " + s.HeloName + "\n" + relayTransportLine(s.RelayTransport)
}

// relayTransportLine is the Canonical line of the relay transport, written
// only when it is set, so that the versions of settings without one stay
// what they were.
func relayTransportLine(t string) string {
	if t == "" {
		return ""
	}
	return "relay_transport = " + t + "\n"
}

// DefaultSettings are stored at first start.
func DefaultSettings() Settings {
	return Settings{
		Hostname:                      "mail.example.com",
		RelayDomains:                  []string{},
		UnverifiedRecipientRejectCode: 450,
		MyNetworks:                    []string{"127.0.0.0/8", "::1/128"},
		MessageSizeLimit:              50 * 1024 * 1024,
	}
}

// State is everything Postfix's files are rendered from, read in one
// transaction so that it is consistent.
type State struct {
	Settings   Settings `json:"settings"`
	MainConfig string   `json:"main_config"`
	// MasterConfig is the Edit Master Config document: master.cf as the
	// administrator (or an import) wrote it, comments and order kept, without
	// the MPA's services ("" means postdeck's own service table).
	MasterConfig string `json:"master_config,omitempty"`
	// Installation holds the main.cf lines of the parameters an
	// installation fixes (daemon_directory, mail_owner, ...), as an import
	// found them: rendered into main.cf as written, and not part of any
	// document an administrator edits ("" when there are none).
	Installation string `json:"installation,omitempty"`
	Maps         []Map  `json:"maps"`
	// Wiring is where an import put the MPA and how it chained it to the
	// content filter it found. The daemon builds its MPA addresses from it
	// (its flags win); rendering reads them from mta.Instance.
	Wiring Wiring `json:"wiring,omitzero"`
}

// Wiring is the MPA's place in Postfix's mail path, as an import chose it.
type Wiring struct {
	// MPAListen and ReinjectListen are the MPA's address and the
	// reinjection smtpd's, chosen so that they collide with nothing the
	// imported configuration uses ("" when the import kept the defaults).
	MPAListen      string `json:"mpa_listen,omitempty"`
	ReinjectListen string `json:"reinject_listen,omitempty"`
	// Filter is the content_filter the imported main.cf had (amavis, an
	// lmtp scanner), kept working beside the MPA; "" when there was none.
	Filter string `json:"filter,omitempty"`
	// Order is "after" (the MPA after Filter: mail returning from Filter
	// goes to the MPA) or "before" (the MPA first, then Filter).
	Order string `json:"order,omitempty"`
}

// LoadState reads the settings, the main-config document and all maps.
func (db *DB) LoadState() (State, error) {
	var st State
	err := db.bolt.View(func(tx *bolt.Tx) error {
		var err error
		st, err = loadState(tx)
		return err
	})
	return st, err
}

func loadState(tx *bolt.Tx) (State, error) {
	var st State
	found, err := getJSON(tx, bucketSettings, keyMTASettings, &st.Settings)
	if err != nil {
		return st, err
	}
	if !found {
		st.Settings = DefaultSettings()
	}
	if raw := tx.Bucket(bucketMainConfig).Get(keyDocument); raw != nil {
		st.MainConfig = string(raw) // string() copies
	}
	if raw := tx.Bucket(bucketMainConfig).Get(keyMaster); raw != nil {
		st.MasterConfig = string(raw)
	}
	if raw := tx.Bucket(bucketMainConfig).Get(keyInstallation); raw != nil {
		st.Installation = string(raw)
	}
	if _, err := getJSON(tx, bucketSettings, keyWiring, &st.Wiring); err != nil {
		return st, err
	}
	st.Maps, err = listMaps(tx)
	return st, err
}

// Initialized reports whether the state has been seeded (first start done).
func (db *DB) Initialized() (bool, error) {
	var ok bool
	err := db.bolt.View(func(tx *bolt.Tx) error {
		ok = tx.Bucket(bucketSettings).Get(keyMTASettings) != nil
		return nil
	})
	return ok, err
}

// SaveState writes the whole state in one transaction: settings, document
// and the maps (maps absent from st are deleted).
func (db *DB) SaveState(st State) error {
	defer db.settingsGen.Add(1)
	return db.bolt.Update(func(tx *bolt.Tx) error {
		if err := putJSON(tx, bucketSettings, keyMTASettings, st.Settings); err != nil {
			return err
		}
		if err := tx.Bucket(bucketMainConfig).Put(keyDocument, []byte(st.MainConfig)); err != nil {
			return err
		}
		if st.MasterConfig == "" {
			if err := tx.Bucket(bucketMainConfig).Delete(keyMaster); err != nil {
				return err
			}
		} else if err := tx.Bucket(bucketMainConfig).Put(keyMaster, []byte(st.MasterConfig)); err != nil {
			return err
		}
		if err := putOrDelete(tx.Bucket(bucketMainConfig), keyInstallation, []byte(st.Installation)); err != nil {
			return err
		}
		if st.Wiring == (Wiring{}) {
			if err := tx.Bucket(bucketSettings).Delete(keyWiring); err != nil {
				return err
			}
		} else if err := putJSON(tx, bucketSettings, keyWiring, st.Wiring); err != nil {
			return err
		}
		return replaceMaps(tx, st.Maps, db)
	})
}

// putOrDelete stores value under key, or removes the key when value is
// empty.
func putOrDelete(b *bolt.Bucket, key, value []byte) error {
	if len(value) == 0 {
		return b.Delete(key)
	}
	return b.Put(key, value)
}

// LoadWiring reads where an import put the MPA (zero when none did).
func (db *DB) LoadWiring() (Wiring, error) {
	var w Wiring
	err := db.bolt.View(func(tx *bolt.Tx) error {
		_, err := getJSON(tx, bucketSettings, keyWiring, &w)
		return err
	})
	return w, err
}

// LoadMasterConfig reads the Edit Master Config document alone ("" is
// postdeck's own service table).
func (db *DB) LoadMasterConfig() (string, error) {
	var text string
	err := db.bolt.View(func(tx *bolt.Tx) error {
		text = string(tx.Bucket(bucketMainConfig).Get(keyMaster)) // string() copies
		return nil
	})
	return text, err
}

// LoadSettings reads the MTA settings alone (pages that show them need not
// decode every map). The decoded value is kept until the settings are
// written again: the dashboard and the Settings page read them on every
// view.
func (db *DB) LoadSettings() (Settings, error) {
	c, err := db.cachedSettings()
	if err != nil {
		return Settings{}, err
	}
	return c.settings.clone(), nil
}

// LoadSettingsVersion is LoadSettings with SettingsVersion of what it
// returns, computed once per write of the settings (the Settings page
// shows it on every view).
func (db *DB) LoadSettingsVersion() (Settings, string, error) {
	c, err := db.cachedSettings()
	if err != nil {
		return Settings{}, "", err
	}
	return c.settings.clone(), c.version, nil
}

// cachedSettings returns the kept settings of the current generation,
// reading them first when they are not.
func (db *DB) cachedSettings() (*cachedSettings, error) {
	gen := db.settingsGen.Load() // before the read: a write after it moves gen
	if c := db.settingsCache.Load(); c != nil && c.gen == gen {
		return c, nil
	}
	var s Settings
	err := db.bolt.View(func(tx *bolt.Tx) error {
		found, err := getJSON(tx, bucketSettings, keyMTASettings, &s)
		if err == nil && !found {
			s = DefaultSettings()
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	c := &cachedSettings{gen: gen, settings: s, version: SettingsVersion(s)}
	db.settingsCache.Store(c)
	return c, nil
}

// cachedSettings is LoadSettings' last read, its version, and the
// settings generation it was made at. Read only: callers get clones.
type cachedSettings struct {
	gen      uint64
	settings Settings
	version  string
}

// clone is a deep copy: callers may change the lists.
func (s Settings) clone() Settings {
	s.RelayDomains = slices.Clone(s.RelayDomains)
	s.MyNetworks = slices.Clone(s.MyNetworks)
	return s
}

// LoadMainConfig reads the Edit Main Config document alone.
func (db *DB) LoadMainConfig() (string, error) {
	var text string
	err := db.bolt.View(func(tx *bolt.Tx) error {
		text = string(tx.Bucket(bucketMainConfig).Get(keyDocument)) // string() copies
		return nil
	})
	return text, err
}
