package admin

import (
	"context"
	"time"

	"postdeck/mta"
	"postdeck/store"
)

// SettingsDoc is the MTA settings with their version: a save based on an
// older version is refused (store.Stale) instead of undoing someone
// else's change.
type SettingsDoc struct {
	store.Settings
	Version string `json:"version"`
	// AllowOpenRelay lets a save through that makes Postfix relay mail
	// for strangers (the open-relay probe); never stored, never read back.
	AllowOpenRelay bool `json:"allow_open_relay,omitempty"`
	// Confirm lets a risky change through (mta.SettingsRisks); never
	// stored, never read back.
	Confirm bool `json:"confirm,omitempty"`
	// ClusterRefused, on a cluster node whose Postfix refused the
	// cluster's newest configuration, says so and why: the document is
	// the cluster's (what a save builds on), not the one this node runs.
	// An answer only, never stored.
	ClusterRefused *ClusterRefusal `json:"cluster_refused,omitempty"`
}

// Settings returns the MTA settings and their version.
func (s *Service) Settings(ctx context.Context, id Identity) (SettingsDoc, error) {
	if err := need(id, PermRead); err != nil {
		return SettingsDoc{}, err
	}
	if cl, r := s.refusedBase(); r != nil {
		return SettingsDoc{Settings: cl.Settings, Version: store.SettingsVersion(cl.Settings), ClusterRefused: r}, nil
	}
	st, version, err := s.db.LoadSettingsVersion()
	return SettingsDoc{Settings: st, Version: version}, err
}

// SettingsResult is the stored settings after a save, and what the apply did.
type SettingsResult struct {
	Settings SettingsDoc `json:"settings"`
	Applied
}

// SaveSettings validates, stores and applies new MTA settings. With a
// version (in.Version), the save happens only when the stored settings
// still have it. A refused save leaves the store and Postfix's files as
// they were.
func (s *Service) SaveSettings(ctx context.Context, id Identity, in SettingsDoc) (SettingsResult, error) {
	if err := need(id, PermAdmin); err != nil {
		return SettingsResult{}, err
	}
	// A save based on settings someone else changed since is told so
	// (the mta's version check) before any risk: a risk measured against
	// their settings would ask to confirm a value this administrator
	// did not change (a network the other one just removed).
	if !in.Confirm && !s.settingsStale(in.Version) {
		if err := s.settingsRisks(in.Settings); err != nil {
			s.auditFailure(id, "settings", err)
			return SettingsResult{}, err
		}
	}
	res, err := s.mta.SaveSettings(ctx, id.Actor(), in.Settings, in.Version, mta.ApplyOptions{AllowOpenRelay: in.AllowOpenRelay})
	s.auditApply(id, "settings", res, err)
	if err != nil {
		return SettingsResult{}, err
	}
	st, err := s.db.LoadSettings()
	if err == nil && s.mpa != nil {
		// The MPA takes what Postfix takes: its size limit follows.
		s.mpa.SetLimits(st.MessageSizeLimit, 0)
	}
	return SettingsResult{Settings: SettingsDoc{Settings: st, Version: store.SettingsVersion(st)}, Applied: appliedOf(res)}, err
}

// CheckSettings validates settings as a save would, without saving: the
// error names every field that is wrong (store.UserError and its Others).
func CheckSettings(in store.Settings) error {
	_, _, err := mta.ValidateSettings(in)
	return err
}

// settingsStale reports whether version names settings other than the
// stored ones (an empty version names none: the save is unconditional).
func (s *Service) settingsStale(version string) bool {
	if version == "" {
		return false
	}
	if cl, r := s.refusedBase(); r != nil {
		return store.SettingsVersion(cl.Settings) != version
	}
	_, cur, err := s.db.LoadSettingsVersion()
	return err == nil && cur != version
}

// settingsRisks is what saving in would put at risk (mta.SettingsRisks),
// nil when nothing or when in is invalid (the save then says why).
func (s *Service) settingsRisks(in store.Settings) error {
	norm, _, err := mta.ValidateSettings(in)
	if err != nil {
		return nil
	}
	cur, err := s.db.LoadSettings()
	if err != nil {
		return nil
	}
	if cl, r := s.refusedBase(); r != nil {
		cur = cl.Settings
	}
	return mta.SettingsRisks(cur, norm)
}

