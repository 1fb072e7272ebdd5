package queue

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"postdeck/postfix"
)

// TestScanRefusesAHugeLine: a `postqueue -j` line longer than
// maxQueueLine (64 MiB: a damaged or hostile queue file) ends the listing
// with an error that says so, after the messages before it were passed
// on, instead of being gathered whole; postqueue is stopped.
func TestScanRefusesAHugeLine(t *testing.T) {
	q := New(postfix.Runner{}, slog.New(slog.DiscardHandler))
	stopped := make(chan struct{})
	q.stream = func(ctx context.Context, _ io.Reader, stdout, _ io.Writer, name string, args ...string) error {
		if name != "postqueue" || len(args) != 1 || args[0] != "-j" {
			return fmt.Errorf("ran %s %v", name, args)
		}
		// Like postqueue killed by its context: a write blocked on the
		// full pipe ends when the reader gives up.
		go func() {
			<-ctx.Done()
			_ = stdout.(*os.File).SetWriteDeadline(time.Now())
		}()
		defer close(stopped)
		if _, err := io.WriteString(stdout, `{"queue_name":"deferred","queue_id":"4QSmall1","arrival_time":1,"message_size":1,"sender":"a@src.test","recipients":[{"address":"b@dest.test"}]}`+"\n"); err != nil {
			return err
		}
		if _, err := io.WriteString(stdout, `{"queue_name":"deferred","queue_id":"4QHuge01","sender":"`); err != nil {
			return err
		}
		chunk := strings.Repeat("x", 1<<20)
		for range maxQueueLine>>20 + 2 {
			if _, err := io.WriteString(stdout, chunk); err != nil {
				return ctx.Err()
			}
		}
		return nil
	}
	var ids []string
	err := q.scan(context.Background(), func(m *jsonMessage) error {
		ids = append(ids, m.QueueID)
		return nil
	})
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("a postqueue -j line is longer than %d bytes", maxQueueLine)) {
		t.Fatalf("scan: %v", err)
	}
	if len(ids) != 1 || ids[0] != "4QSmall1" {
		t.Fatalf("messages passed on: %v", ids)
	}
	select {
	case <-stopped:
	case <-time.After(10 * time.Second):
		t.Fatal("postqueue was not stopped")
	}
}
