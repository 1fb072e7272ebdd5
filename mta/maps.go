package mta

import (
	"regexp"

	"postdeck/store"
)

// maxMapBytes and maxMapLines bound one map's content.
const (
	maxMapBytes = 16 << 20
	maxMapLines = 200000
)

var mapNameRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$`)

// ValidMapName checks a map name: letters, digits, '.', '-', '_' only,
// nothing that could leave maps.d.
func ValidMapName(name string) error {
	if !mapNameRe.MatchString(name) || name == "." || name == ".." {
		return store.Invalid("name", "map name %q: use 1 to 100 letters, digits, '.', '-' or '_', starting with a letter or digit", truncate(name, 40))
	}
	return nil
}

// ValidMapType checks a map type against those postdeck manages.
func ValidMapType(typ string) error {
	for _, t := range mapTypes {
		if t == typ {
			return nil
		}
	}
	return store.Invalid("type", "map type %q: choose btree, cidr, hash, pcre or regexp", truncate(typ, 20))
}

// validateMaps checks names, types and sizes of every map.
func validateMaps(maps []store.Map) error {
	for _, mp := range maps {
		if err := ValidMapName(mp.Name); err != nil {
			return err
		}
		if err := ValidMapType(mp.Type); err != nil {
			return err
		}
		if len(mp.Content) > maxMapBytes {
			return store.Invalid("content", "map %s: %d bytes is more than the %d allowed", mp.Name, len(mp.Content), maxMapBytes)
		}
	}
	return nil
}