// MainConfigDoc is the Edit Main Config document with its version.
type MainConfigDoc struct {
	Text    string `json:"text"`
	Version string `json:"version"`
	// AllowOpenRelay lets a save through that makes Postfix relay mail
	// for strangers (the open-relay probe); never stored, never read back.
	AllowOpenRelay bool `json:"allow_open_relay,omitempty"`
	// Confirm lets a risky change through (mta.MainConfigRisks); never
	// stored, never read back.
	Confirm bool `json:"confirm,omitempty"`
	// ClusterRefused, on a cluster node whose Postfix refused the
	// cluster's newest configuration, says so and why: the document is
	// the cluster's (what a save builds on), not the one this node runs.
	// An answer only, never stored.
	ClusterRefused *ClusterRefusal `json:"cluster_refused,omitempty"`
}

// MainConfig returns the Edit Main Config document and its version.
func (s *Service) MainConfig(ctx context.Context, id Identity) (MainConfigDoc, error) {
	if err := need(id, PermRead); err != nil {
		return MainConfigDoc{}, err
	}
	if cl, r := s.refusedBase(); r != nil {
		shown, _ := mta.MaskLiteralPasswords(cl.MainConfig, cl.MasterConfig)
		return MainConfigDoc{Text: shown, Version: mta.MainConfigVersion(cl.MainConfig), ClusterRefused: r}, nil
	}
	text, err := s.db.LoadMainConfig()
	if err != nil {
		return MainConfigDoc{}, err
	}
	master, err := s.db.LoadMasterConfig()
	if err != nil {
		return MainConfigDoc{}, err
	}
	shown, _ := mta.MaskLiteralPasswords(text, master)
	return MainConfigDoc{Text: shown, Version: mta.MainConfigVersion(text)}, nil
}

// MainConfigResult is the saved document's version and what the apply did.
type MainConfigResult struct {
	Version string `json:"version"`
	Applied
}

// SaveMainConfig validates and applies a new Edit Main Config document;
// with a version, only when the stored document still has it.
func (s *Service) SaveMainConfig(ctx context.Context, id Identity, in MainConfigDoc) (MainConfigResult, error) {
	if err := need(id, PermAdmin); err != nil {
		return MainConfigResult{}, err
	}
	// Allowing an open relay confirms more than a removed relay guard. A
	// document based on an older one is refused as stale by the save
	// below, not asked to confirm the removal of a guard someone else
	// added meanwhile (as SaveSettings).
	if !in.Confirm && !in.AllowOpenRelay {
		cur, err := s.db.LoadMainConfig()
		if cl, r := s.refusedBase(); r != nil {
			cur = cl.MainConfig
		}
		if err == nil && (in.Version == "" || in.Version == mta.MainConfigVersion(cur)) {
			if risk := mta.MainConfigRisks(cur, in.Text); risk != nil {
				s.auditFailure(id, "mainconfig", risk)
				return MainConfigResult{}, risk
			}
		}
	}
	res, err := s.mta.SaveMainConfig(ctx, id.Actor(), in.Text, in.Version, mta.ApplyOptions{AllowOpenRelay: in.AllowOpenRelay})
	s.auditApply(id, "mainconfig", res, err)
	if err != nil {
		return MainConfigResult{}, err
	}
	text, err := s.db.LoadMainConfig()
	return MainConfigResult{Version: mta.MainConfigVersion(text), Applied: appliedOf(res)}, err
}

// ListMaps returns every map without its content, sorted by name.
func (s *Service) ListMaps(ctx context.Context, id Identity) ([]mta.MapInfo, error) {
	if err := need(id, PermRead); err != nil {
		return nil, err
	}
	if cl, r := s.refusedBase(); r != nil {
		out := make([]mta.MapInfo, 0, len(cl.Maps))
		for _, mp := range cl.Maps { // sorted by name (the cluster's keys)
			out = append(out, s.mta.MapInfo(mp))
		}
		return out, nil
	}
	return s.mta.ListMaps()
}

