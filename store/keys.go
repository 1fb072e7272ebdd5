package store

// Bucket names and fixed keys. Every bucket the store uses is listed here.
var (
	bucketMeta       = []byte("meta")
	bucketSettings   = []byte("settings")
	bucketMainConfig = []byte("mainconfig")
	bucketMaps       = []byte("maps")
	bucketMapContent = []byte("map_content")
	bucketMapStaging = []byte("map_staging") // content staged for a save (mapstage.go)
	bucketAudit      = []byte("audit")
	bucketUsers      = []byte("users")
	bucketTokens     = []byte("tokens")
	bucketMPASpool   = []byte("mpa_spool")
	bucketMPAErrors  = []byte("mpa_errors")
	bucketMPAConfig  = []byte("mpa_config")
	bucketMPABodies  = []byte("mpa_bodies")
	bucketMPASeen    = []byte("mpa_seen")
	bucketJobs       = []byte("jobs")
	bucketSPFSources = []byte("spf_sources")

	keySchemaVersion = []byte("schema_version")
	keyMTASettings   = []byte("mta")
	keyDocument      = []byte("document")
	keyMaster        = []byte("master")
	keyInstallation  = []byte("installation")
	keyContent       = []byte("content")
	keyWiring        = []byte("wiring")
	keyMPAPipeline   = []byte("pipeline")
	keySeenExpires   = []byte("\x00expires")
	keyCluster       = []byte("cluster")         // in meta: ClusterMeta
	keyMPAErrorUsage = []byte("mpa_error_usage") // in meta: the error repository's use (mpausage.go)
)
