// Package queue is the Postfix queue as an administrator works with it:
// listing with filters and sorts from a short-lived `postqueue -j`
// snapshot, the shape summary, one message's view (postcat), the actions
// (delete, bounce, hold, release, requeue, retry through postsuper and
// postqueue, by ids or by filter, in one command run), flush, and Send
// Mail (a test message submitted to the instance's smtpd).
//
// Ids are validated before any command runs; commands get argv vectors
// through package postfix, never a shell. Audit entries are package
// admin's.
package queue
