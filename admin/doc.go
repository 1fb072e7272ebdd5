// Package admin is postdeck's operations layer: every administrator action
// is one exported method of Service that takes the acting Identity and a
// typed request, checks the permission, validates, acts through mta, queue,
// mpa, jobs and store, and writes exactly one audit entry. The console's
// pages, the JSON API and (through the API) the CLI all call it; none of
// them touches the store or the audit log.
//
// Errors for the administrator are *store.UserError (one sentence, naming
// the field or line); everything else is internal and reaches users only as
// a generic sentence.
//
// Import direction: webui -> admin -> (mta, queue, mpa, jobs) -> store, with
// postfix and the leaf packages below. TestImportDirection enforces it.
package admin
