package webui

import (
	"errors"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"postdeck/admin"
	"postdeck/store"
)

// mapHelp is the format help and example of a map on its editor page,
// from the documentation's "Maps" section.
type mapHelp struct {
	About   string
	Format  string
	Example string
	Link    string
}

// defaultMapHelp is the help of the default maps, by name.
var defaultMapHelp = map[string]mapHelp{
	admin.MapVirtualAlias: {
		About:   "Forwarding for local email: each line maps an address to the addresses it is forwarded to. We recommend forwarding root to a mailbox an administrator reads.",
		Format:  "<local-email> <forward-email>",
		Example: "root tech@example.com",
		Link:    "https://www.postfix.org/virtual.5.html",
	},
	admin.MapTLSPolicy: {
		About:   "Outgoing TLS policy per destination. The default is opportunistic TLS; a policy line makes Postfix deliver to that domain only over a trusted connection. [host] applies the policy only when connecting to that exact host. Policies: none, may, encrypt, dane, dane-only, fingerprint, verify, secure; attributes such as match=, ciphers=, protocols=.",
		Format:  "<domain> <policy> [attribute=value ...]",
		Example: "example.com:25 verify\nciphermail.com verify\n[tls.example.com] verify match=alternative.com",
		Link:    "https://www.postfix.org/TLS_README.html",
	},
	admin.MapSASLPasswords: {
		About:   "Destinations that need a user name and password. [host] applies only when connecting to that exact host. Passwords are never shown: they appear as ********; leave ******** (or an empty password) to keep the stored one.",
		Format:  "<domain> <username>:<password>",
		Example: "[smtp.example.com]    test:notsosecretpassword",
		Link:    "https://www.postfix.org/SASL_README.html",
	},
	admin.MapRecipientAccess: {
		About:   "check_recipient_access: maps a RCPT TO address or domain to an access(5) action: OK, REJECT optional text, DEFER, 4NN/5NN text, BCC user@domain, PREPEND headername: headervalue, REDIRECT user@domain, DISCARD, HOLD, ...",
		Format:  "<recipient or domain> <action>",
		Example: "spam-trap@example.com REJECT no such user\narchive@example.com BCC copy@example.com\nexample.org PREPEND X-Checked: yes",
		Link:    "https://www.postfix.org/access.5.html",
	},
	admin.MapTransport: {
		About:   "Routes mail for specific recipients or domains to a transport and next hop, ahead of the External and Internal Relay Host. Write transport:nexthop; [host] turns off MX lookups, :port picks the port. A next hop without a transport (\"[host]:port\") would make Postfix take \"[host]\" as the transport name: write smtp:[host]:port.",
		Format:  "<pattern> <transport>:<next-hop>",
		Example: "abuse@partner.example.com  smtp:[abuse.smtp.example.com]:1234\npartner.example.com        smtp:[tls.smtp.example.com]",
		Link:    "https://www.postfix.org/transport.5.html",
	},
}

// typeHelp is the format of each map type, for maps without their own help.
var typeHelp = map[string]mapHelp{
	"hash":   {Format: "<key> <value>", Example: "example.com OK", Link: "https://www.postfix.org/postmap.1.html"},
	"btree":  {Format: "<key> <value>", Example: "example.com OK", Link: "https://www.postfix.org/postmap.1.html"},
	"cidr":   {Format: "<network/prefix> <result>  (IF network ... ENDIF)", Example: "192.0.2.0/24 OK\n2001:db8::/32 REJECT", Link: "https://www.postfix.org/cidr_table.5.html"},
	"pcre":   {Format: "/pattern/flags <result>  (IF /pattern/ ... ENDIF)", Example: "/^(.*)@old\\.example$/ $1@new.example", Link: "https://www.postfix.org/pcre_table.5.html"},
	"regexp": {Format: "/pattern/flags <result>  (IF /pattern/ ... ENDIF)", Example: "/^user-[0-9]+@example\\.com$/ REJECT", Link: "https://www.postfix.org/regexp_table.5.html"},
}

// mapTypes lists the types the editor offers.
var mapTypeChoices = admin.MapTypes

// mapsPageData is the Data of views/maps.html.
type mapsPageData struct {
	Maps  []admin.MapInfo
	Types []string
	// The create form, kept on error.
	Name, Type, Content string
	Secret              bool // "Holds passwords" ticked
	Error               string
	ErrorLine           int
}

