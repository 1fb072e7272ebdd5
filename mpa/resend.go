package mpa

import (
	"bytes"
	"fmt"
	"strings"

	"postdeck/store"
)

// Recognising a message Postfix sends again.
//
// The MPA answers 250 only after the message is durable. If it dies after
// that and before Postfix reads the 250, Postfix defers the message ("lost
// connection ... message may be sent more than once") and sends it again
// after its backoff. Without a check the recipients would get two copies.
//
// Postfix's queue file keeps its queue id from the first smtpd (or pickup)
// to the content filter, and that id is in the Received header it put on
// top ("... by mx.example (Postfix) with ESMTP id 4Xyz...;"). With
// enable_long_queue_ids = yes (postdeck's main.cf) ids are not reused.
// The MPA records one resend key per recipient, in the same commit as the
// spool entry: that queue id, the sender, the recipient and its ORCPT. A
// key seen again is a message the MPA already holds (or delivered); such
// recipients are answered 250 without being stored again. Keys live for
// Config.ResendRetention, and the ones of the last minutes before an
// unclean stop a further ResendRetention after the restart.

// maxHeaderScan bounds the search for the top Received header.
const maxHeaderScan = 64 << 10

// firstQueueID returns the queue id of the Received header Postfix put on
// top of the message, or "" when the top Received header is not Postfix's.
func firstQueueID(raw []byte) string {
	raw = raw[:min(len(raw), maxHeaderScan)]
	var field []byte
	for len(raw) > 0 {
		line := raw
		rest := []byte(nil)
		if i := bytes.IndexByte(raw, '\n'); i >= 0 {
			line, rest = raw[:i+1], raw[i+1:]
		}
		trimmed := bytes.TrimRight(line, "\r\n")
		if len(trimmed) == 0 {
			break // end of the header
		}
		if field != nil {
			if trimmed[0] == ' ' || trimmed[0] == '\t' {
				field = append(field, ' ')
				field = append(field, bytes.TrimSpace(trimmed)...)
				raw = rest
				continue
			}
			break // the top Received header is complete
		}
		if len(trimmed) > 9 && bytes.EqualFold(trimmed[:9], []byte("Received:")) {
			field = append([]byte(nil), trimmed[9:]...)
		}
		raw = rest
	}
	if field == nil {
		return ""
	}
	f := string(field)
	if !strings.Contains(f, "(Postfix") {
		return ""
	}
	// "... with ESMTP id 4Xyz for <r>; date" or "... id 4Xyz; date"
	ws := strings.Fields(strings.ReplaceAll(f, ";", " ; "))
	for i := 0; i+1 < len(ws); i++ {
		if ws[i] == "id" && validQueueID(ws[i+1]) {
			return ws[i+1]
		}
	}
	return ""
}

// validQueueID accepts Postfix's short (hex) and long (base 52 + digits)
// queue ids.
func validQueueID(s string) bool {
	if len(s) < 6 || len(s) > 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}

// resendKeys returns one key per recipient of env (in order), or nil when
// the message did not come from Postfix.
func resendKeys(firstID string, env store.MPAEnvelope) []string {
	if firstID == "" {
		return nil
	}
	keys := make([]string, len(env.Recipients))
	for i, r := range env.Recipients {
		keys[i] = fmt.Sprintf("%s\x00%s\x00%s\x00%s;%s", firstID, env.Sender, r.Address, strings.ToLower(r.ORcptType), r.ORcpt)
	}
	return keys
}
