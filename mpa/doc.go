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
// (mpa_errors), from which an administrator deletes or requeues them.
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
// The Server's methods ListSpool, ListErrors, GetError, ErrorAction,
// GetPipeline, PutPipeline, Preview and Counts are the operations the web
// console, the JSON API and the CLI call.
package mpa
