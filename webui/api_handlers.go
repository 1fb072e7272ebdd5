package webui

// The JSON API: each handler decodes the request, calls one operation of
// the operations layer (package admin) and answers its result as JSON.
// Errors go to errorHandler (errors.go).

import (
	"bytes"
	"net/url"
	"os"
	"time"

	"github.com/gofiber/fiber/v2"

	"postdeck/admin"
	"postdeck/store"
)

func (s *Server) statusGet(c *fiber.Ctx) error {
	st, err := s.admin.Status(c.UserContext(), who(c))
	if err != nil {
		return err
	}
	return c.JSON(st)
}

func (s *Server) settingsGet(c *fiber.Ctx) error {
	st, err := s.admin.Settings(c.UserContext(), who(c))
	if err != nil {
		return err
	}
	return c.JSON(st)
}

func (s *Server) settingsPut(c *fiber.Ctx) error {
	var in store.Settings
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	res, err := s.admin.SaveSettings(c.UserContext(), who(c), in)
	if err != nil {
		return err
	}
	s.ui.status.forget()
	return c.JSON(res)
}

// mainConfigDoc is the body of GET and PUT /api/v1/mainconfig.
type mainConfigDoc struct {
	Text string `json:"text"`
}

func (s *Server) mainconfigGet(c *fiber.Ctx) error {
	text, err := s.admin.MainConfig(c.UserContext(), who(c))
	if err != nil {
		return err
	}
	return c.JSON(mainConfigDoc{Text: text})
}

func (s *Server) mainconfigPut(c *fiber.Ctx) error {
	var in mainConfigDoc
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	res, err := s.admin.SaveMainConfig(c.UserContext(), who(c), in.Text)
	if err != nil {
		return err
	}
	s.ui.status.forget()
	return c.JSON(res)
}

func (s *Server) auditList(c *fiber.Ctx) error {
	entries, err := s.admin.AuditLog(c.UserContext(), who(c), c.QueryInt("limit", 100))
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"items": entries})
}

// mapsList answers GET /api/v1/maps: every map's name, type, file path,
// line count, owner and last update, without content.
func (s *Server) mapsList(c *fiber.Ctx) error {
	maps, err := s.admin.ListMaps(c.UserContext(), who(c))
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"items": maps})
}

// mapGet answers GET /api/v1/maps/{name}; the SASL password map's
// passwords are masked.
func (s *Server) mapGet(c *fiber.Ctx) error {
	doc, err := s.admin.Map(c.UserContext(), who(c), c.Params("name"))
	if err != nil {
		return err
	}
	return c.JSON(doc)
}

// mapPut answers PUT /api/v1/maps/{name} {"type","content"}: it validates,
// stores and applies the map; a 400 leaves the store and Postfix's files
// as they were. The other fields GET shows are accepted (and ignored) so
// that a client can send back what it got.
func (s *Server) mapPut(c *fiber.Ctx) error {
	name := c.Params("name")
	var in admin.MapDoc
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	if in.Name != "" && in.Name != name {
		return store.Invalid("name", "The body names map %q but the URL names %q; rename a map by creating the new one and deleting the old one", in.Name, name)
	}
	res, err := s.admin.SaveMap(c.UserContext(), who(c), admin.SaveMapRequest{Name: name, Type: in.Type, Content: in.Content})
	if err != nil {
		return err
	}
	return c.JSON(res)
}

// mapDelete answers DELETE /api/v1/maps/{name}. A map main.cf still
// references is a 409 that says where.
func (s *Server) mapDelete(c *fiber.Ctx) error {
	res, err := s.admin.DeleteMap(c.UserContext(), who(c), c.Params("name"))
	if err != nil {
		return err
	}
	return c.JSON(res)
}

// mapLookupRequest is the lookup tester's body.
type mapLookupRequest struct {
	Key string `json:"key"`
}

// mapLookup answers POST /api/v1/maps/{name}/lookup {"key"} with what
// Postfix (postmap -q on the live file) answers.
func (s *Server) mapLookup(c *fiber.Ctx) error {
	var in mapLookupRequest
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	res, err := s.admin.LookupMap(c.UserContext(), who(c), c.Params("name"), in.Key)
	if err != nil {
		return err
	}
	return c.JSON(res)
}

