package mta

import (
	"strings"
	"testing"
)

// TestRoomProblem: smtpd's rule, in blocks: queue_minfree not below the
// free blocks, or message_size_limit not below two thirds of them.
func TestRoomProblem(t *testing.T) {
	room := queueRoom{free: 1500, block: 4096} // 6,144,000 bytes
	for _, c := range []struct {
		main map[string]string
		want string
	}{
		{map[string]string{}, ""},
		{map[string]string{"queue_minfree": "0", "message_size_limit": "0"}, ""},
		{map[string]string{"queue_minfree": "6000000"}, ""},
		{map[string]string{"queue_minfree": "6144000"}, "queue_minfree"},
		{map[string]string{"queue_minfree": "$foo"}, ""},
		{map[string]string{"message_size_limit": "4000000"}, ""},
		{map[string]string{"message_size_limit": "4096000"}, "message_size_limit"},
		{map[string]string{"message_size_limit": "52428800"}, "message_size_limit"},
	} {
		if got, _ := roomProblem(c.main, room); got != c.want {
			t.Errorf("%v: %q, want %q", c.main, got, c.want)
		}
	}
	if got, _ := roomProblem(map[string]string{"queue_minfree": "1"}, queueRoom{}); got != "" {
		t.Errorf("an unknown room: %q", got)
	}
	_, msg := roomProblem(map[string]string{"message_size_limit": "52428800"}, room)
	if !strings.Contains(msg, "a Message Size Limit of 52428800 bytes needs 1.5 times its size free on the queue's file system, which has 6144000 bytes free: smtpd would answer every MAIL FROM \"452 4.3.1 Insufficient system storage\"") {
		t.Errorf("sentence: %s", msg)
	}
}

// TestQueueRoomIsRefused: queue_minfree above the queue's free space was
// applied, and smtpd then answered every MAIL FROM "452 4.3.1
// Insufficient system storage". It is refused on its line with the files
// unchanged, unless the running configuration is short of room already.
func TestQueueRoomIsRefused(t *testing.T) {
	env := newTestEnv(t)
	const huge = "queue_minfree = 1000000000000000\n"
	refusedLine(t, env, DefaultMainConfig+huge, strings.Count(DefaultMainConfig, "\n")+1,
		"Parameter queue_minfree: queue_minfree = 1000000000000000 is not less than the ")
	accepted(t, env, DefaultMainConfig+"queue_minfree = 1000000\n")

	// What smtpd does with it, put live behind postdeck's back.
	changeLive(t, env, "queue_minfree = 1000000\n", huge)
	if reply := lastReply(t, env.smtp, "EHLO client.example.test", "MAIL FROM:<a@example.org>"); !strings.HasPrefix(reply, "452 4.3.1 Insufficient system storage") {
		t.Fatalf("MAIL FROM with queue_minfree above the free space: %q", reply)
	}
	// Short of room already: a later change is applied.
	accepted(t, env, DefaultMainConfig+huge+"delay_warning_time = 4h\n")
}
