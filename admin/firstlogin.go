package admin

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"postdeck/atomicfile"
	"postdeck/store"
)

// FirstAdmin is the console user the first start creates, with a one-time
// password.
const FirstAdmin = "admin"

// The first login's file (Config.FirstLoginFile) holds FirstAdmin's
// one-time password, so that the password never goes to the log, which
// the adm group and log shippers read: the file is readable by its owner
// alone (0600, the daemon's user: root), and it goes once the password no
// longer works.
// Its content is two lines:
//
//	user: admin
//	password: PASSWORD

// firstLoginText is the first login's file's content.
func firstLoginText(password string) []byte {
	return []byte("user: " + FirstAdmin + "\npassword: " + password + "\n")
}

// writeFirstLogin writes the first login's file: 0600 from its first byte
// whatever the umask, in place of an older one in one rename, on disk
// before the user it names is stored.
func (s *Service) writeFirstLogin(password string) error {
	if s.firstLogin == "" {
		return nil
	}
	if err := atomicfile.WriteFile(s.firstLogin, firstLoginText(password), 0o600); err != nil {
		return fmt.Errorf("keep the first login: %w", err)
	}
	return nil
}

// removeFirstLogin removes the first login's file and says whether there
// was one.
func (s *Service) removeFirstLogin() (bool, error) {
	if s.firstLogin == "" {
		return false, nil
	}
	err := os.Remove(s.firstLogin)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return err == nil, err
}

// dropFirstLogin removes the first login's file once the password in it no
// longer works. A failure is logged and does not fail the operation that
// made the password invalid: what the file holds is dead, and every start
// tries again (DropStaleFirstLogin).
func (s *Service) dropFirstLogin(reason string) {
	removed, err := s.removeFirstLogin()
	switch {
	case err != nil:
		s.log.Error("remove the first login's file (its password no longer works; the next start tries again)", "path", s.firstLogin, "err", err)
	case removed:
		s.log.Info("removed the first login's file: its password no longer works", "path", s.firstLogin, "reason", reason)
	}
}

// firstLoginPassword is the password line of the first login's file's
// content ("" when it has none).
func firstLoginPassword(content []byte) string {
	for _, line := range strings.Split(string(content), "\n") {
		if pw, ok := strings.CutPrefix(line, "password: "); ok {
			return pw
		}
	}
	return ""
}

// DropStaleFirstLogin removes the first login's file unless the password
// in it is still FirstAdmin's one-time password: the user set its own,
// root set one, the user is gone, or the database is another one (restored
// from a backup, or the cluster's after `postdeck cluster join` on a node
// that had started alone). The daemon calls it at every start, which also
// catches a removal that failed. On a standalone node it warns when the
// one-time password is still to be replaced but its file is gone, since
// nothing else says it anywhere.
func (s *Service) DropStaleFirstLogin() {
	if s.firstLogin == "" {
		return
	}
	content, err := os.ReadFile(s.firstLogin)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		s.log.Error("read the first login's file", "path", s.firstLogin, "err", err)
		return
	}
	present := err == nil
	u, err := s.db.GetUser(FirstAdmin)
	switch {
	case errors.Is(err, store.ErrNotFound):
		if present {
			s.dropFirstLogin("user " + FirstAdmin + " does not exist")
		}
	case err != nil:
		s.log.Error("read user "+FirstAdmin+" to check the first login's file", "path", s.firstLogin, "err", err)
	case !u.MustChangePassword:
		if present {
			s.dropFirstLogin("user " + FirstAdmin + " has a password of its own")
		}
	case present:
		pw := firstLoginPassword(content)
		if pw == "" || len(pw) > MaxPassword || compareHashAndPassword(u.PasswordHash, []byte(pw)) != nil {
			s.dropFirstLogin("the password in it is not the one-time password of user " + FirstAdmin)
		}
	case s.cluster.Load() == nil:
		s.log.Warn("user "+FirstAdmin+" has not replaced its one-time password, and the first login's file is gone: set a password with `postdeck admin passwd "+FirstAdmin+"`", "path", s.firstLogin)
	}
}
