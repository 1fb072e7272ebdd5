// Package mpa is postdeck's mail processing agent: the SMTP content filter
// Postfix hands every message to (content_filter = mpa:[127.0.0.1]:10025).
//
// A message is acknowledged (250 with its spool id) only after its body is
// fsynced into the spool directory and its envelope is committed to the
// store's mpa_spool bucket. Workers take spool entries, run the pipeline
// (trace, rules with templates), and deliver each outcome to Postfix's
// reinjection listener (127.0.0.1:10026) with the original envelope.
// Temporary failures stay in the spool with an exponential backoff;
// processing errors and permanent refusals go to the error repository
// (mpa_errors), from which an administrator deletes or requeues them. A
// run past a time bound (MaxTemplateTime, Config.ProcessTimeout: wall
// clock) is temporary until its maxSlowAttempts-th attempt; a footer
// that writes more than MaxFooterBytes for a message is left out, with a
// warning in the log.
//
// Envelopes are passed on as Postfix gave them (envelope.go): local parts
// quoted again where RFC 5321 needs it, the null sender, SMTPUTF8, BODY
// and the DSN parameters (RET, ENVID, NOTIFY, ORCPT) kept in the spool
// entry and repeated at reinjection.
//
// Limits follow Postfix: messages up to message_size_limit plus
// Config.SizeAllowance, smtpd_recipient_limit recipients, and addresses
// Postfix's smtpd refuses are refused with its 5xx; (*Server).SetLimits
// follows changed settings. The error repository has a quota (entries and
// bytes); at the quota new mail gets 452 4.3.1 and waits in Postfix.
// Below Config.MinFreeBytes free on the file system of the spool or
// the database, new mail gets the same 452 4.3.1 at MAIL FROM, as from
// Postfix's smtpd below queue_minfree (diskguard.go); a spool write or
// commit that fails for lack of space is answered so too, never 250.
//
// Exactly once across kill -9, with no human step:
//   - Before the final dot of a delivery the recipients are recorded as
//     "delivering" with the transaction's name, which goes to Postfix as
//     XFORWARD IDENT (spool id + "." + a sequence number: no address, no
//     content) and which Postfix logs with its queue id. Found in that
//     state, a delivery is settled from Postfix's maillog (resolve.go):
//     queued by Postfix means done, dropped means send again. Only when
//     the log does not tell within Config.ResolveTimeout do the recipients
//     go to the error repository with stage "interrupted".
//   - A message Postfix sends again because the MPA died after making it
//     durable and before its 250 reached Postfix is recognised by its
//     resend keys (the first Postfix's queue id from the top Received
//     header, the sender, each recipient and ORCPT; resend.go) and
//     answered 250 with the earlier spool id, without a second copy.
//   - The spool id also travels in the trace processor's header
//     X-Postdeck-MPA-Id (TraceHeader), for people reading the message.
//
// # Footers
//
// A footer rule adds a rendered template to the text a mail reader shows,
// and changes nothing else: the message is parsed into a MIME tree over
// its raw bytes (message.go, mime.go), and only the parts that get a
// footer are rewritten; every other byte, and every message the pipeline
// does not change, leaves byte for byte as it came.
//
// What gets a footer: text/plain and text/html parts that are not
// attachments (Content-Disposition attachment or an unknown disposition
// type, or a name parameter without "inline") — a part without
// Content-Type is text/plain; in multipart/alternative every
// alternative; in multipart/related its root (the start parameter, else
// the first part); in multipart/mixed, and any other or unknown multipart
// (digest, report, ...), the first part that shows text, looking into
// nested multiparts. Text goes at the end after an empty line; HTML goes
// before the last </body> (any case), else at the end, as an escaped
// <div class="postdeck-footer"> in ASCII with character references.
//
// What never does: anything inside multipart/signed or
// multipart/encrypted, application/pkcs7-mime and other non-text types,
// message/rfc822 and other message/* parts (a forwarded message is not
// ours), attachments, the later parts of a multipart/mixed, a multipart
// without boundary, a part whose Content-Type does not parse even loosely
// (an unquoted boundary such as ----=_Part_1 is accepted, as mail readers
// do), parts in x-uuencode or BinHex, parts in UTF-16/32, UTF-7 or EBCDIC
// charsets, text holding NUL bytes, and parts past 20 levels of nesting or
// 1,000 parts.
//
// Transfer encodings: base64 and quoted-printable parts are decoded
// leniently (mimedec.Decode, as readers do) and re-encoded exactly, so the
// text that was there decodes to the same bytes. Identity encodings keep
// their bytes; an unknown name ("7-bit", "8bits", "quoted printable") is
// the identity, as Postfix treats it. A 7bit (or unknown) part that now
// needs 8-bit bytes becomes quoted-printable; so does an identity part
// whose footer has a line that starts like one of the message's
// boundaries, or that would hold a line past RFC 5322's 998 bytes (a
// disclaimer pasted as one paragraph), which Postfix's SMTP client breaks
// in the middle of a word. A top-level part whose headers change gets MIME-Version.
//
// Charsets (labels as the WHATWG Encoding Standard reads them, which mail
// readers follow; golang.org/x/text): the HTML footer is ASCII and fits
// every ASCII-compatible charset. The text footer is written in the
// part's charset when every character fits (strictly: no C1 bytes in
// ISO-8859, only EUC bytes in GB2312 and EUC-KR); otherwise the part is
// converted to UTF-8 when all its text decodes cleanly, and relabelled
// (us-ascii or no charset with ASCII text becomes utf-8 the same way);
// otherwise the characters that do not fit are written as '?'. Unknown
// labels ("x-unknown") are read by mail readers in an ASCII-compatible
// default, so the footer goes in as ASCII with '?' for the rest. In
// ISO-2022-* and HZ text the footer is written in the ASCII state: HTML
// goes before the last </body> that is in that state, and text that ends
// outside it first gets the escape back (ESC ( B, SI or ~}); HZ's '~' is
// doubled. ISO-2022 escapes in a charset that has none leave the part
// alone unless the insertion point is in ASCII anyway. Never is a
// multi-byte sequence split or a byte written that the part's charset
// would read as another character.
//
// Size: footers add at most 1 MiB to a message (over all its footer
// rules), and never make it larger than Postfix takes back at reinjection
// (message_size_limit, less an estimate of what Postfix's queue file adds:
// its Received header and the envelope). A part whose footer does not fit
// goes without one, and the message is delivered. The trace processor's
// headers are left out, too, of a message they would make too large.
//
// The Server's methods ListSpool, ListSpoolHead (the MPA Queue page: a
// bounded read), ListErrors, GetError, ErrorAction, GetPipeline,
// PutPipeline, Preview and Counts are the operations the web console, the
// JSON API and the CLI call.
package mpa
