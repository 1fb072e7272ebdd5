package main

import (
	"errors"
	"flag"
	"log/slog"
	"strings"

	"postdeck/cluster"
	"postdeck/store"
)

// clusterFlags are the options that make serve a cluster node, and that
// the offline cluster commands take.
type clusterFlags struct {
	endpoints    []string
	node         string
	prefix       string
	ca           string
	cert         string
	key          string
	user         string
	passwordFile string
	perNode      []string
	api          string
}

func (c *clusterFlags) register(fs *flag.FlagSet) {
	fs.Func("cluster-endpoints", "comma-separated etcd client URLs (http(s)://HOST:2379,...): join the cluster kept there (none: standalone)", func(v string) error {
		c.endpoints = splitList(v)
		return nil
	})
	fs.StringVar(&c.node, "node-name", "", "this node's name in the cluster (with --cluster-endpoints)")
	fs.StringVar(&c.prefix, "cluster-prefix", cluster.DefaultPrefix, "where the cluster's keys live in etcd")
	fs.StringVar(&c.ca, "cluster-ca", "", "CA certificate (PEM) that signed the etcd members' certificates")
	fs.StringVar(&c.cert, "cluster-cert", "", "client certificate (PEM) for etcd")
	fs.StringVar(&c.key, "cluster-key", "", "client key (PEM) for etcd")
	fs.StringVar(&c.user, "cluster-user", "", "etcd user (with --cluster-password-file)")
	fs.StringVar(&c.passwordFile, "cluster-password-file", "", "file whose first line is the etcd user's password")
	fs.Func("cluster-per-node", "comma-separated settings each node keeps for itself (default hostname,helo_name)", func(v string) error {
		c.perNode = splitList(v)
		return nil
	})
	fs.StringVar(&c.api, "cluster-api", "", "this node's console URL as the cluster view shows it (default: http://--listen)")
}

func splitList(v string) []string {
	out := []string{}
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// config turns the flags into a cluster configuration; ok false when no
// endpoints were given (standalone).
func (c *clusterFlags) config() (cluster.Config, bool, error) {
	if len(c.endpoints) == 0 {
		if c.node != "" {
			return cluster.Config{}, false, errors.New("--node-name needs --cluster-endpoints")
		}
		return cluster.Config{}, false, nil
	}
	if c.node == "" {
		return cluster.Config{}, false, errors.New("--cluster-endpoints needs --node-name (this node's name in the cluster)")
	}
	if (c.user == "") != (c.passwordFile == "") {
		return cluster.Config{}, false, errors.New("--cluster-user and --cluster-password-file go together")
	}
	cfg := cluster.Config{Endpoints: c.endpoints, Prefix: c.prefix, Node: c.node, API: c.api,
		PerNode: c.perNode, CA: c.ca, Cert: c.cert, Key: c.key, Username: c.user}
	if c.passwordFile != "" {
		p, err := cluster.ReadPasswordFile(c.passwordFile)
		if err != nil {
			return cfg, false, err
		}
		cfg.Password = p
	}
	return cfg, true, nil
}

// node returns the cluster node of serve, nil when standalone.
func (c *clusterFlags) newNode(db *store.DB, log *slog.Logger) (*cluster.Node, error) {
	cfg, ok, err := c.config()
	if err != nil || !ok {
		return nil, err
	}
	return cluster.New(cfg, db, log)
}
