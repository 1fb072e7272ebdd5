package admin

import (
	"context"
	"errors"
	"reflect"
	"testing"

	"postdeck/store"
)

// opPerms is the permission of every operation that takes an Identity.
// TestEveryOperationChecksItsPermission fails when an operation is missing
// here, so a new one cannot forget its check.
var opPerms = map[string]Perm{
	"Status": PermRead, "ClusterStatus": PermRead, "PeerQueue": PermRead, "PeerMPAErrors": PermRead,
	"PeerQueueAction": PermOperate, "PeerMPAErrorAction": PermOperate, "Settings": PermRead, "MainConfig": PermRead, "MasterConfig": PermRead, "ListMaps": PermRead,
	"Map": PermRead, "LookupMap": PermRead, "QueueList": PermRead, "QueueSummary": PermRead,
	"QueueMessage": PermRead, "MPAQueue": PermRead, "MPAQueueHead": PermRead, "MPAErrorPage": PermRead, "MPAErrorSelection": PermRead, "MPAError": PermRead,
	"MPACounts": PermRead, "Pipeline": PermRead, "Preview": PermAdmin, "SPFSources": PermRead,
	"AuditLog": PermAudit, "FindAudit": PermAudit, "Dashboard": PermRead, "PostfixLog": PermRead, "ControlPostfix": PermAdmin, "MapRows": PermRead, "EditMapRow": PermAdmin,
	"QueueAction": PermOperate, "QueueDownload": PermOperate, "QueueFlush": PermOperate, "SendMail": PermOperate, "MPAErrorAction": PermOperate,
	"SaveSettings": PermAdmin, "SaveMainConfig": PermAdmin, "SaveMasterConfig": PermAdmin, "SaveMap": PermAdmin, "DeleteMap": PermAdmin,
	"SavePipeline": PermAdmin, "AddSPFSource": PermAdmin, "RemoveSPFSource": PermAdmin, "RefreshSPF": PermAdmin,
	"SaveUser": PermAdmin, "CreateToken": PermAdmin, "Backup": PermAdmin, "Restore": PermAdmin, "Reapply": PermAdmin,
	"AddUser": PermAdmin, "ListUsers": PermAdmin, "SetRole": PermAdmin, "DeleteUser": PermAdmin,
	"ListTokens": PermAdmin, "RevokeToken": PermAdmin,
	"ChangeOwnPassword": PermSelf,
}

// TestEveryOperationChecksItsPermission calls every operation that takes
// an Identity with each role that may not use it: each must refuse with
// store.ErrForbidden before touching anything (the Service here has no
// dependencies at all, so an operation that skipped its check would
// panic or fail differently).
func TestEveryOperationChecksItsPermission(t *testing.T) {
	s := New(Config{})
	v := reflect.ValueOf(s)
	idType := reflect.TypeOf(Identity{})
	roles := []string{store.RoleAdmin, store.RoleOperator, store.RoleAuditor, "", "root"}
	checked := 0
	for i := 0; i < v.NumMethod(); i++ {
		m := v.Type().Method(i)
		mt := m.Type
		if mt.NumIn() < 3 || mt.In(2) != idType {
			continue
		}
		perm, ok := opPerms[m.Name]
		if !ok {
			t.Errorf("operation %s takes an Identity but has no permission in opPerms", m.Name)
			continue
		}
		for _, role := range roles {
			if perm.Allows(role) {
				continue
			}
			args := []reflect.Value{reflect.ValueOf(context.Background()), reflect.ValueOf(Identity{Name: "x", Role: role, Via: ViaToken})}
			for j := 3; j < mt.NumIn(); j++ {
				args = append(args, reflect.Zero(mt.In(j)))
			}
			var out []reflect.Value
			func() {
				defer func() {
					if r := recover(); r != nil {
						t.Errorf("%s as %q panicked instead of refusing: %v", m.Name, role, r)
					}
				}()
				out = v.Method(i).Call(args)
			}()
			if out == nil {
				continue
			}
			err, _ := out[len(out)-1].Interface().(error)
			if !errors.Is(err, store.ErrForbidden) {
				t.Errorf("%s as %q: %v, want forbidden", m.Name, role, err)
			}
		}
		checked++
	}
	if checked != len(opPerms) {
		t.Errorf("checked %d operations, opPerms lists %d", checked, len(opPerms))
	}
}

func TestPermAllows(t *testing.T) {
	for _, tc := range []struct {
		p    Perm
		role string
		want bool
	}{
		{PermRead, store.RoleAuditor, true}, {PermRead, "", false}, {PermRead, "root", false},
		{PermOperate, store.RoleOperator, true}, {PermOperate, store.RoleAuditor, false},
		{PermAdmin, store.RoleAdmin, true}, {PermAdmin, store.RoleOperator, false},
		{PermAudit, store.RoleAuditor, true}, {PermAudit, store.RoleOperator, false},
		{PermPublic, "", true},
	} {
		if got := tc.p.Allows(tc.role); got != tc.want {
			t.Errorf("%d.Allows(%q) = %v", tc.p, tc.role, got)
		}
	}
}
