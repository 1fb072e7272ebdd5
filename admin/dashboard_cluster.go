package admin

import (
	"fmt"
	"strings"
	"time"

	"postdeck/cluster/report"
)

// clusterLagGrace is how long a node may be behind before the dashboard
// names it: applying a change (render, validate, reload, the listener
// check) takes seconds, a node behind for a minute is stuck.
const clusterLagGrace = time.Minute

// clusterProblems are the dashboard's sentences about the cluster, one
// per node that is wrong, each naming the node: this node cut off, a
// node whose lease ran out, one that refused or failed to apply a
// change, one behind for longer than clusterLagGrace, one whose Postfix
// is stopped. Cut off, this node knows nothing current about the others
// and says only what it knows about itself.
func clusterProblems(v report.View, now time.Time) []string {
	var out []string
	if !v.Reachable {
		out = append(out, fmt.Sprintf("This node (%s) cannot reach the cluster (%s): it serves mail with its last good configuration, change #%d, and refuses changes until etcd answers; how the other nodes are is unknown from here.", v.Node, v.Error, v.Seq))
	}
	for _, nv := range v.Nodes {
		self := nv.Name == v.Node
		if !v.Reachable && !self {
			continue
		}
		who := "Node " + nv.Name
		if self {
			who = "This node (" + nv.Name + ")"
		}
		st := nv.Status
		switch {
		case st == nil || !nv.Alive:
			if !self {
				out = append(out, who+" is down: its lease ran out, so its daemon is stopped or cannot reach the cluster, and it takes no change.")
			}
		case st.Failing:
			msg := strings.TrimSpace(truncate(st.Message, 300))
			if msg == "" {
				msg = "no reason given."
			} else if !strings.HasSuffix(msg, ".") {
				msg += "."
			}
			out = append(out, fmt.Sprintf("%s %s change #%d: %s It keeps its last good configuration, change #%d.", who, failedVerb(st.Result), st.TriedSeq, msg, st.AppliedSeq))
		case nv.Lag > 0 && !nv.BehindSince.IsZero() && now.Sub(nv.BehindSince) >= clusterLagGrace:
			out = append(out, fmt.Sprintf("%s is %d %s behind (it runs change #%d of #%d) for %s.", who, nv.Lag, plural(nv.Lag, "change", "changes"), st.AppliedSeq, v.Seq, roughly(now.Sub(nv.BehindSince))))
		}
		if st != nil && nv.Alive && !self && !st.PostfixRunning {
			out = append(out, who+": Postfix is stopped, so it neither receives nor delivers mail.")
		}
	}
	return out
}

// failedVerb says what a node did with a change it did not apply, from
// its result.
func failedVerb(result string) string {
	switch result {
	case ResultRefused:
		return "refused"
	case ResultRolledBack:
		return "rolled back"
	}
	return "could not apply"
}

func plural(n int64, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// roughly is a duration in the words the dashboard uses, to the minute
// (the page may be served again within the minute).
func roughly(d time.Duration) string {
	switch m := int64(d / time.Minute); {
	case m < 1:
		return "less than a minute"
	case m < 120:
		return fmt.Sprintf("%d min", m)
	case m < 48*60:
		return fmt.Sprintf("%d h", m/60)
	default:
		return fmt.Sprintf("%d days", m/(24*60))
	}
}
