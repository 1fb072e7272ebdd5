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
//     path, control characters or backslashes in it);
//   - reads the whole body (bounded) and forwards a re-serialized request
//     with a Content-Length, so that the daemon's HTTP parser only ever
//     sees requests written by Go's HTTP client, never the network's bytes;
//   - removes every header of its own namespace a client sent (X-Postdeck-*)
//     and sets PeerHeader to the TCP peer's address. The daemon believes
//     that header only on this socket (mode 0660, group of the web user),
//     and applies --trusted-proxies to X-Forwarded-For after it, exactly as
//     it did for TCP peers.
//
// Answers of the daemon are copied back as they are. When the daemon does
// not answer, the client gets a 502 with a fixed sentence; the reason goes
// to the web process's log only.
//
// The package imports the standard library only: the web process links
// the rest of postdeck (it is the same binary) but never calls into it.
package webproxy
