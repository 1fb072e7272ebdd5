package webui

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestReloadsDuringMailFlow: settings saved while mail flows through
// Postfix and the MPA reload Postfix each time, and after every reload
// both smtpd listeners answer at once (the apply's check finds none
// silent, so none needs a restart of Postfix), and every message arrives.
//
// Before the MPA dropped its reinjection connections at each reload
// (mpa.Server.Reconnect), an smtpd of the old configuration that took a
// connection just before the reload kept master from serving the
// reinjection listener for as long as the MPA kept the connection open.
func TestReloadsDuringMailFlow(t *testing.T) {
	st := newStack(t)
	sink := st.openRelay(t)
	const messages = 40
	var wg sync.WaitGroup
	failed := make(chan string, messages)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < messages; i++ {
			r := st.socketDo(t, "POST", "/api/v1/sendmail", map[string]any{
				"subject": fmt.Sprint("reload flow ", i), "from": "flow@example.org",
				"recipients": "r@remote.example.net", "body": "x\n",
			})
			if r.Status != 200 {
				failed <- fmt.Sprintf("message %d: %d %s", i, r.Status, r.Body)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()
	var settings map[string]any
	st.socketDo(t, "GET", "/api/v1/settings", nil).decode(t, &settings)
	delete(settings, "version")
	for i := 0; i < 6; i++ {
		settings["hostname"] = fmt.Sprintf("flow%d.example.test", i)
		r := st.socketDo(t, "PUT", "/api/v1/settings", settings)
		var res struct {
			Reloaded bool     `json:"reloaded"`
			Warnings []string `json:"warnings"`
		}
		r.decode(t, &res)
		if r.Status != 200 || !res.Reloaded {
			t.Fatalf("save %d: %d %s", i, r.Status, r.Body)
		}
		for _, w := range res.Warnings {
			if strings.Contains(w, "restarted") {
				t.Errorf("save %d: %s", i, w)
			}
		}
		time.Sleep(150 * time.Millisecond)
	}
	wg.Wait()
	close(failed)
	for f := range failed {
		t.Error(f)
	}
	got := map[string]bool{}
	for _, m := range sink.Wait(t, messages, 90*time.Second) {
		for i := 0; i < messages; i++ {
			if strings.Contains(string(m.Data), fmt.Sprintf("Subject: reload flow %d\r\n", i)) {
				got[fmt.Sprint("reload flow ", i)] = true
			}
		}
	}
	for i := 0; i < messages; i++ {
		if !got[fmt.Sprint("reload flow ", i)] {
			t.Errorf("message %d did not arrive", i)
		}
	}
}