// mapPageData is the Data of views/map.html.
type mapPageData struct {
	Map       admin.MapInfo
	Version   string // what the form's save is based on
	Content   string
	Types     []string
	Help      mapHelp
	Error     string
	ErrorLine int
	Refresher bool
	// Secret: the map holds SASL passwords, masked in Content.
	Secret bool
	// Marked: the refused save had "Holds passwords" ticked (the box
	// comes back ticked).
	Marked bool
	// TextView shows the whole content in one editor (bulk edits); the
	// default is the table of rules, RowsPage, searched with Q.
	TextView bool
	RowsPage admin.MapRowsPage
	Q        string
	// Edit refills a row edit the server refused (Line 0: the add form).
	Edit *mapRowForm
	// The lookup tester.
	Key       string
	Looked    bool
	Found     bool
	Value     string
	LookupErr string
}

// pageMaps is GET /mta/maps: the list of maps and, for admins, the form
// that creates one.
func (s *Server) pageMaps(c *fiber.Ctx) error {
	return s.showMaps(c, mapsPageData{Type: "hash"}, nil, fiber.StatusOK)
}

func (s *Server) showMaps(c *fiber.Ctx, data mapsPageData, flash *Flash, status int) error {
	maps, err := s.admin.ListMaps(c.UserContext(), who(c))
	if err != nil {
		return err
	}
	data.Maps, data.Types = maps, mapTypeChoices
	return s.renderStatus(c, status, "maps", "Maps", data, flash)
}

// pageMapsCreate is POST /mta/maps: create a map (name, type, content,
// and "secret" when it holds passwords).
func (s *Server) pageMapsCreate(c *fiber.Ctx) error {
	data := mapsPageData{Name: strings.TrimSpace(c.FormValue("name")), Type: c.FormValue("type"), Content: strings.ReplaceAll(c.FormValue("content"), "\r\n", "\n"), Secret: c.FormValue("secret") != ""}
	res, err := s.admin.SaveMap(c.UserContext(), who(c), admin.SaveMapRequest{Name: data.Name, Type: data.Type, Content: data.Content, Create: true, Secret: data.Secret})
	if err == nil {
		return s.flashAndRedirect(c, appliedFlash(res.Applied), "/mta/maps/"+url.PathEscape(data.Name))
	}
	flash, status, ferr := s.formError(err)
	if ferr != nil {
		return ferr
	}
	if data.Secret {
		data.Content = admin.MaskPasswords(data.Content) // a password is not written back
	}
	var fe *store.UserError
	if errors.As(err, &fe) {
		data.Error, data.ErrorLine = fe.Msg, fe.Line
		flash = &Flash{Kind: "error", Message: "The map was not created: correct the error shown under the form."}
	}
	return s.showMaps(c, data, flash, status)
}

// pageMap is GET /mta/maps/{name}: the editor with format help, examples
// and the lookup tester (?key=..., a read-only question to Postfix). The
// passwords of a map that holds SASL passwords are masked.
func (s *Server) pageMap(c *fiber.Ctx) error {
	data, err := s.mapPage(c, param(c, "name"))
	if err != nil {
		return err
	}
	if key := c.Query("key"); key != "" {
		s.lookup(c, &data, key)
	}
	data.TextView = c.Query("view") == "text"
	if !data.TextView {
		if err := s.loadRows(c, &data, c.Query("q"), c.QueryInt("offset", 0)); err != nil {
			return err
		}
	}
	return s.render(c, "map", "Map "+data.Map.Name, data)
}

// mapRowsPerPage is how many rules the table view shows at once.
const mapRowsPerPage = 50

// loadRows fills the table view: the rules matching q, one page.
func (s *Server) loadRows(c *fiber.Ctx, data *mapPageData, q string, offset int) error {
	page, err := s.admin.MapRows(c.UserContext(), who(c), data.Map.Name, q, offset, mapRowsPerPage)
	if err != nil {
		return err
	}
	data.RowsPage, data.Q = page, q
	return nil
}

// mapRowForm is one row edit as the form sent it.
type mapRowForm struct {
	Op, Key, Value, Error string
	Line                  int
}

