package cluster

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc"
)

// Config is how a node reaches its cluster and who it is in it.
type Config struct {
	// Endpoints are the etcd members' client URLs.
	Endpoints []string
	// Prefix is where the cluster's keys live (default /postdeck/): one
	// etcd can hold several clusters under different prefixes.
	Prefix string
	// Node is this node's name, unique in the cluster.
	Node string
	// API is this node's console address as the other nodes and the
	// cluster view show it (optional).
	API string
	// PerNode are the settings (API field names) each node keeps for
	// itself; default hostname and helo_name.
	PerNode []string
	// CA, Cert and Key are PEM files for TLS to etcd (CA alone: server
	// verification; Cert and Key: client certificates).
	CA, Cert, Key string
	// Username and Password authenticate to etcd (its RBAC); the
	// password is read from a file by the daemon.
	Username, Password string
	// LeaseTTL is how long a node's status outlives its last keep-alive
	// (default 15 s).
	LeaseTTL time.Duration
	// RequestTimeout bounds each request (default 5 s): after it, a
	// change is refused with the sentence that the cluster is
	// unreachable, or, when its commit went out unanswered, settled
	// within one RequestTimeout more (settle).
	RequestTimeout time.Duration
	// StatusInterval is how often the node looks whether its status
	// (Postfix's state, counts) changed, and writes it when it did
	// (default 10 s).
	StatusInterval time.Duration
}

// DefaultPerNode are the settings every node keeps for itself unless told
// otherwise: each node renders its own myhostname and smtp_helo_name.
var DefaultPerNode = []string{"hostname", "helo_name"}

var nodeNameRe = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,62}$`)

// ValidNodeName checks a node name: 1 to 63 lowercase letters, digits,
// '.', '_' or '-'.
func ValidNodeName(name string) error {
	if !nodeNameRe.MatchString(name) {
		return fmt.Errorf("--node-name %q: use 1 to 63 lowercase letters, digits, '.', '_' or '-', starting with a letter or digit", name)
	}
	return nil
}

// plainRemote lists the endpoints that reach etcd without TLS on another
// machine: the replicated configuration (the SASL relay passwords among
// it, users' password hashes) and the etcd password cross the network
// there in clear. A loopback endpoint does not leave the machine.
func (c *Config) plainRemote() []string {
	var out []string
	for _, e := range c.Endpoints {
		u, err := url.Parse(e)
		if err != nil || u.Scheme != "http" {
			continue
		}
		host := u.Hostname()
		if ip := net.ParseIP(host); host == "localhost" || ip != nil && ip.IsLoopback() {
			continue
		}
		out = append(out, e)
	}
	return out
}

// check validates the configuration and fills in the defaults.
func (c *Config) check() error {
	if len(c.Endpoints) == 0 {
		return errors.New("--cluster-endpoints: give at least one etcd client URL")
	}
	if len(c.Endpoints) > 16 {
		return errors.New("--cluster-endpoints: at most 16 URLs")
	}
	for _, e := range c.Endpoints {
		if !strings.HasPrefix(e, "http://") && !strings.HasPrefix(e, "https://") {
			return fmt.Errorf("--cluster-endpoints: %q is not a URL (http://HOST:2379 or https://HOST:2379)", e)
		}
	}
	if err := ValidNodeName(c.Node); err != nil {
		return err
	}
	c.Prefix = normPrefix(c.Prefix)
	if len(c.Prefix) > 128 || strings.ContainsAny(c.Prefix, " \t\n") {
		return fmt.Errorf("--cluster-prefix %q: at most 128 characters, no spaces", c.Prefix)
	}
	if c.API != "" {
		// The other nodes put the API's paths after it (node-to-node
		// actions), and the Cluster page links to it: a URL without a
		// scheme failed there only, as an internal error.
		u, err := url.Parse(c.API)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
			return fmt.Errorf("--cluster-api %q: give this node's console URL, http://HOST:PORT or https://HOST:PORT (a proxy's path may follow)", c.API)
		}
		c.API = strings.TrimSuffix(c.API, "/")
	}
	if c.PerNode == nil {
		c.PerNode = DefaultPerNode
	}
	known := SettingsFieldNames()
	for _, f := range c.PerNode {
		if !slices.Contains(known, f) {
			return fmt.Errorf("--cluster-per-node: %q is not a setting (one of %s)", f, strings.Join(known, ", "))
		}
	}
	if (c.Cert == "") != (c.Key == "") {
		return errors.New("--cluster-cert and --cluster-key go together")
	}
	if c.LeaseTTL == 0 {
		c.LeaseTTL = 15 * time.Second
	}
	if c.RequestTimeout == 0 {
		c.RequestTimeout = 5 * time.Second
	}
	if c.StatusInterval == 0 {
		c.StatusInterval = 10 * time.Second
	}
	return nil
}

// tlsConfig builds the client's TLS configuration, nil without TLS files.
func (c *Config) tlsConfig() (*tls.Config, error) {
	if c.CA == "" && c.Cert == "" {
		return nil, nil
	}
	conf := &tls.Config{MinVersion: tls.VersionTLS12}
	if c.CA != "" {
		pem, err := os.ReadFile(c.CA)
		if err != nil {
			return nil, fmt.Errorf("--cluster-ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--cluster-ca %s: no PEM certificate in it", c.CA)
		}
		conf.RootCAs = pool
	}
	if c.Cert != "" {
		cert, err := tls.LoadX509KeyPair(c.Cert, c.Key)
		if err != nil {
			return nil, fmt.Errorf("--cluster-cert/--cluster-key: %w", err)
		}
		conf.Certificates = []tls.Certificate{cert}
	}
	return conf, nil
}

// maxSendBytes bounds one request to etcd: above the largest change the
// API takes (a 32 MiB body), so that etcd's own limit decides.
const maxSendBytes = 64 << 20

// dial returns a client; it does not wait for a connection (a node starts
// and serves mail without etcd).
func dial(c Config, counter *requestCounter) (*clientv3.Client, error) {
	tlsConf, err := c.tlsConfig()
	if err != nil {
		return nil, err
	}
	cli, err := clientv3.New(clientv3.Config{
		Endpoints:   c.Endpoints,
		DialTimeout: c.RequestTimeout,
		TLS:         tlsConf,
		Username:    c.Username,
		Password:    c.Password,
		Logger:      zap.NewNop(),
		DialOptions: []grpc.DialOption{
			grpc.WithChainUnaryInterceptor(counter.unary),
			grpc.WithChainStreamInterceptor(counter.stream),
		},
		// No periodic member sync: an idle node sends nothing but its
		// lease keep-alives.
		AutoSyncInterval: 0,
		// etcd's --max-request-bytes is the limit of a change, not the
		// client's default of 2 MiB (under which a larger change was
		// answered as an unreachable cluster).
		MaxCallSendMsgSize: maxSendBytes,
	})
	if err != nil {
		return nil, fmt.Errorf("connect to etcd: %w", err)
	}
	return cli, nil
}

// ReadPasswordFile reads an etcd password from a file: the first line,
// at most 256 bytes, not empty.
func ReadPasswordFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("--cluster-password-file: %w", err)
	}
	line, _, _ := strings.Cut(string(b), "\n")
	line = strings.TrimRight(line, "\r")
	if line == "" || len(line) > 256 {
		return "", fmt.Errorf("--cluster-password-file %s: the first line must hold the password (1 to 256 bytes)", path)
	}
	return line, nil
}
