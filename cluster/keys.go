package cluster

import (
	"strings"
)

// The keys under the cluster's prefix (default /postdeck/). Every key of
// the shared configuration is below config/ or shared/; a write of any of
// them also writes rev, whose modification revision is the configuration's
// revision and whose version counts the configuration's revisions.
const (
	keyMeta       = "meta"              // ClusterInfo: seeding or ready
	keyRev        = "rev"               // RevMarker: the last configuration change
	keySettings   = "config/settings"   // store.Settings (JSON), the shared values
	keyMainConfig = "config/mainconfig" // the Edit Main Config document
	keyMaster     = "config/master"     // an imported master.cf (absent: postdeck's own)
	dirMaps       = "config/maps/"      // + map name: store.Map (JSON)
	dirShared     = "shared/"           // + bucket + "/" + key: the stored value as is
	dirNodes      = "nodes/"            // + node name: report.NodeRecord (JSON), no lease
	dirStatus     = "status/"           // + node name: report.NodeStatus (JSON), under the node's lease
	dirElection   = "election/"         // + job: etcd elections (the SPF refresh)
	keyPeerToken  = "secret/peer-token" // the bearer token nodes act on each other's API with
	dirAudit      = "audit/"            // + node + "/" + seq (20 digits): store.AuditEntry (JSON)
)

// keys turns relative keys into keys under one prefix.
type keys string

func (k keys) of(rel string) string { return string(k) + rel }

func (k keys) rel(abs string) (string, bool) { return strings.CutPrefix(abs, string(k)) }

// normPrefix makes a prefix start and end with "/".
func normPrefix(p string) string {
	if p == "" {
		p = DefaultPrefix
	}
	if !strings.HasPrefix(p, "/") {
		p = "/" + p
	}
	if !strings.HasSuffix(p, "/") {
		p += "/"
	}
	return p
}

// DefaultPrefix is where postdeck keeps a cluster's keys.
const DefaultPrefix = "/postdeck/"
