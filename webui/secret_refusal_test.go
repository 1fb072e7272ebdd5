package webui

import (
	"strings"
	"testing"

	"postdeck/mta"
)

// TestRefusedPasswordLineIsNotEchoed: a line of the SASL password map
// without the space between host and credentials ("[relay]:587user:pw")
// was refused with the whole line quoted, password and all, and the
// refusal went into the audit log, which an auditor reads (and who may
// not see the map's passwords). The refusal names the line, not its text.
func TestRefusedPasswordLineIsNotEchoed(t *testing.T) {
	st := newStack(t)
	const secret = "Typ0-s3cret-pw"
	res := st.socketDo(t, "PUT", mapPath(mta.MapSASLPasswords), map[string]string{"type": "hash", "content": "[relay.example.test]:587relayuser:" + secret + "\n"})
	if res.Status != 400 || !strings.Contains(string(res.Body), "Line 1") || !strings.Contains(string(res.Body), "has no value") {
		t.Fatalf("the line without a value: %d %s, want 400 naming line 1", res.Status, res.Body)
	}
	aud := st.login(t, "audit")
	log := aud.get("/api/v1/audit")
	if log.Status != 200 || !strings.Contains(string(log.Body), "has no value") {
		t.Fatalf("audit log: %d %s", log.Status, log.Body)
	}
	for what, body := range map[string][]byte{"the refusal": res.Body, "the audit log": log.Body, "the audit page": aud.get("/audit").Body} {
		if strings.Contains(string(body), secret) {
			t.Errorf("%s shows the password: %s", what, body)
		}
	}
	// Other maps keep the line in the message: it helps, and holds no
	// password.
	res = st.socketDo(t, "PUT", mapPath("transport-maps"), map[string]string{"type": "hash", "content": "example.test:relay\n"})
	if res.Status != 400 || !strings.Contains(string(res.Body), `\"example.test:relay\" has no value`) {
		t.Errorf("a line without a value in another map: %d %s", res.Status, res.Body)
	}
}
