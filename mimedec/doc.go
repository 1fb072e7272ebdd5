// Package mimedec decodes MIME content transfer encodings as mail readers
// do: base64 that tolerates the line breaks and blanks it is wrapped with,
// quoted-printable, and the identity encodings. It is a leaf package
// (standard library only) shared by the MPA's footer code and Send Mail's
// MIME check.
package mimedec
