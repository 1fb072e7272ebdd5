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
	Hostname                      string   `json:"hostname"`
	RelayDomains                  []string `json:"relay_domains"`
	ExternalRelayHost             string   `json:"external_relay_host"`
	InternalRelayHost             string   `json:"internal_relay_host"`
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
		"\nhelo_name = " + s.HeloName + "\n"
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
	// MasterConfig is an imported master.cf, kept as written ("" means
	// postdeck's own service table).
	MasterConfig string `json:"master_config,omitempty"`
	Maps         []Map  `json:"maps"`
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
		return replaceMaps(tx, st.Maps)
	})
}

// LoadSettings reads the MTA settings alone (pages that show them need not
// decode every map). The decoded value is kept until the settings are
// written again: the dashboard and the Settings page read them on every
// view.
func (db *DB) LoadSettings() (Settings, error) {
	gen := db.settingsGen.Load() // before the read: a write after it moves gen
	if c := db.settingsCache.Load(); c != nil && c.gen == gen {
		return c.settings.clone(), nil
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
		return s, err
	}
	db.settingsCache.Store(&cachedSettings{gen: gen, settings: s.clone()})
	return s, nil
}

// cachedSettings is LoadSettings' last read and the settings generation
// it was made at.
type cachedSettings struct {
	gen      uint64
	settings Settings
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
