package jobs

import (
	"context"

	"postdeck/mta"
	"postdeck/store"
)

// mtaSaver is the MapSaver the daemon wires (package admin's, minus the
// audit entry): the refresher's maps go through mta's real apply pipeline.
type mtaSaver struct{ m *mta.Manager }

func (s mtaSaver) PutMap(ctx context.Context, actor string, mp store.Map) error {
	_, err := s.m.PutRefresherMap(ctx, actor, mp)
	return err
}

func (s mtaSaver) PutMaps(ctx context.Context, actor string, ms []store.Map) []error {
	return s.m.PutRefresherMaps(ctx, actor, ms)
}

func (s mtaSaver) GetMap(name string) (store.Map, error) { return s.m.GetMap(name) }
