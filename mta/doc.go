// Package mta is everything that touches Postfix: rendering main.cf, master.cf
// and the lookup tables from the store (Render, pure and golden-tested),
// validating and applying them atomically with rollback (Manager.Apply), the
// Postfix queue (postqueue, postsuper, postcat) and Send Mail.
//
// Postfix commands are run through Postfix, with argv vectors and an absolute
// -c directory; see ../shared/POSTFIX.md for the traps they hide.
package mta
