package jobs

import (
	"fmt"
	"math/rand/v2"
	"regexp"
	"strings"
	"time"

	"postdeck/store"
)

// DefaultValue is the right-hand side of every line of an SPF-derived map
// unless a source says otherwise: check_client_access cidr:... then OKs
// the provider's servers.
const DefaultValue = "OK"

// BuiltinSources returns the two sources of the documentation, refreshed
// from the SPF records of Office 365 and Google Workspace, each with a
// fresh random daily schedule.
func BuiltinSources() []store.SPFSource {
	return []store.SPFSource{
		{Domain: "spf.protection.outlook.com", Map: "spf.protection.outlook.com", Value: DefaultValue, Builtin: true, Schedule: DailySchedule()},
		{Domain: "gmail.com", Map: "gmail.com", Value: DefaultValue, Builtin: true, Schedule: DailySchedule()},
	}
}

// mapNameRe matches the map names a source may use; the map's file is
// maps.d/cidr.NAME.map.
var mapNameRe = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)

// SourceInput is what an administrator gives to add a source. Empty
// Schedule means once a day at a random minute; empty Value means OK.
type SourceInput struct {
	Domain   string `json:"domain"`
	Map      string `json:"map"`
	Schedule string `json:"schedule"`
	Value    string `json:"value"`
}

// DailySchedule returns a cron spec for once a day at a random minute of
// the day (UTC), so that appliances do not all ask at midnight.
func DailySchedule() string {
	return fmt.Sprintf("%d %d * * *", rand.IntN(60), rand.IntN(24))
}

// ValidateSource checks and normalizes in. Errors are *store.UserError
// naming the field.
func ValidateSource(in SourceInput) (store.SPFSource, error) {
	var s store.SPFSource
	s.Domain = strings.ToLower(strings.TrimSuffix(strings.TrimSpace(in.Domain), "."))
	if s.Domain == "" {
		return s, store.Invalid("domain", "domain is required, for example spf.protection.outlook.com")
	}
	if err := checkDomain(s.Domain); err != nil {
		return s, store.Invalid("domain", "domain %q is not a valid domain name", in.Domain)
	}
	s.Map = strings.TrimSpace(in.Map)
	if s.Map == "" {
		s.Map = s.Domain
	}
	if !mapNameRe.MatchString(s.Map) {
		return s, store.Invalid("map", "map name must be 1 to 64 lowercase letters, digits, '.', '_' or '-', starting with a letter or digit")
	}
	s.Schedule = strings.Join(strings.Fields(in.Schedule), " ")
	if s.Schedule == "" {
		s.Schedule = DailySchedule()
	} else if sch, err := ParseSchedule(s.Schedule); err != nil {
		return s, store.Invalid("schedule", "schedule must be a cron expression such as \"17 3 * * *\" (minute hour day-of-month month day-of-week, UTC, optional leading seconds) or @daily")
	} else if sch.Next(time.Now()).IsZero() {
		// cron gives up after five years: a date no month has (30
		// February) would keep the map at its first refresh for ever.
		return s, store.Invalid("schedule", "schedule %q never runs: no date matches it (for example 30 February)", s.Schedule)
	}
	s.Value = strings.TrimSpace(in.Value)
	if s.Value == "" {
		s.Value = DefaultValue
	}
	if len(s.Value) > 200 {
		return s, store.Invalid("value", "value must be at most 200 characters")
	}
	for _, c := range s.Value {
		if c < 0x20 || c > 0x7e {
			return s, store.Invalid("value", "value must be printable ASCII on one line, for example OK")
		}
	}
	return s, nil
}