// pageMapRowPost is POST /mta/maps/{name}/rows: add, replace or delete one
// rule of the table view, saved and applied like the whole map; the page
// comes back at the same search and page. A refused edit shows the table
// again with the row as typed and the reason (400, or 409 when the map
// changed meanwhile).
func (s *Server) pageMapRowPost(c *fiber.Ctx) error {
	name := param(c, "name")
	edit := admin.MapRowEdit{Op: postValue(c, "op"), Key: postValue(c, "key"), Value: postValue(c, "value"), Base: postValue(c, "version")}
	edit.Line, _ = strconv.Atoi(postValue(c, "line"))
	q, offset := postValue(c, "q"), 0
	offset, _ = strconv.Atoi(postValue(c, "offset"))
	back := "/mta/maps/" + url.PathEscape(name) + "?" + url.Values{"q": {q}, "offset": {strconv.Itoa(offset)}}.Encode()
	res, err := s.admin.EditMapRow(c.UserContext(), who(c), name, edit)
	if err == nil {
		f := appliedFlash(res.Applied)
		f.Message = map[string]string{"add": "Rule added. ", "replace": "Rule saved. ", "delete": "Rule deleted. "}[edit.Op] + f.Message
		return s.flashAndRedirect(c, f, back)
	}
	flash, status, ferr := s.formError(err)
	if ferr != nil {
		return ferr
	}
	data, derr := s.mapPage(c, name)
	if errors.Is(derr, store.ErrNotFound) {
		return s.rowEditOfDeletedMap(c, name, edit)
	}
	if derr != nil {
		return derr
	}
	if lerr := s.loadRows(c, &data, q, offset); lerr != nil {
		return lerr
	}
	data.Edit = &mapRowForm{Op: edit.Op, Line: edit.Line, Key: edit.Key, Value: edit.Value, Error: flash.Message}
	if edit.Op == "add" {
		data.Edit.Line = 0
	} else if _, stale := staleVersion(err); stale {
		// The map changed: the line number may hold another rule now,
		// and "save again" there would replace it. The edit goes back
		// on the rule it was made on (the row's key when the page was
		// drawn), nearest its old line; off this page, it is said.
		data.Edit.Line = -1
		was, best := postValue(c, "was"), -1
		for _, r := range data.RowsPage.Rows {
			if r.Key == was && (best < 0 || lineDistance(r.Line, edit.Line) < lineDistance(best, edit.Line)) {
				best = r.Line
			}
		}
		if best > 0 {
			data.Edit.Line = best
		} else {
			shown := edit.Value
			if data.Secret {
				shown = "" // a password is not written back
			}
			flash.Details = append(flash.Details, strings.TrimSpace("Your edit, not saved: "+edit.Op+" "+edit.Key+" "+shown))
		}
	}
	return s.renderStatus(c, status, "map", "Map "+name, data, flash)
}

func lineDistance(a, b int) int { return max(a-b, b-a) }

// rowEditOfDeletedMap answers a row edit of a map that someone else
// deleted since the page was drawn (a 404 page would lose the typed
// rule): the Maps page, whose create form holds the map's name and type
// and the rule as typed, so that creating the map anew with it is one
// decision, not retyping. A deleted rule went with its map. A password is
// not written back.
func (s *Server) rowEditOfDeletedMap(c *fiber.Ctx, name string, edit admin.MapRowEdit) error {
	if edit.Op == "delete" {
		return s.flashAndRedirect(c, &Flash{Kind: "info", Message: "Someone else deleted map " + name + " since you opened it; the rule you deleted went with it."}, "/mta/maps")
	}
	typ := postValue(c, "type")
	if !slices.Contains(mapTypeChoices, typ) {
		typ = "hash"
	}
	rule := strings.TrimSpace(edit.Key + " " + edit.Value)
	if deletedMapPage(name, typ).Secret {
		rule = strings.TrimSpace(edit.Key)
	}
	data := mapsPageData{Name: name, Type: typ, Content: rule + "\n"}
	flash := &Flash{Kind: "error", Message: "Someone else deleted map " + name + " since you opened it, so your rule was not saved. The form below creates the map anew with it."}
	return s.showMaps(c, data, flash, fiber.StatusConflict)
}

func (s *Server) mapPage(c *fiber.Ctx, name string) (mapPageData, error) {
	mp, err := s.admin.Map(c.UserContext(), who(c), name)
	if err != nil {
		return mapPageData{}, err
	}
	help, ok := defaultMapHelp[mp.Name]
	switch {
	case !ok && mp.Secret:
		// A map a SASL password parameter refers to: its format, and
		// how its masked passwords are kept.
		help = defaultMapHelp[admin.MapSASLPasswords]
	case !ok:
		help = typeHelp[mp.Type]
	}
	info := admin.MapInfo{Name: mp.Name, Type: mp.Type, File: mp.File, Lines: mp.Lines, Owner: mp.Owner, Updated: mp.Updated}
	return mapPageData{Map: info, Version: mp.Version, Content: mp.Content, Types: mapTypeChoices, Help: help, Refresher: mp.Owner == store.OwnerRefresher, Secret: mp.Secret}, nil
}

