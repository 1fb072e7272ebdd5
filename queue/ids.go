package queue

import (
	"fmt"

	"postdeck/store"
)

// Queue ids come in two shapes (postconf enable_long_queue_ids):
//
//   - short: upper-case hexadecimal, microseconds then inode number
//     ("3F2A1B4C5D");
//   - long: seconds and microseconds in a 52-letter alphabet without vowels,
//     the separator 'z', then the inode number in the same alphabet minus
//     'z' ("4jZZFn03xzz1SCLg").
//
// Anything else (ALL, queue names, "-", paths, option-like strings) never
// reaches postsuper, postqueue or postcat.
const (
	maxQueueIDLen = 32
	// longIDAlphabet is Postfix's "safe" alphabet (MQID_LG_*): digits and
	// consonants; the inode part uses all but the last letter 'z'.
	longIDAlphabet = "0123456789BCDFGHJKLMNPQRSTVWXYZbcdfghjklmnpqrstvwxyz"
	// longIDTimeLen is the minimum width of the time part (6 for seconds,
	// 4 for microseconds).
	longIDTimeLen = 10
)

var longIDTable = func() (t [256]bool) {
	for i := 0; i < len(longIDAlphabet); i++ {
		t[longIDAlphabet[i]] = true
	}
	return t
}()

// ValidID reports whether id has the shape of a Postfix queue id,
// short or long.
func ValidID(id string) bool {
	if len(id) < 6 || len(id) > maxQueueIDLen {
		return false
	}
	return validShortID(id) || validLongID(id)
}

func validShortID(id string) bool {
	for i := 0; i < len(id); i++ {
		c := id[i]
		if (c < '0' || c > '9') && (c < 'A' || c > 'F') {
			return false
		}
	}
	return true
}

func validLongID(id string) bool {
	for i := 0; i < len(id); i++ {
		if !longIDTable[id[i]] {
			return false
		}
	}
	// The separator is the last 'z' (the inode alphabet has none), after
	// at least longIDTimeLen characters of time, and before a non-empty
	// inode number.
	sep := -1
	for i := len(id) - 1; i >= 0; i-- {
		if id[i] == 'z' {
			sep = i
			break
		}
	}
	return sep >= longIDTimeLen && sep < len(id)-1
}

// MaxActionIDs bounds one request's id list (a page selection or a
// filter's matches never come near it; the bound only stops abuse).
const MaxActionIDs = 200000

// checkIDs validates and de-duplicates ids, keeping their order. A bad id
// makes the whole request invalid: nothing runs.
func checkIDs(ids []string) ([]string, error) {
	if len(ids) == 0 {
		return nil, store.Invalid("ids", "ids must name at least one queued message")
	}
	if len(ids) > MaxActionIDs {
		return nil, store.Invalid("ids", "ids may name at most %d messages in one request", MaxActionIDs)
	}
	seen := make(map[string]struct{}, len(ids))
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		if !ValidID(id) {
			return nil, store.Invalid("ids", "The id %s in ids is not a Postfix queue id", quoteForMessage(id))
		}
		if _, dup := seen[id]; dup {
			continue
		}
		seen[id] = struct{}{}
		out = append(out, id)
	}
	return out, nil
}

// quoteForMessage quotes a user-supplied value for an error message,
// shortened so a 10,000-character id does not become a 10,000-character
// error.
func quoteForMessage(s string) string {
	const max = 40
	if len(s) > max {
		return fmt.Sprintf("%q...", s[:max])
	}
	return fmt.Sprintf("%q", s)
}