// MapDoc is one map as the console and API show it: the passwords of a
// map that holds SASL passwords masked.
type MapDoc struct {
	Name    string    `json:"name,omitempty"`
	Type    string    `json:"type"`
	Content string    `json:"content"`
	File    string    `json:"file,omitempty"`
	Lines   int       `json:"lines,omitempty"`
	Owner   string    `json:"owner,omitempty"`
	Updated time.Time `json:"updated,omitzero"`
	Version string    `json:"version,omitempty"`
	// Secret: the map holds SASL passwords (smtp-sasl-password_maps, or
	// a map a *_sasl_password_maps parameter refers to or did, or one
	// an administrator marked so), which are masked in Content. Sent
	// true, a save marks the map (SaveMapRequest.Secret); false never
	// unmarks one.
	Secret bool `json:"secret,omitempty"`
	// ClusterRefused, on a cluster node whose Postfix refused the
	// cluster's newest configuration, says so and why: the document is
	// the cluster's (what a save builds on), not the one this node runs.
	// An answer only, never stored.
	ClusterRefused *ClusterRefusal `json:"cluster_refused,omitempty"`
}

// Map returns one map, passwords masked.
func (s *Service) Map(ctx context.Context, id Identity, name string) (MapDoc, error) {
	if err := need(id, PermRead); err != nil {
		return MapDoc{}, err
	}
	mp, refused, err := s.editedMap(name)
	if err != nil {
		return MapDoc{}, err
	}
	version := mta.MapVersion(mp)
	mp = mta.MaskSecrets(mp)
	info := s.mta.MapInfo(mp)
	return MapDoc{Name: mp.Name, Type: mp.Type, Content: mp.Content, File: info.File, Lines: info.Lines, Owner: mp.Owner, Updated: mp.Updated, Version: version, Secret: mta.IsSecretMap(mp), ClusterRefused: refused}, nil
}

// editedMap is map name as a change of it is made: the cluster's when
// this node refused the cluster's configuration (refusedBase), else the
// store's.
func (s *Service) editedMap(name string) (store.Map, *ClusterRefusal, error) {
	if cl, r := s.refusedBase(); r != nil {
		mp, err := refusedMap(cl, name)
		return mp, r, err
	}
	mp, err := s.mta.GetMap(name)
	return mp, nil, err
}

// MapResult is a saved map (without content), its version and what the
// apply did.
type MapResult struct {
	Map     mta.MapInfo `json:"map"`
	Version string      `json:"version"`
	Applied
}

// SaveMapRequest is a map's new type and content; Create refuses a name
// that exists already (the Maps page's "new map" form); Base, when set, is
// the version the change was based on. Secret marks the map as holding
// SASL passwords from this save on (mode 0600, passwords masked, lines
// checked as key user:password); false leaves a secret map secret.
type SaveMapRequest struct {
	Name    string
	Type    string
	Content string
	Create  bool
	Base    string
	Secret  bool
}

// SaveMap validates, stores and applies a map: its file and main.cf change
// together or not at all.
func (s *Service) SaveMap(ctx context.Context, id Identity, in SaveMapRequest) (MapResult, error) {
	if err := need(id, PermAdmin); err != nil {
		return MapResult{}, err
	}
	mp := store.Map{Name: in.Name, Type: in.Type, Content: in.Content, Secret: in.Secret}
	var res mta.Result
	var err error
	action := "map " + truncate(in.Name, 100)
	if in.Create {
		action = "create " + action
		res, err = s.mta.CreateMap(ctx, id.Actor(), mp)
	} else {
		res, err = s.mta.PutMap(ctx, id.Actor(), mp, in.Base)
	}
	s.auditApply(id, action, res, err)
	if err != nil {
		return MapResult{}, err
	}
	saved, err := s.mta.GetMap(in.Name)
	if err != nil {
		return MapResult{}, err
	}
	return MapResult{Map: s.mta.MapInfo(saved), Version: mta.MapVersion(saved), Applied: appliedOf(res)}, nil
}