// queueList is GET /api/v1/queue: a filtered, sorted page of the Postfix
// queue, with its "as of" time.
func (s *Server) queueList(c *fiber.Ctx) error {
	v := url.Values{}
	for k, val := range c.Queries() {
		v.Set(k, val) // Queries copies out of fiber's buffers
	}
	f, err := admin.ParseQueueFilter(v)
	if err != nil {
		return err
	}
	page, err := s.admin.QueueList(c.UserContext(), who(c), f)
	if err != nil {
		return err
	}
	return c.JSON(page)
}

// queueShow is GET /api/v1/queue/{id}: envelope, headers and the start of
// the body, from postcat.
func (s *Server) queueShow(c *fiber.Ctx) error {
	v, err := s.admin.QueueMessage(c.UserContext(), who(c), c.Params("id"))
	if err != nil {
		return err
	}
	return c.JSON(v)
}

// queueActions deletes, bounces, holds, releases, requeues or retries
// messages, by ids or by filter, in one Postfix command run.
func (s *Server) queueActions(c *fiber.Ctx) error {
	var in admin.QueueActionRequest
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	res, err := s.admin.QueueAction(c.UserContext(), who(c), in)
	if err != nil {
		return err
	}
	return c.JSON(res)
}

// queueFlush is POST /api/v1/queue/flush: postqueue -f.
func (s *Server) queueFlush(c *fiber.Ctx) error {
	if err := s.admin.QueueFlush(c.UserContext(), who(c)); err != nil {
		return err
	}
	return c.JSON(fiber.Map{"flushed": true, "message": "Postfix is retrying every queued message now."})
}

// sendmailPost is POST /api/v1/sendmail: compose (or take as MIME) and
// submit a test mail to the local Postfix; answers the queue id.
func (s *Server) sendmailPost(c *fiber.Ctx) error {
	var in admin.SendMailRequest
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	id, err := s.admin.SendMail(c.UserContext(), who(c), in)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"queue_id": id})
}

// mpaQueueList is GET /api/v1/mpa/queue: the MPA spool.
func (s *Server) mpaQueueList(c *fiber.Ctx) error {
	items, err := s.admin.MPAQueue(c.UserContext(), who(c))
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"total": len(items), "items": items})
}

// mpaErrorsList is GET /api/v1/mpa/errors: the error repository.
func (s *Server) mpaErrorsList(c *fiber.Ctx) error {
	items, err := s.admin.MPAErrors(c.UserContext(), who(c))
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"total": len(items), "items": items})
}

// mpaErrorShow is GET /api/v1/mpa/errors/{id}: one entry with its headers
// and the start of its body.
func (s *Server) mpaErrorShow(c *fiber.Ctx) error {
	d, err := s.admin.MPAError(c.UserContext(), who(c), c.Params("id"))
	if err != nil {
		return err
	}
	return c.JSON(d)
}

// mpaErrorsActions deletes or requeues error-repository entries.
func (s *Server) mpaErrorsActions(c *fiber.Ctx) error {
	var in admin.ErrorActionRequest
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	n, err := s.admin.MPAErrorAction(c.UserContext(), who(c), in)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"affected": n})
}

// mpaPipelineGet is GET /api/v1/mpa/pipeline: the MPA's processors, rules
// document and templates, in the shape PUT takes back.
func (s *Server) mpaPipelineGet(c *fiber.Ctx) error {
	p, err := s.admin.Pipeline(c.UserContext(), who(c))
	if err != nil {
		return err
	}
	return c.JSON(p)
}

// mpaPipelinePut is PUT /api/v1/mpa/pipeline: validate (rules line by
// line, templates parsed and run against a sample message), store, and use
// for the next message. A refused document is a 400 naming the field
// ("rules", "templates.NAME", ...) and its line; nothing changes then.
func (s *Server) mpaPipelinePut(c *fiber.Ctx) error {
	var in store.MPAPipeline
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	p, err := s.admin.SavePipeline(c.UserContext(), who(c), in)
	if err != nil {
		return err
	}
	return c.JSON(p)
}

