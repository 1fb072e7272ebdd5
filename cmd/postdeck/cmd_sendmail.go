package main

import (
	"flag"
	"fmt"
	"io"
	"os"

	"postdeck/queue"
)

func cmdSendmail(args []string) error {
	fs := flag.NewFlagSet("sendmail", flag.ContinueOnError)
	socket, jsonOut := clientFlags(fs)
	from := fs.String("from", "", "the From header")
	to := fs.String("to", "", "recipients, comma-separated")
	subject := fs.String("subject", "", "the Subject")
	sender := fs.String("sender", "", "the envelope sender (default: the From address)")
	mime := fs.Bool("mime", false, "the body on standard input is a complete MIME message")
	if err := parseCommand(fs, "sendmail", args); err != nil {
		return err
	}
	body, err := io.ReadAll(io.LimitReader(os.Stdin, queue.MaxSendMailBody+1))
	if err != nil {
		return err
	}
	if len(body) > queue.MaxSendMailBody {
		// Refused before sending: the API takes no more either.
		return fmt.Errorf("the body on standard input is over %d MB, the most Send Mail takes; nothing was sent", queue.MaxSendMailBody>>20)
	}
	c := newClient(*socket, *jsonOut)
	req := map[string]any{"subject": *subject, "from": *from, "sender": *sender, "recipients": *to, "body_is_mime": *mime, "body": string(body)}
	var res struct {
		QueueID string `json:"queue_id"`
	}
	raw, err := c.do("POST", "/api/v1/sendmail", req, &res)
	if err != nil || c.json {
		return jsonOr(raw, err)
	}
	fmt.Printf("queued as %s\n", res.QueueID)
	return nil
}
