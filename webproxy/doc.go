// Package webproxy is postdeck's web process: the only part of postdeck
// that parses HTTP from the network. It runs as an unprivileged user (the
// package's postdeck-web, or nobody), with no access to the database,
// Postfix's configuration or its queue, and forwards each request to the
// privileged daemon over a unix socket (`postdeck serve --web-socket`).
//
// The trust boundary: the daemon serves the very same console and API on
// that socket that it used to serve on TCP, and verifies every identity
// itself (session cookie and CSRF token, bearer token, login limits). The
// web process never decides who a caller is; it only
//
//   - parses the request with Go's net/http server under explicit limits
//     (Limits: header and body size, request-line length, time to read the
//     header and the body, connections, requests in flight), HTTP/1.1 only;
//   - refuses what no route of postdeck takes (methods other than GET,
//     HEAD, POST, PUT and DELETE, a request target that is not a plain
//     path, control characters or backslashes in it), and a compressed
//     body (a Content-Encoding other than identity, 415: the daemon's
//     fiber would inflate it without bound);
//   - reads the whole body (bounded) and forwards a re-serialized request
//     with a Content-Length, written anew by fasthttp's client (the
//     cheapest per request on a 2-core appliance) from the fields checked
//     here, so that the daemon's HTTP parser never sees the network's
//     bytes;
//   - removes every header of its own namespace a client sent (X-Postdeck-*)
//     and sets PeerHeader to the TCP peer's address. The daemon believes
//     that header only on this socket (mode 0660, group of the web user;
//     0600 and the web user's when that group is not its own, as nobody's),
//     and applies --trusted-proxies to X-Forwarded-For after it, exactly as
//     it did for TCP peers.
//
// Answers of the daemon are copied back as they are: up to 1 MB read whole
// and sent in one write, larger ones streamed as they arrive (a message
// or backup download never sits whole in the web process). Every answer
// is bounded by total time (UpstreamTimeout, WriteTimeout) but a backup
// download, which is bounded by progress (BackupStall: it ends only when
// the daemon sent no byte, or the client took none, for that long). An
// answer cut midway reaches the client cut (its connection closed), never
// as a complete one. When the daemon does not answer, the client gets a
// 502 with a fixed sentence; the reason goes to the web process's log
// only.
//
// The package imports none of postdeck's packages (only the standard
// library and fasthttp's client): the web process links the rest of
// postdeck (it is the same binary) but never calls into it.
package webproxy
