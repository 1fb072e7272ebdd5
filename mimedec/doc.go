// Package mimedec decodes and encodes MIME content transfer encodings.
//
// Two decoders: NewReader is strict (Send Mail's MIME check refuses what
// does not decode), Decode is lenient as mail readers are (it never fails:
// base64 skips what is not in its alphabet, quoted-printable keeps a bad
// escape as it is). The encoders are exact inverses of Decode, so that the
// MPA can add a footer to an encoded text part and re-encode it without
// changing one decoded byte of what was there. It is a leaf package
// (standard library only) shared by the MPA's footer code and Send Mail.
package mimedec