// mpaPreviewPost is POST /api/v1/mpa/preview: a template (saved or not)
// rendered against a sample message, with the footer applied the way the
// rules processor would. It changes nothing.
func (s *Server) mpaPreviewPost(c *fiber.Ctx) error {
	var in admin.PreviewRequest
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	res, err := s.admin.Preview(c.UserContext(), who(c), in)
	if err != nil {
		return err
	}
	return c.JSON(res)
}

// spfList is GET /api/v1/jobs/spf: per SPF source its domain, map,
// schedule, last run and success, prefix count, last error and changes.
func (s *Server) spfList(c *fiber.Ctx) error {
	items, err := s.admin.SPFSources(c.UserContext(), who(c))
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"items": items})
}

// spfAdd is POST /api/v1/jobs/spf: add a source and refresh it at once.
func (s *Server) spfAdd(c *fiber.Ctx) error {
	var in admin.SPFSourceInput
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	res, err := s.admin.AddSPFSource(c.UserContext(), who(c), in)
	if err != nil {
		return err
	}
	return c.JSON(res)
}

// spfRemove is DELETE /api/v1/jobs/spf/{name}: stop refreshing a map; the
// map stays, now edited by administrators.
func (s *Server) spfRemove(c *fiber.Ctx) error {
	name := c.Params("name")
	if err := s.admin.RemoveSPFSource(c.UserContext(), who(c), name); err != nil {
		return err
	}
	return c.JSON(fiber.Map{"removed": name})
}

// spfRefresh is POST /api/v1/jobs/spf/{name}/refresh: one refresh now. A
// refresh that kept the live map answers 200 with outcome "failed" and the
// reason; an unknown source is 404.
func (s *Server) spfRefresh(c *fiber.Ctx) error {
	res, err := s.admin.RefreshSPF(c.UserContext(), who(c), c.Params("name"))
	if err != nil {
		return err
	}
	return c.JSON(res)
}

// tokenCreate makes a bearer token; the secret is shown once, only its hash
// is stored.
func (s *Server) tokenCreate(c *fiber.Ctx) error {
	var in admin.TokenRequest
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	res, err := s.admin.CreateToken(c.UserContext(), who(c), in)
	if err != nil {
		return err
	}
	return c.JSON(res)
}

// userAdd creates a user or changes one's password (CLI admin add, admin
// passwd).
func (s *Server) userAdd(c *fiber.Ctx) error {
	var in admin.UserRequest
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	res, err := s.admin.SaveUser(c.UserContext(), who(c), in)
	if err != nil {
		return err
	}
	return c.JSON(res)
}

// backupGet is GET /api/v1/backup: a tar archive of a consistent copy of
// the database and the error repository's messages. It is written to an
// unlinked temporary file first, so that a failure is an error response
// and not a truncated download.
func (s *Server) backupGet(c *fiber.Ctx) error {
	f, err := os.CreateTemp("", "postdeck-backup-*.tar")
	if err != nil {
		return err
	}
	_ = os.Remove(f.Name()) // unlinked: gone when closed
	if err := s.admin.Backup(c.UserContext(), who(c), f); err != nil {
		_ = f.Close()
		return err
	}
	if _, err := f.Seek(0, 0); err != nil {
		_ = f.Close()
		return err
	}
	c.Set(fiber.HeaderContentType, "application/x-tar")
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="postdeck-`+time.Now().UTC().Format("20060102T150405Z")+`.tar"`)
	return c.SendStream(f) // fasthttp closes f when done
}

// restorePost is POST /api/v1/restore with a backup archive as the body.
// The body is read within the request; nothing keeps fiber's buffer.
func (s *Server) restorePost(c *fiber.Ctx) error {
	res, err := s.admin.Restore(c.UserContext(), who(c), bytes.NewReader(c.Body()))
	if err != nil {
		return err
	}
	s.ui.status.forget()
	return c.JSON(res)
}
