package webui

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"

	"postdeck/admin"
	"postdeck/mta"
	"postdeck/store"
)

// TestUnparsableRequestIsNotEchoed: fiber's server-level handler turns a
// request fasthttp cannot parse into a 400 whose message quotes the raw
// request; the answer gives the status text instead, on the API and on a
// page.
func TestUnparsableRequestIsNotEchoed(t *testing.T) {
	db, err := store.Open(filepath.Join(t.TempDir(), "postdeck.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	s := New(Config{}, Deps{Admin: admin.New(admin.Config{DB: db}), Log: slog.New(slog.DiscardHandler)})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = s.Serve(ln, false) }()
	t.Cleanup(func() { _ = s.Shutdown(t.Context()) })
	for _, path := range []string{"/api/v1/status", "/"} {
		c, err := net.DialTimeout("tcp", ln.Addr().String(), 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		req := "GET " + path + " HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\nX-Marker: zq-marker-77\r\n\r\n"
		if _, err := io.WriteString(c, req); err != nil {
			t.Fatal(err)
		}
		r := bufio.NewReader(c)
		status, _ := r.ReadString('\n')
		rest, _ := io.ReadAll(io.LimitReader(r, 1<<20))
		_ = c.Close()
		answer := status + string(rest)
		if !strings.Contains(status, " 400 ") {
			t.Errorf("%s: status line %q", path, status)
		}
		for _, echoed := range []string{"zq-marker-77", "Content-Length: abc", "error when reading", "HTTP/1.1\\r\\n"} {
			if strings.Contains(answer, echoed) {
				t.Errorf("%s: the answer echoes %q:\n%s", path, echoed, answer)
			}
		}
		if !strings.Contains(answer, "Bad Request") {
			t.Errorf("%s: the answer lacks the status text:\n%s", path, answer)
		}
	}
	// fiber's 404 for no route: the API gives the status text, a page
	// names the path in its own words.
	for path, want := range map[string]string{"/api/v1/nope": `{"error":"Not Found."}`, "/no/such/page": "There is no page at /no/such/page."} {
		res, err := http.Get("http://" + ln.Addr().String() + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		_ = res.Body.Close()
		if res.StatusCode != http.StatusNotFound || !strings.Contains(string(body), want) {
			t.Errorf("%s: %d %s, want %s", path, res.StatusCode, body, want)
		}
	}
}

// TestOwnFiberErrorsKeepTheirWords: this package's errors for clients
// (clientError) pass through errorStatus with their words; the errors
// fiber makes itself (its wrap of a parse error, its 404 for no route)
// answer the status text, and so does an internal error.
func TestOwnFiberErrorsKeepTheirWords(t *testing.T) {
	for _, ce := range []*clientError{
		errBadToken,
		errLoginFailed,
		errEncodedBody,
		newClientError(fiber.StatusForbidden, "your role (auditor) may not do this"),
		newClientError(fiber.StatusTooManyRequests, "Too many failed logins from your address: try again in 3 s."),
	} {
		if code, body := errorStatus(fmt.Errorf("wrapped: %w", ce)); code != ce.code || body.Error != store.Sentence("%s", ce.msg) {
			t.Errorf("%q: %d %q", ce.msg, code, body.Error)
		}
	}
	for _, fe := range []*fiber.Error{
		fiber.NewError(fiber.StatusBadRequest, "error when reading request headers: cannot parse Content-Length: \"GET / HTTP/1.1\\r\\n\""),
		fiber.NewError(fiber.StatusNotFound, "Cannot GET /api/v1/nope"),
		fiber.NewError(fiber.StatusInternalServerError, "unknown static file app.css"),
	} {
		code, body := errorStatus(fe)
		if want := store.Sentence("%s", fiber.NewError(fe.Code).Message); code != fe.Code || body.Error != want {
			t.Errorf("%q: %d %q, want %q", fe.Message, code, body.Error, want)
		}
	}
	if code, body := errorStatus(errors.New("open /var/lib/postdeck/x: permission denied")); code != fiber.StatusInternalServerError || strings.Contains(body.Error, "/var/lib") {
		t.Errorf("an internal error: %d %q", code, body.Error)
	}
}

// TestFormErrorHidesRollbackError: a page's flash for a change Postfix
// refused, whose rollback failed too, says so without the rollback's own
// error (a rename of the backup, with both paths).
func TestFormErrorHidesRollbackError(t *testing.T) {
	s := &Server{log: slog.New(slog.DiscardHandler)}
	rename := &os.LinkError{Op: "rename", Old: "/etc/postfix/.postdeck-backup/main.cf", New: "/etc/postfix/main.cf", Err: syscall.EACCES}
	f, code, err := s.formError(&mta.ApplyError{Stage: "reload", PostfixSaid: "fatal: bad thing", RollbackErr: rename})
	text := f.Message + " " + strings.Join(f.Details, " ")
	if err != nil || code != fiber.StatusBadRequest || !strings.Contains(text, "fatal: bad thing") || !strings.Contains(text, "restoring the previous one failed too") {
		t.Fatalf("flash %+v %d %v", f, code, err)
	}
	if strings.Contains(text, "/etc/postfix") || strings.Contains(text, "rename") {
		t.Errorf("the flash shows the rollback's error: %q", text)
	}
	_, body := errorStatus(fmt.Errorf("apply settings: %w", &mta.ApplyError{Stage: "reload", PostfixSaid: "fatal: bad thing", RollbackErr: rename}))
	if strings.Contains(body.Error, "/etc/postfix") || !strings.Contains(body.Error, "fatal: bad thing") {
		t.Errorf("the API's answer: %q", body.Error)
	}
}
