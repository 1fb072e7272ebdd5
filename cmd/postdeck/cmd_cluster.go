package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"postdeck/cluster"
	"postdeck/cluster/report"
	"postdeck/queue"
	"postdeck/store"
)

const clusterUsage = `usage: postdeck cluster init|join|remove|peer-token|status [flags]

  init    seed an empty cluster from this node's database (how a standalone
          gateway becomes the first node); offline: stop the daemon first
  join    add this node to an initialised cluster (its own host name and
          HELO name stay its own); offline: stop the daemon first
  remove NAME
          take a stopped node out of the cluster
  peer-token
          make a new token for node-to-node actions (cluster-peers), as
          after it was revoked; the running nodes take it at once
  status  the cluster's nodes, their applied revision, lag, last result,
          Postfix's state, counts and last heartbeat (asks the running
          daemon over its socket)

Then start the daemon with the same --cluster-* flags and --node-name (or
POSTDECK_CLUSTER_ENDPOINTS, POSTDECK_NODE_NAME, ... in /etc/default/postdeck).

flags:
`

func cmdCluster(args []string) error {
	if len(args) == 0 {
		fmt.Fprint(os.Stderr, clusterUsage)
		return errors.New("expected init, join, remove, peer-token or status")
	}
	switch args[0] {
	case "init", "join", "remove", "peer-token":
		return cmdClusterOffline(args[0], args[1:])
	case "status":
		return cmdClusterStatus(args[1:])
	}
	return fmt.Errorf("unknown cluster command %q: expected init, join, remove, peer-token or status", args[0])
}

// applyEnv sets each flag that was not given from POSTDECK_<FLAG>, as
// serve does, so that the offline commands read /etc/default/postdeck's
// variables too.
func applyEnv(fs *flag.FlagSet) error {
	var errs error
	fs.VisitAll(func(fl *flag.Flag) {
		env := "POSTDECK_" + strings.ToUpper(strings.ReplaceAll(fl.Name, "-", "_"))
		if v, ok := os.LookupEnv(env); ok {
			if err := fl.Value.Set(v); err != nil {
				errs = errors.Join(errs, fmt.Errorf("%s: %w", env, err))
			}
		}
	})
	return errs
}

// clusterOfflineArgs refuses the positional arguments an offline
// cluster command does not take (remove takes the node's name, the
// others none) as a usage error.
func clusterOfflineArgs(what string, args []string) error {
	want := 0
	if what == "remove" {
		want = 1
		if len(args) == 0 {
			return badUsage("missing argument: postdeck cluster remove NAME (the name of the node to remove); nothing was done")
		}
	}
	if len(args) > want {
		takes := "no argument"
		if want == 1 {
			takes = "NAME"
		}
		return badUsage(fmt.Sprintf("unexpected argument %q: cluster %s takes %s; nothing was done", args[want], what, takes))
	}
	return nil
}

func cmdClusterOffline(what string, args []string) error {
	fs := flag.NewFlagSet("cluster "+what, flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), clusterUsage)
		fs.PrintDefaults()
	}
	data := fs.String("data", "/var/lib/postdeck", "data directory (the bbolt database)")
	var cf clusterFlags
	cf.register(fs)
	if err := applyEnv(fs); err != nil {
		return err
	}
	if err := parseArgs(fs, args); err != nil {
		return err
	}
	// The arguments first: a command typed wrong says so at once (exit
	// 2), without a connection to etcd that takes the request timeout
	// when etcd does not answer.
	if err := clusterOfflineArgs(what, fs.Args()); err != nil {
		return err
	}
	cfg, ok, err := cf.config()
	if err != nil {
		return err
	}
	if !ok {
		return errors.New("--cluster-endpoints: give the etcd members' client URLs")
	}
	a, err := cluster.Connect(cfg)
	if err != nil {
		return err
	}
	defer a.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if what == "remove" {
		if err := a.Remove(ctx, fs.Arg(0)); err != nil {
			return err
		}
		fmt.Printf("node %s removed from the cluster\n", fs.Arg(0))
		return nil
	}
	if what == "peer-token" {
		if err := a.RenewPeerToken(ctx); err != nil {
			return err
		}
		fmt.Printf("a new token for node-to-node actions (%s) is in the cluster; the running nodes use it from their next request\n", cluster.PeerTokenName)
		return nil
	}
	db, err := store.Open(filepath.Join(*data, "postdeck.db"))
	if err != nil {
		return fmt.Errorf("%w (stop the daemon first: the cluster commands work offline on its database)", err)
	}
	defer db.Close()
	if what == "init" {
		rev, err := a.Init(ctx, db)
		if err != nil {
			return err
		}
		fmt.Printf("cluster seeded from %s at revision %d; node %s is its first member: start the daemon with the same --cluster-* flags\n", *data, rev, cfg.Node)
		return nil
	}
	if err := a.Join(ctx, db); err != nil {
		return err
	}
	fmt.Printf("node %s joined the cluster; start the daemon with the same --cluster-* flags: it takes the cluster's configuration and users\n", cfg.Node)
	return nil
}

