package cluster

import (
	"context"
	"maps"
	"strings"
	"sync"

	"google.golang.org/grpc"
)

// requestCounter counts the requests this node sends to etcd, by method:
// unary calls (Range, Txn, Put, LeaseGrant, ...) and stream openings
// (Watch, LeaseKeepAlive). The messages on an open stream (a keep-alive
// every TTL/3) are not requests of their own. The idle-cluster benchmark
// and the cluster view read it.
type requestCounter struct {
	mu sync.Mutex
	n  map[string]uint64
}

func newRequestCounter() *requestCounter { return &requestCounter{n: map[string]uint64{}} }

func (c *requestCounter) add(method string) {
	if i := strings.LastIndexByte(method, '/'); i >= 0 {
		method = method[i+1:]
	}
	c.mu.Lock()
	c.n[method]++
	c.mu.Unlock()
}

func (c *requestCounter) unary(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	c.add(method)
	return invoker(ctx, method, req, reply, cc, opts...)
}

func (c *requestCounter) stream(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	c.add(method)
	return streamer(ctx, desc, cc, method, opts...)
}

func (c *requestCounter) snapshot() map[string]uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.n)
}
