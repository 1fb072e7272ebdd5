package store

import (
	"crypto/sha256"
	"encoding/hex"
)

// DocVersion is the version of a document: a digest of its stored content.
// Reads return it (the API's ETag, a form's hidden field); a write based
// on it is refused when the document changed meanwhile. A digest needs no
// counter in the database, and a document changed back to what a client
// saw is, for that client, the same document.
func DocVersion(parts ...[]byte) string {
	h := sha256.New()
	for _, p := range parts {
		var n [8]byte
		l := uint64(len(p))
		for i := range n {
			n[i] = byte(l >> (8 * i))
		}
		h.Write(n[:])
		h.Write(p)
	}
	return hex.EncodeToString(h.Sum(nil)[:12])
}

// SettingsVersion is the version of the MTA settings.
func SettingsVersion(s Settings) string {
	return DocVersion([]byte(s.Canonical()))
}

// PipelineVersion is the version of the MPA's pipeline (processors, rules
// and templates; not when it was saved).
func PipelineVersion(p MPAPipeline) string {
	parts := [][]byte{[]byte(p.Rules)}
	for _, name := range p.Processors {
		parts = append(parts, []byte("processor"), []byte(name))
	}
	for _, t := range p.Templates {
		parts = append(parts, []byte("template"), []byte(t.Name), []byte(t.Text))
	}
	return DocVersion(parts...)
}
