package admin

// The types and names of the domain packages that the edge (webui, the
// CLI) sees. They are re-exported here so that the edge imports only this
// package and store's value types: every action goes through Service.

import (
	"net/url"

	"postdeck/jobs"
	"postdeck/mpa"
	"postdeck/mta"
	"postdeck/queue"
)

// Apply pipeline.
type (
	// ApplyError is a change Postfix refused (with its own words).
	ApplyError = mta.ApplyError
	// ApplyReport is the last apply, for the dashboard.
	ApplyReport = mta.ApplyReport
	// MapInfo describes a map without its content.
	MapInfo = mta.MapInfo
)

// ErrOpenRelay marks the refusal of a settings or main config save that
// would make Postfix relay mail for strangers; the same request with
// allow_open_relay goes through (and its audit entry says so).
var ErrOpenRelay = mta.ErrOpenRelay

// The Postfix queue and Send Mail.
type (
	QueueFilter       = queue.Filter
	QueuePage         = queue.Page
	QueueItem         = queue.Message
	QueueSummary      = queue.Summary
	QueueRecipient    = queue.Recipient
	QueueMessageView  = queue.MessageView
	QueueActionResult = queue.ActionResult
	SendMailRequest   = queue.SendMailRequest
)

// The MPA.
type (
	MPACounts      = mpa.Counts
	SpoolItem      = mpa.SpoolItem
	SpoolHead      = mpa.SpoolHead
	ErrorItem      = mpa.ErrorItem
	ErrorDetail    = mpa.ErrorDetail
	PreviewRequest = mpa.PreviewRequest
	PreviewResult  = mpa.PreviewResult
)

// SPF sources.
type (
	SPFSourceInput  = jobs.SourceInput
	SPFSourceStatus = jobs.SourceStatus
	SPFRefresh      = jobs.RefreshResult
)

// Names of the default maps and settings fields, for forms and help.
const (
	MapVirtualAlias    = mta.MapVirtualAlias
	MapTLSPolicy       = mta.MapTLSPolicy
	MapSASLPasswords   = mta.MapSASLPasswords
	MapRecipientAccess = mta.MapRecipientAccess
	MapTransport       = mta.MapTransport

	FieldRejectCode       = mta.FieldRejectCode
	MapRefPrefix          = mta.MapRefPrefix
	FieldMessageSizeLimit = mta.FieldMessageSizeLimit
	FieldRelayDomains     = mta.FieldRelayDomains
	FieldMyNetworks       = mta.FieldMyNetworks
)

// Queue actions and the caution the documentation gives for Flush.
const (
	QueueActionDelete  = queue.ActionDelete
	QueueActionBounce  = queue.ActionBounce
	QueueActionHold    = queue.ActionHold
	QueueActionRelease = queue.ActionRelease
	QueueActionRequeue = queue.ActionRequeue
	QueueActionRetry   = queue.ActionRetry
	FlushCaution       = queue.FlushCaution
	QueuePageSize      = queue.DefaultPageSize
	// QueueMaxActionIDs is how many messages one queue action may name.
	QueueMaxActionIDs = queue.MaxActionIDs
	// QueueFilterTextMax is how many characters a queue filter's text may
	// have.
	QueueFilterTextMax = queue.MaxFilterText
	// QueueMaxTriggerEach is how many delivery attempts one bounce or
	// retry asks Postfix for.
	QueueMaxTriggerEach = queue.MaxTriggerEach
)

// Error-repository actions, the MPA's trace header and the rules syntax.
const (
	ErrorActionDelete  = mpa.ActionDelete
	ErrorActionRequeue = mpa.ActionRequeue
	TraceHeader        = mpa.TraceHeader
	// MaxTemplates is how many templates the MPA's pipeline may hold.
	MaxTemplates = mpa.MaxTemplates
)

// MapTypes are the map types postdeck manages, in the order forms offer
// them.
var MapTypes = mta.MapTypes

// QueueActions and QueueNames list the queue actions and queues.
var (
	QueueActions = queue.Actions
	QueueNames   = queue.Names
)

// RulesSyntax and TemplateVariables are the Rules page's help.
var (
	RulesSyntax       = mpa.RulesSyntax
	TemplateVariables = mpa.TemplateVariables
)

// ParseQueueFilter reads a queue filter from query or form values.
func ParseQueueFilter(v url.Values) (queue.Filter, error) { return queue.ParseFilter(v) }

// ValidQueueID reports whether id looks like a Postfix queue id.
func ValidQueueID(id string) bool { return queue.ValidID(id) }

// Readable is text from mail as a page shows it: what is not UTF-8,
// control characters and bidirectional controls become U+FFFD, so that a
// sender cannot make an address or a reason read as another.
func Readable(s string) string { return queue.Readable(s) }

// MaskPasswords masks the passwords of the content of a map that holds
// SASL passwords (MapDoc.Secret), for display.
func MaskPasswords(content string) string {
	return mta.MaskPasswords(content)
}

// SplitList splits the text of a Relay domains or My Networks field into
// entries, as Postfix splits a list (never inside a table's braces).
func SplitList(s string) []string { return mta.SplitList(s) }

// ParseAddressList splits a comma- or line-separated list of addresses, as
// Send Mail's Recipients field takes them.
func ParseAddressList(s string) queue.AddressList { return queue.ParseAddressList(s) }

// LogLine is one line of Postfix's log.
type LogLine = mta.LogLine
