package admin

import (
	"context"
	"errors"
	"strings"

	"postdeck/mta"
	"postdeck/store"
)

// MapRowsPage is one page of a map's rules, for the table view.
type MapRowsPage struct {
	Name    string       `json:"name"`
	Type    string       `json:"type"`
	Version string       `json:"version"`
	Total   int          `json:"total"` // rules that match the search
	Offset  int          `json:"offset"`
	Limit   int          `json:"limit"`
	Rows    []mta.MapRow `json:"rows"`
}

// MaxMapRowsPage is the most rules one page shows.
const MaxMapRowsPage = 500

// MapRows returns a page of a map's rules whose key or value contains q
// (case-insensitive; empty: all), passwords masked.
func (s *Service) MapRows(ctx context.Context, id Identity, name, q string, offset, limit int) (MapRowsPage, error) {
	if err := need(id, PermRead); err != nil {
		return MapRowsPage{}, err
	}
	if len(q) > 256 {
		return MapRowsPage{}, store.Invalid("q", "The search may be at most 256 characters")
	}
	if limit < 1 || limit > MaxMapRowsPage {
		limit = 50
	}
	offset = max(offset, 0)
	mp, _, err := s.editedMap(name)
	if err != nil {
		return MapRowsPage{}, err
	}
	page := MapRowsPage{Name: mp.Name, Type: mp.Type, Version: mta.MapVersion(mp), Offset: offset, Limit: limit, Rows: []mta.MapRow{}}
	lq := strings.ToLower(q)
	for _, r := range mta.MapRows(mp.Type, mta.MaskSecrets(mp).Content) {
		if lq != "" && !strings.Contains(strings.ToLower(r.Key), lq) && !strings.Contains(strings.ToLower(r.Value), lq) {
			continue
		}
		if page.Total >= offset && len(page.Rows) < limit {
			page.Rows = append(page.Rows, r)
		}
		page.Total++
	}
	return page, nil
}

// MapRowEdit is one row edit: Op add (at the end, or before the rule at
// Line), replace or delete the rule at Line; Base is the map's version the
// edit was made on (required: line numbers mean nothing in another
// version).
type MapRowEdit struct {
	Op    string `json:"op"`
	Line  int    `json:"line"`
	Key   string `json:"key"`
	Value string `json:"value"`
	Base  string `json:"version"`
}

// EditMapRow applies one row edit to a map and saves it through the apply
// pipeline, as a whole-map save would.
func (s *Service) EditMapRow(ctx context.Context, id Identity, name string, in MapRowEdit) (MapResult, error) {
	if err := need(id, PermAdmin); err != nil {
		return MapResult{}, err
	}
	action := "map " + truncate(name, 100) + " (" + truncate(in.Op, 10) + " row)"
	fail := func(err error) (MapResult, error) {
		s.auditFailure(id, action, err)
		return MapResult{}, err
	}
	if in.Base == "" {
		return fail(store.Invalid("version", "A row edit needs the map's version it was made on"))
	}
	// The rows are edited on the map a change is made on: the
	// cluster's when this node refused it (its table shows that one).
	mp, _, err := s.editedMap(name)
	if errors.Is(err, store.ErrNotFound) {
		// The edit was made on a version of the map (Base), so the map
		// was deleted since: a conflict, as a whole-map save based on a
		// version answers (mta's PutMap, StaleDeleted), not "does not
		// exist".
		return fail(rowMapDeleted(name))
	}
	if err != nil {
		return fail(err)
	}
	if cur := mta.MapVersion(mp); cur != in.Base {
		return fail(store.Stale("map "+name, cur, "the map changed since you opened it; reload it and edit the row again"))
	}
	content, err := mta.EditMapRows(mp.Type, mp.Content, in.Op, in.Line, in.Key, in.Value)
	if err != nil {
		return fail(err)
	}
	res, err := s.mta.PutMap(ctx, id.Actor(), store.Map{Name: mp.Name, Type: mp.Type, Content: content}, in.Base)
	s.auditApply(id, action, res, err)
	if err != nil {
		return MapResult{}, err
	}
	saved, err := s.mta.GetMap(name)
	if err != nil {
		return MapResult{}, err
	}
	return MapResult{Map: s.mta.MapInfo(saved), Version: mta.MapVersion(saved), Applied: appliedOf(res)}, nil
}

// rowMapDeleted is the conflict of a row edit on a map deleted since the
// edit's version was read: 409 as a whole-map save's (store.StaleDeleted),
// without its "save again to create it anew", which a row edit cannot do.
func rowMapDeleted(name string) error {
	return &store.UserError{Kind: store.ErrConflict, Field: "version", Diff: "the map was deleted",
		Msg: store.Sentence("Someone else deleted map %s since you opened it, so nothing was saved. Create the map again to add rules to it", name)}
}
