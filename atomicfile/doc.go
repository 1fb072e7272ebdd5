// Package atomicfile writes files so that a crash leaves either the old
// content or the new, never a mix: write a temporary file in the same
// directory, fsync it, rename it over the target, fsync the directory.
//
// It is a leaf package (standard library only) shared by mta (Postfix's
// files), mpa (message bodies) and webui (TLS certificates).
package atomicfile