// pageMapPost is POST /mta/maps/{name}: validate, store and apply.
func (s *Server) pageMapPost(c *fiber.Ctx) error {
	name := param(c, "name")
	if err := needFormField(c, "content"); err != nil {
		return err
	}
	typ, content := c.FormValue("type"), strings.ReplaceAll(c.FormValue("content"), "\r\n", "\n")
	data, err := s.mapPage(c, name)
	if errors.Is(err, store.ErrNotFound) {
		// Deleted by someone else since this editor was opened: the
		// save below says so (or, without a version, creates the map),
		// and the page keeps what was typed instead of a 404 that
		// loses it.
		data = deletedMapPage(name, typ)
	} else if err != nil {
		return err
	}
	base := c.FormValue("version")
	// The box of a map that holds passwords already is disabled (not
	// sent): the map stays secret all the same.
	mark := c.FormValue("secret") != ""
	res, err := s.admin.SaveMap(c.UserContext(), who(c), admin.SaveMapRequest{Name: name, Type: typ, Content: content, Base: base, Secret: mark})
	if err == nil {
		return s.flashAndRedirect(c, appliedFlash(res.Applied), "/mta/maps/"+url.PathEscape(name))
	}
	flash, status, ferr := s.formError(err)
	if ferr != nil {
		return ferr
	}
	data.Content, data.Map.Type = content, typ
	data.Marked = mark && !data.Secret
	if data.Secret || mark {
		data.Content = admin.MaskPasswords(content)
	}
	data.Version = base
	data.TextView = true
	var fe *store.UserError
	if v, ok := staleVersion(err); ok {
		data.Version = v
	} else if errors.As(err, &fe) {
		data.Error, data.ErrorLine = fe.Msg, fe.Line
		flash = &Flash{Kind: "error", Message: "The map was not saved: correct the error shown under the editor."}
		if fe.Line > 0 {
			flash.Message = "The map was not saved: correct line " + strconv.Itoa(fe.Line) + "."
		}
	}
	return s.renderStatus(c, status, "map", "Map "+name, data, flash)
}

// deletedMapPage is the editor of a map that is not stored (any more):
// the help of its name or type, nothing else known.
func deletedMapPage(name, typ string) mapPageData {
	help, ok := defaultMapHelp[name]
	if !ok {
		help = typeHelp[typ]
	}
	return mapPageData{Map: admin.MapInfo{Name: name, Type: typ}, Types: mapTypeChoices, Help: help, Secret: name == admin.MapSASLPasswords}
}

// pageMapDelete is POST /mta/maps/{name}/delete.
func (s *Server) pageMapDelete(c *fiber.Ctx) error {
	name := param(c, "name")
	res, err := s.admin.DeleteMap(c.UserContext(), who(c), name, c.FormValue("version"))
	if errors.Is(err, store.ErrNotFound) {
		// Deleted by someone else meanwhile: its page would be a 404
		// that repeats the flash.
		return s.flashAndRedirect(c, &Flash{Kind: "info", Message: "Map " + name + " was already deleted, by someone else since you opened it; nothing was done."}, "/mta/maps")
	}
	if err != nil {
		flash, _, ferr := s.formError(err)
		if ferr != nil {
			return ferr
		}
		return s.flashAndRedirect(c, flash, "/mta/maps/"+url.PathEscape(name))
	}
	f := appliedFlash(res)
	f.Message = "Map " + name + " deleted. " + f.Message
	return s.flashAndRedirect(c, f, "/mta/maps")
}

// lookup runs the lookup tester: postmap -q on the live file.
func (s *Server) lookup(c *fiber.Ctx, data *mapPageData, key string) {
	data.Key = key
	res, err := s.admin.LookupMap(c.UserContext(), who(c), data.Map.Name, key)
	if err != nil {
		code, body := errorStatus(err)
		if code >= 500 {
			s.log.Error("map lookup failed", "map", data.Map.Name, "err", err)
		}
		data.LookupErr = body.Error
		return
	}
	data.Looked, data.Found, data.Value = true, res.Found, res.Value
}
