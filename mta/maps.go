package mta

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"time"

	"postdeck/store"
)

// Limits of one map's content. A map is configuration, not a database: a
// hundred thousand lines (a large transport or access table) fit, a file
// that would make postmap and every Postfix lookup slow does not.
const (
	maxMapBytes    = 16 << 20
	maxMapLines    = 200000
	maxMapLineSize = 4096
)

// Map names of the default maps whose meaning postdeck checks.
const (
	MapVirtualAlias    = "virtual-alias-maps"
	MapTLSPolicy       = "tls-policy"
	MapSASLPasswords   = "smtp-sasl-password_maps"
	MapRecipientAccess = "check-recipient-access"
	MapTransport       = "transport-maps"
)

// FieldMapContent and FieldMapType are the API fields of a map.
const (
	FieldMapContent = "content"
	FieldMapType    = "type"
	FieldMapName    = "name"
)

var mapNameRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$`)

// ValidMapName checks a map name: letters, digits, '.', '-', '_' only,
// nothing that could leave maps.d.
func ValidMapName(name string) error {
	if !mapNameRe.MatchString(name) || name == "." || name == ".." {
		return store.Invalid(FieldMapName, "map name %q: use 1 to 100 letters, digits, '.', '-' or '_', starting with a letter or digit", truncate(name, 40))
	}
	return nil
}

// ValidMapType checks a map type against those postdeck manages.
func ValidMapType(typ string) error {
	for _, t := range MapTypes {
		if t == typ {
			return nil
		}
	}
	return store.Invalid(FieldMapType, "map type %q: choose btree, cidr, hash, pcre or regexp", truncate(typ, 20))
}

// maxMaps bounds the number of maps: every apply stores and checks all of
// them (about 21 us a map), and main.cf can name only so many. A real
// gateway has tens; a state with more (an older version's) still applies,
// only a new map is refused.
const maxMaps = 1000

// validateMaps checks names, types and sizes of every map. It runs on every
// apply, so it stays cheap: the full per-type validation runs once, when a
// map is saved (PutMap).
func validateMaps(maps []store.Map) error {
	seen := make(map[string]bool, len(maps))
	for _, mp := range maps {
		if err := ValidMapName(mp.Name); err != nil {
			return err
		}
		if err := ValidMapType(mp.Type); err != nil {
			return err
		}
		if seen[mp.Name] {
			return store.Invalid(FieldMapName, "map %s is defined twice", mp.Name)
		}
		seen[mp.Name] = true
		if len(mp.Content) > maxMapBytes {
			return store.Invalid(FieldMapContent, "map %s: %d bytes is more than the %d allowed", mp.Name, len(mp.Content), maxMapBytes)
		}
	}
	return nil
}

// MapInfo is one line of the map list: what the Maps page and
// GET /api/v1/maps show, without the content.
type MapInfo struct {
	Name    string    `json:"name"`
	Type    string    `json:"type"`
	File    string    `json:"file"`  // absolute path of the source file
	Lines   int       `json:"lines"` // lines of content
	Owner   string    `json:"owner"` // admin or refresher
	Updated time.Time `json:"updated"`
	// Secret: the map holds SASL passwords (IsSecretMap, or the stored
	// configuration refers to it for them), masked wherever it is shown.
	Secret bool `json:"secret,omitempty"`
}

// MapPath is the absolute path of a map's source file.
func (in Instance) MapPath(typ, name string) string {
	return filepath.Join(in.ConfigDir, filepath.FromSlash(MapFile(typ, name)))
}

// lineCount counts the lines of a map's content.
func lineCount(content string) int {
	if content == "" {
		return 0
	}
	n := strings.Count(content, "\n")
	if !strings.HasSuffix(content, "\n") {
		n++
	}
	return n
}

// byteOrderMark is the UTF-8 byte order mark that Windows editors write
// at the start of a file. Postfix takes it for text: it became part of
// the first key of a hash map (which then never matched) or the delimiter
// of a pcre pattern, and of the first parameter name of a document.
const byteOrderMark = "\ufeff"

// normalizeMapContent turns CRLF into LF (browsers post textareas with
// CRLF), so that line numbers and bytes match what Postfix reads, and
// drops a leading byte order mark.
func normalizeMapContent(s string) string {
	s = strings.TrimPrefix(s, byteOrderMark)
	if strings.Contains(s, "\r\n") {
		s = strings.ReplaceAll(s, "\r\n", "\n")
	}
	return s
}

// mapBuildFull is the error of a postmap that failed (runErr: it exited
// non-zero) on the disk of dir with less room left than a map of size
// source bytes needs: postmap then said "fatal: flush database ...: No
// space left on device" and that answer read as if the map were wrong.
// The error wraps ENOSPC, so the apply answers the disk-full sentence
// (diskFull). It is the disk that tells, not Postfix's words: a hash or
// btree .db takes 1.6 to 2 times its source (measured), and postmap
// leaves what it wrote of it, so the free space after a failure of that
// kind is below twice the source. A quota used up does not show in the
// disk's free space: postmap's own strerror says it (the C locale's
// words; Postfix runs without the caller's locale). nil when postmap
// succeeded or the disk has that room.
func mapBuildFull(dir, rel string, size int, runErr error, stderr string) error {
	if runErr == nil {
		return nil
	}
	if strings.Contains(stderr, "Disk quota exceeded") {
		return fmt.Errorf("build %s: postmap: %w", rel, syscall.EDQUOT)
	}
	var fs syscall.Statfs_t
	if err := syscall.Statfs(dir, &fs); err != nil {
		return nil
	}
	free := int64(fs.Bavail) * int64(fs.Bsize)
	if free >= 2*int64(size)+64<<10 {
		return nil
	}
	return fmt.Errorf("build %s: postmap failed with %d bytes free on its disk: %w", rel, free, syscall.ENOSPC)
}
