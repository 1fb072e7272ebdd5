package webui

import (
	"errors"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"postdeck/admin"
	"postdeck/store"
)

// settingsForm holds the MTA Settings form as typed, so that a refused
// save shows exactly what the user entered. Lists are one entry per line.
type settingsForm struct {
	Hostname          string
	RelayDomains      string
	ExternalRelayHost string
	InternalRelayHost string
	RelayTransport    string
	RejectUnverified  bool
	RejectCode        string
	MyNetworks        string
	MessageSizeLimit  string
	HeloName          string
}

// settingsPageData is the Data of views/settings.html.
type settingsPageData struct {
	Form   settingsForm
	Errors map[string]string // field name (as in the API) -> sentence
	// SizeLimit is the stored Message Size Limit, shown in MiB next to
	// the field.
	SizeLimit int64
	// Version is what the form's save is based on.
	Version string
	// RejectCodes are the reply codes the form suggests, 450 and 550 first.
	RejectCodes []string
	// FirstError is the field of the first error in page order, which
	// gets the focus; "" when none.
	FirstError string
	// Confirm shows the box that confirms risky values (the save was
	// refused for them alone).
	Confirm bool
	// OpenRelay offers the "allow an open relay" checkbox, as the Edit
	// Main Config page does: the open-relay probe refused the settings,
	// and its sentence names allow_open_relay.
	OpenRelay bool
}

// settingsFieldOrder is the order of the fields on the settings page, in
// which errors are listed and the first one gets the focus.
var settingsFieldOrder = []string{"hostname", "relay_domains", "external_relay_host", "internal_relay_host",
	"relay_transport", "reject_unverified_recipient", "unverified_recipient_reject_code", "my_networks",
	"message_size_limit", "helo_name"}

// rejectCodes are the Unverified Recipient Reject Codes the form offers
// (any 4xx or 5xx is accepted): the temporary and the permanent one
// first, then those real configurations use.
var rejectCodes = []string{"450", "550", "421", "451", "452", "551", "553", "554"}

func settingsFormOf(st store.Settings) settingsForm {
	return settingsForm{
		Hostname:          st.Hostname,
		RelayDomains:      strings.Join(st.RelayDomains, "\n"),
		ExternalRelayHost: st.ExternalRelayHost,
		InternalRelayHost: st.InternalRelayHost,
		RelayTransport:    st.RelayTransport,
		RejectUnverified:  st.RejectUnverifiedRecipient,
		RejectCode:        strconv.Itoa(st.UnverifiedRecipientRejectCode),
		MyNetworks:        strings.Join(st.MyNetworks, "\n"),
		MessageSizeLimit:  strconv.FormatInt(st.MessageSizeLimit, 10),
		HeloName:          st.HeloName,
	}
}

func settingsFormFrom(c *fiber.Ctx) settingsForm {
	return settingsForm{
		Hostname:          strings.Clone(c.FormValue("hostname")),
		RelayDomains:      strings.Clone(c.FormValue("relay_domains")),
		ExternalRelayHost: strings.Clone(c.FormValue("external_relay_host")),
		InternalRelayHost: strings.Clone(c.FormValue("internal_relay_host")),
		RelayTransport:    strings.Clone(c.FormValue("relay_transport")),
		RejectUnverified:  c.FormValue("reject_unverified_recipient") != "",
		RejectCode:        strings.Clone(c.FormValue("unverified_recipient_reject_code")),
		MyNetworks:        strings.Clone(c.FormValue("my_networks")),
		MessageSizeLimit:  strings.Clone(c.FormValue("message_size_limit")),
		HeloName:          strings.Clone(c.FormValue("helo_name")),
	}
}

// settings turns the typed form into store.Settings. Numbers that do not
// parse are field errors; everything else is left to mta.ValidateSettings.
// A field that does not parse gets a placeholder value, so that the other
// fields are still checked and every error is shown at once.
func (f settingsForm) settings() (store.Settings, []error) {
	var errs []error
	for _, l := range []struct{ field, label, text string }{
		{admin.FieldRelayDomains, "Relay Domains", f.RelayDomains},
		{admin.FieldMyNetworks, "My Networks", f.MyNetworks},
	} {
		if len(l.text) > maxListField {
			errs = append(errs, store.Invalid(l.field, "%s may be at most 1 MiB of text; keep a list that long in a map and name it here as map:NAME", l.label))
		}
	}
	if len(errs) > 0 {
		// Not split: a list is counted by its size before it is cut up.
		f.RelayDomains, f.MyNetworks = "", ""
	}
	st := store.Settings{
		Hostname:                  strings.TrimSpace(f.Hostname),
		RelayDomains:              splitList(f.RelayDomains),
		ExternalRelayHost:         strings.TrimSpace(f.ExternalRelayHost),
		InternalRelayHost:         strings.TrimSpace(f.InternalRelayHost),
		RelayTransport:            strings.TrimSpace(f.RelayTransport),
		RejectUnverifiedRecipient: f.RejectUnverified,
		MyNetworks:                splitList(f.MyNetworks),
		HeloName:                  strings.TrimSpace(f.HeloName),
	}
	code, err := strconv.Atoi(strings.TrimSpace(f.RejectCode))
	if err != nil {
		errs = append(errs, store.Invalid(admin.FieldRejectCode, "Unverified Recipient Reject Code must be an SMTP reply code from 400 to 599, such as 450 or 550"))
		code = 450
	}
	st.UnverifiedRecipientRejectCode = code
	size, err := strconv.ParseInt(strings.TrimSpace(f.MessageSizeLimit), 10, 64)
	if err != nil {
		errs = append(errs, store.Invalid(admin.FieldMessageSizeLimit, "Message Size Limit must be a whole number of bytes, such as 52428800 for 50 MiB"))
		size = 1
	}
	st.MessageSizeLimit = size
	return st, errs
}