// DeleteMap removes a map and its files; a map main.cf still references
// is a conflict that says where. base, when set, is the version the
// deletion was based on.
func (s *Service) DeleteMap(ctx context.Context, id Identity, name, base string) (Applied, error) {
	if err := need(id, PermAdmin); err != nil {
		return Applied{}, err
	}
	res, err := s.mta.DeleteMap(ctx, id.Actor(), name, base)
	s.auditApply(id, "delete map "+truncate(name, 100), res, err)
	return appliedOf(res), err
}

// LookupResult is what Postfix answered for a key.
type LookupResult struct {
	Found bool   `json:"found"`
	Value string `json:"value"`
}

// LookupMap asks Postfix (postmap -q on the live file) for key in map name.
func (s *Service) LookupMap(ctx context.Context, id Identity, name, key string) (LookupResult, error) {
	if err := need(id, PermRead); err != nil {
		return LookupResult{}, err
	}
	found, value, err := s.mta.LookupMap(ctx, name, key)
	return LookupResult{Found: found, Value: value}, err
}

// truncate shortens s for an audit action or a sentence.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// MasterConfigDoc is the Edit Master Config document (master.cf without
// the MPA's services) with its version. Default and Managed are answers
// only: a write ignores them.
type MasterConfigDoc struct {
	Text    string `json:"text"`
	Version string `json:"version"`
	// Default is true when no document is stored and Text is postdeck's
	// own service table.
	Default bool `json:"default,omitempty"`
	// ClusterRefused, on a cluster node whose Postfix refused the
	// cluster's newest configuration, says so and why: the document is
	// the cluster's (what a save builds on), not the one this node runs.
	// An answer only, never stored.
	ClusterRefused *ClusterRefusal `json:"cluster_refused,omitempty"`

	// Managed is what postdeck adds to the document in master.cf: the
	// MPA's services, and the -o content_filter it gives the loopback
	// listeners that return mail from an existing content filter.
	Managed string `json:"managed,omitempty"`
	// AllowOpenRelay lets a save through whose listener relays mail for
	// strangers (as MainConfigDoc's); a write only, never stored.
	AllowOpenRelay bool `json:"allow_open_relay,omitempty"`
}

// MasterConfig returns the Edit Master Config document and its version.
func (s *Service) MasterConfig(ctx context.Context, id Identity) (MasterConfigDoc, error) {
	if err := need(id, PermRead); err != nil {
		return MasterConfigDoc{}, err
	}
	var doc mta.MasterConfigDoc
	var main string
	cl, refused := s.refusedBase()
	if refused != nil {
		doc, main = s.mta.MasterConfigOf(cl.MasterConfig), cl.MainConfig
	} else {
		var err error
		if doc, err = s.mta.MasterConfig(); err != nil {
			return MasterConfigDoc{}, err
		}
		if main, err = s.db.LoadMainConfig(); err != nil {
			return MasterConfigDoc{}, err
		}
	}
	_, shown := mta.MaskLiteralPasswords(main, doc.Text)
	return MasterConfigDoc{Text: shown, Version: doc.Version, Default: doc.Default, Managed: doc.Managed, ClusterRefused: refused}, nil
}

// MasterConfigResult is the saved document's version and what the apply
// did.
type MasterConfigResult struct {
	Version string `json:"version"`
	Applied
}

// SaveMasterConfig validates (postdeck's checks, then postconf -M, -F and
// -P on a copy) and applies a new Edit Master Config document; with a
// version, only when the stored document still has it. A refused save
// leaves the store and Postfix's files as they were.
func (s *Service) SaveMasterConfig(ctx context.Context, id Identity, in MasterConfigDoc) (MasterConfigResult, error) {
	if err := need(id, PermAdmin); err != nil {
		return MasterConfigResult{}, err
	}
	res, err := s.mta.SaveMasterConfigWith(ctx, id.Actor(), in.Text, in.Version, mta.ApplyOptions{AllowOpenRelay: in.AllowOpenRelay})
	s.auditApply(id, "mastercfg", res, err)
	if err != nil {
		return MasterConfigResult{}, err
	}
	doc, err := s.mta.MasterConfig()
	return MasterConfigResult{Version: doc.Version, Applied: appliedOf(res)}, err
}
