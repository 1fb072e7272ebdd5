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
// Exactly-once: before the final dot of a delivery the recipients are
// recorded as "delivering"; an entry found in that state at start (the MPA
// died while Postfix was answering) cannot be known to be delivered or not,
// so those recipients go to the error repository with stage "interrupted"
// instead of being sent twice.
//
// The Server's methods ListSpool, ListErrors, GetError, ErrorAction,
// GetPipeline, PutPipeline, Preview and Counts are the operations the web
// console, the JSON API and the CLI call.
package mpa
