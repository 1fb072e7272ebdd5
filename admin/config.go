package admin

import (
	"context"
	"time"

	"postdeck/mta"
	"postdeck/store"
)

// Settings returns the MTA settings.
func (s *Service) Settings(ctx context.Context, id Identity) (store.Settings, error) {
	if err := need(id, PermRead); err != nil {
		return store.Settings{}, err
	}
	return s.db.LoadSettings()
}

// SettingsResult is the stored settings after a save, and what the apply did.
type SettingsResult struct {
	Settings store.Settings `json:"settings"`
	Applied
}

// SaveSettings validates, stores and applies new MTA settings. A refused
// save leaves the store and Postfix's files as they were.
func (s *Service) SaveSettings(ctx context.Context, id Identity, in store.Settings) (SettingsResult, error) {
	if err := need(id, PermAdmin); err != nil {
		return SettingsResult{}, err
	}
	res, err := s.mta.SaveSettings(ctx, id.Actor(), in)
	s.auditApply(id, "settings", res, err)
	if err != nil {
		return SettingsResult{}, err
	}
	st, err := s.db.LoadSettings()
	return SettingsResult{Settings: st, Applied: appliedOf(res)}, err
}

// MainConfig returns the Edit Main Config document.
func (s *Service) MainConfig(ctx context.Context, id Identity) (string, error) {
	if err := need(id, PermRead); err != nil {
		return "", err
	}
	return s.db.LoadMainConfig()
}

// SaveMainConfig validates and applies a new Edit Main Config document.
func (s *Service) SaveMainConfig(ctx context.Context, id Identity, text string) (Applied, error) {
	if err := need(id, PermAdmin); err != nil {
		return Applied{}, err
	}
	res, err := s.mta.SaveMainConfig(ctx, id.Actor(), text)
	s.auditApply(id, "mainconfig", res, err)
	return appliedOf(res), err
}

// ListMaps returns every map without its content, sorted by name.
func (s *Service) ListMaps(ctx context.Context, id Identity) ([]mta.MapInfo, error) {
	if err := need(id, PermRead); err != nil {
		return nil, err
	}
	return s.mta.ListMaps()
}

// MapDoc is one map as the console and API show it: the SASL password
// map's passwords masked.
type MapDoc struct {
	Name    string    `json:"name,omitempty"`
	Type    string    `json:"type"`
	Content string    `json:"content"`
	File    string    `json:"file,omitempty"`
	Lines   int       `json:"lines,omitempty"`
	Owner   string    `json:"owner,omitempty"`
	Updated time.Time `json:"updated,omitzero"`
}

// Map returns one map, passwords masked.
func (s *Service) Map(ctx context.Context, id Identity, name string) (MapDoc, error) {
	if err := need(id, PermRead); err != nil {
		return MapDoc{}, err
	}
	mp, err := s.mta.GetMap(name)
	if err != nil {
		return MapDoc{}, err
	}
	mp = mta.MaskSecrets(mp)
	info := s.mta.MapInfo(mp)
	return MapDoc{Name: mp.Name, Type: mp.Type, Content: mp.Content, File: info.File, Lines: info.Lines, Owner: mp.Owner, Updated: mp.Updated}, nil
}

// MapResult is a saved map (without content) and what the apply did.
type MapResult struct {
	Map mta.MapInfo `json:"map"`
	Applied
}

// SaveMapRequest is a map's new type and content; Create refuses a name
// that exists already (the Maps page's "new map" form).
type SaveMapRequest struct {
	Name    string
	Type    string
	Content string
	Create  bool
}

// SaveMap validates, stores and applies a map: its file and main.cf change
// together or not at all.
func (s *Service) SaveMap(ctx context.Context, id Identity, in SaveMapRequest) (MapResult, error) {
	if err := need(id, PermAdmin); err != nil {
		return MapResult{}, err
	}
	mp := store.Map{Name: in.Name, Type: in.Type, Content: in.Content}
	var res mta.Result
	var err error
	action := "map " + truncate(in.Name, 100)
	if in.Create {
		action = "create " + action
		res, err = s.mta.CreateMap(ctx, id.Actor(), mp)
	} else {
		res, err = s.mta.PutMap(ctx, id.Actor(), mp)
	}
	s.auditApply(id, action, res, err)
	if err != nil {
		return MapResult{}, err
	}
	saved, err := s.mta.GetMap(in.Name)
	if err != nil {
		return MapResult{}, err
	}
	return MapResult{Map: s.mta.MapInfo(saved), Applied: appliedOf(res)}, nil
}

// DeleteMap removes a map and its files; a map main.cf still references
// is a conflict that says where.
func (s *Service) DeleteMap(ctx context.Context, id Identity, name string) (Applied, error) {
	if err := need(id, PermAdmin); err != nil {
		return Applied{}, err
	}
	res, err := s.mta.DeleteMap(ctx, id.Actor(), name)
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