// inPageOrder returns every field error of err (and of the form's own
// parse errors) sorted by the page's field order.
func inPageOrder(order []string, errs ...error) []*store.UserError {
	var all []*store.UserError
	for _, err := range errs {
		var ue *store.UserError
		if errors.As(err, &ue) {
			all = append(all, ue.All()...)
		}
	}
	rank := func(f string) int {
		if i := slices.Index(order, f); i >= 0 {
			return i
		}
		return len(order)
	}
	slices.SortStableFunc(all, func(a, b *store.UserError) int { return rank(a.Field) - rank(b.Field) })
	return all
}

// maxListField bounds a list field of a form (Relay Domains, My
// Networks, the preview's recipients) before it is split into entries:
// the body may be 32 MiB, and one entry per byte pair would be millions.
const maxListField = 1 << 20

// splitList splits a textarea into entries: one per line, and commas or
// blanks also separate (as in main.cf), but not inside a table's braces
// (unionmap:{hash:/a, hash:/b}).
func splitList(s string) []string { return admin.SplitList(s) }

// pageSettings is GET /mta/settings.
func (s *Server) pageSettings(c *fiber.Ctx) error {
	settings, err := s.admin.Settings(c.UserContext(), who(c))
	if err != nil {
		return err
	}
	data := settingsPageData{Form: settingsFormOf(settings.Settings), SizeLimit: settings.MessageSizeLimit, Version: settings.Version, RejectCodes: rejectCodes}
	return s.renderKeyed(c, "settings", "MTA Settings", data.key(), func() any { return data })
}

// key names what the settings page shows (pageCache): the form's values,
// the size limit, the version the form saves on, the suggested codes, and
// the errors and the confirmation box (none on a GET, but a key that
// leaves them out would serve them to the next caller).
// TestSettingsKeyNamesWhatIsShown checks that every field is in it.
func (d settingsPageData) key() *pageKey {
	k := newPageKey()
	f := d.Form
	k.str(f.Hostname).str(f.RelayDomains).str(f.ExternalRelayHost).str(f.InternalRelayHost).str(f.RelayTransport).
		flag(f.RejectUnverified).str(f.RejectCode).str(f.MyNetworks).str(f.MessageSizeLimit).str(f.HeloName).
		num(d.SizeLimit).str(d.Version).num(int64(len(d.RejectCodes)))
	for _, c := range d.RejectCodes {
		k.str(c)
	}
	fields := slices.Sorted(maps.Keys(d.Errors))
	k.num(int64(len(fields)))
	for _, f := range fields {
		k.str(f).str(d.Errors[f])
	}
	k.str(d.FirstError).flag(d.Confirm).flag(d.OpenRelay)
	return k
}

// pageSettingsPost is POST /mta/settings: validate, store and apply, then
// back to the page with a message that Postfix was reloaded; or the form
// again, as typed, with the error next to its field.
func (s *Server) pageSettingsPost(c *fiber.Ctx) error {
	form := settingsFormFrom(c)
	in, parseErrs := form.settings()
	var res admin.SettingsResult
	var err error
	if len(parseErrs) > 0 {
		// The other fields are checked too, so that every error shows.
		err = store.JoinFields(append(parseErrs, admin.CheckSettings(in))...)
	} else {
		res, err = s.admin.SaveSettings(c.UserContext(), who(c), admin.SettingsDoc{Settings: in, Version: c.FormValue("version"), Confirm: c.FormValue("confirm") != "",
			AllowOpenRelay: c.FormValue("allow_open_relay") != ""})
		s.forgetStatus()
	}
	if err == nil {
		return s.flashAndRedirect(c, appliedFlash(res.Applied), "/mta/settings")
	}
	data := settingsPageData{Form: form, Errors: map[string]string{}, Version: c.FormValue("version"), RejectCodes: rejectCodes}
	if settings, lerr := s.admin.Settings(c.UserContext(), who(c)); lerr == nil {
		data.SizeLimit = settings.MessageSizeLimit
	}
	flash, status, ferr := s.formError(err)
	if ferr != nil {
		return ferr
	}
	if v, ok := staleVersion(err); ok {
		data.Version = v
		return s.renderStatus(c, status, "settings", "MTA Settings", data, flash)
	}
	fields := inPageOrder(settingsFieldOrder, err)
	if len(fields) == 0 || fields[0].Field == "" {
		return s.renderStatus(c, status, "settings", "MTA Settings", data, flash)
	}
	flash = &Flash{Kind: "error", Message: "The settings were not saved: correct the field marked below."}
	if len(fields) > 1 {
		flash.Message = "The settings were not saved: correct the " + strconv.Itoa(len(fields)) + " fields marked below."
	}
	data.OpenRelay = errors.Is(err, admin.ErrOpenRelay)
	if errors.Is(err, store.ErrConfirm) {
		data.Confirm = true
		flash = &Flash{Kind: "warning", Message: "The settings were not saved yet: the values marked below are risky. Confirm them at the foot of the form to apply them."}
	} else {
		data.FirstError = fields[0].Field
	}
	for _, fe := range fields {
		if _, dup := data.Errors[fe.Field]; !dup {
			data.Errors[fe.Field] = fe.Msg
		}
		flash.Details = append(flash.Details, fe.Msg)
	}
	return s.renderStatus(c, status, "settings", "MTA Settings", data, flash)
}

// appliedFlash is the message after a change went through the apply
// pipeline: what Postfix did, and any warnings.
func appliedFlash(res admin.Applied) *Flash {
	f := &Flash{Kind: "success", Message: res.Message, Details: res.Warnings}
	if len(res.Warnings) > 0 {
		f.Kind = "warning"
	}
	return f
}