func cmdClusterStatus(args []string) error {
	fs := flag.NewFlagSet("cluster status", flag.ContinueOnError)
	socket, jsonOut := clientFlags(fs)
	if err := parseCommand(fs, "cluster status", args); err != nil {
		return err
	}
	c := newClient(*socket, *jsonOut)
	var v report.View
	raw, err := c.do("GET", "/api/v1/cluster", nil, &v)
	if err != nil {
		return err
	}
	if c.json {
		return printJSON(raw)
	}
	return printClusterView(os.Stdout, v)
}

// printClusterView writes cluster status's text: the revision and its
// last change, then a line per node. The etcd error and Postfix's words
// are shown as the console shows them (queue.Readable): a value another
// administrator wrote can stand in them.
func printClusterView(out io.Writer, v report.View) error {
	reach := "reachable"
	if !v.Reachable {
		reach = "UNREACHABLE from this node: " + queue.Readable(v.Error)
	}
	fmt.Fprintf(out, "cluster %s (asked node %s): %s\n", v.Prefix, v.Node, reach)
	// A node restarted while etcd is unreachable knows its revision (from
	// its database) but not who made it: "by  on  at 0001-01-01" said
	// nothing, and looked like a change made by nobody.
	if v.Last.Action != "" {
		fmt.Fprintf(out, "revision %d (#%d): %s by %s on %s at %s\n\n", v.Revision, v.Seq, v.Last.Action, v.Last.Actor, v.Last.Node, v.Last.At.Format(time.RFC3339))
	} else {
		fmt.Fprintf(out, "revision %d (#%d)\n\n", v.Revision, v.Seq)
	}
	fmt.Fprintf(out, "%-16s %-7s %-9s %-4s %-12s %-8s %-16s %-20s %s\n", "NODE", "ALIVE", "APPLIED", "LAG", "RESULT", "POSTFIX", "QUEUE/MPA/ERR", "HEARTBEAT", "MESSAGE")
	for _, n := range v.Nodes {
		alive, applied, lag, result, pf, counts, hb, msg := "no", "-", "-", "-", "-", "-", "-", ""
		switch {
		case n.Alive:
			alive = "yes"
		case !v.Reachable && n.Name == v.Node:
			// It answers: it runs, cut off from the others.
			alive = "cut-off"
		case !v.Reachable:
			// Cut off, the asked node cannot tell whether the others run.
			alive = "unknown"
		}
		if st := n.Status; st != nil {
			applied = fmt.Sprintf("%d", st.Applied)
			lag = fmt.Sprintf("%d", n.Lag)
			result = st.Result
			if st.Failing {
				result = "FAILING"
			}
			pf = "stopped"
			if st.PostfixRunning {
				pf = "running"
			}
			total := 0
			for _, n := range st.Queue {
				total += n
			}
			counts = fmt.Sprintf("%d/%d/%d", total, st.MPASpool, st.MPAErrors)
			msg = queue.Readable(st.Message)
		}
		if !n.Heartbeat.IsZero() {
			hb = n.Heartbeat.Format(time.RFC3339)
		}
		if _, err := fmt.Fprintf(out, "%-16s %-7s %-9s %-4s %-12s %-8s %-16s %-20s %s\n", n.Name, alive, applied, lag, result, pf, counts, hb, msg); err != nil {
			return err
		}
	}
	return nil
}
