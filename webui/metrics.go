package webui

import (
	"context"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics are the Prometheus series of /metrics. Counters of requests are
// kept here; everything else is read from the owning package at scrape time.
type metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	// routes are the route patterns of the route table: the only values
	// of the route label besides "unmatched".
	routes map[string]bool
}

func newMetrics(s *Server) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "postdeck_http_requests_total",
			Help: "HTTP requests by route, method and status code.",
		}, []string{"route", "method", "code"}),
	}
	m.reg.MustRegister(m.requests, &collector{s: s}, collectors.NewGoCollector())
	m.routes = map[string]bool{}
	for _, r := range s.routeTable() {
		m.routes[r.path] = true
	}
	return m
}

// methodLabels are the methods the method label names; any other is
// "other", so that a client cannot make series with methods of its own.
var methodLabels = map[string]bool{
	fiber.MethodGet: true, fiber.MethodHead: true, fiber.MethodPost: true, fiber.MethodPut: true,
	fiber.MethodDelete: true, fiber.MethodPatch: true, fiber.MethodOptions: true,
	fiber.MethodConnect: true, fiber.MethodTrace: true,
}

// requestLabels are the labels of one request, each from a bounded set:
// the route pattern or "unmatched", a known method or "other", a status
// code from 100 to 599 or "other". None of them aliases the request's
// buffers (fiber runs with Immutable; patterns are the router's own).
func (m *metrics) requestLabels(route, path, method string, code int) (string, string, string) {
	if !m.routes[route] || route == "/" && path != "/" {
		route = "unmatched"
	}
	if !methodLabels[method] {
		method = "other"
	}
	codeLabel := "other"
	if code >= 100 && code <= 599 {
		codeLabel = codeLabels[code-100]
	}
	return route, method, codeLabel
}

// codeLabels are the status codes 100 to 599 as label values, made once
// (strconv.Itoa of a code was a string on the heap at every request).
var codeLabels = func() (l [500]string) {
	for i := range l {
		l[i] = strconv.Itoa(100 + i)
	}
	return l
}()

// countRequests records every request by its route pattern (not its path,
// which would give one series per queue id), method and status, each
// label from a bounded set (requestLabels).
func (s *Server) countRequests(c *fiber.Ctx) error {
	err := c.Next()
	code := c.Response().StatusCode()
	if err != nil {
		code, _ = errorStatus(err)
	}
	route, method, codeLabel := s.metrics.requestLabels(c.Route().Path, c.Path(), c.Method(), code)
	s.metrics.requests.WithLabelValues(route, method, codeLabel).Inc()
	return err
}

// metricsPerm: /metrics needs a bearer token (or a session) unless the
// daemon runs with --metrics-public.
func (s *Server) metricsPerm() perm {
	if s.cfg.MetricsPublic {
		return permPublic
	}
	return permRead
}

func (s *Server) metricsGet(c *fiber.Ctx) error {
	h := adaptor.HTTPHandler(promhttp.HandlerFor(s.metrics.reg, promhttp.HandlerOpts{}))
	return h(c)
}

// collector reads the appliance's numbers at scrape time.
type collector struct{ s *Server }

var (
	descQueueMessages = prometheus.NewDesc("postdeck_queue_messages", "Messages in each Postfix queue.", []string{"queue"}, nil)
	descQueueBytes    = prometheus.NewDesc("postdeck_queue_bytes", "Bytes in each Postfix queue.", []string{"queue"}, nil)
	descQueueOldest   = prometheus.NewDesc("postdeck_queue_oldest_message_age_seconds", "Age of the oldest message in the Postfix queue (0 when empty).", nil, nil)
	descMPASpool      = prometheus.NewDesc("postdeck_mpa_spool_messages", "Messages in the MPA queue (spool).", nil, nil)
	descMPAErrors     = prometheus.NewDesc("postdeck_mpa_error_repository_messages", "Entries in the MPA error repository.", nil, nil)
	descMPAErrorBytes = prometheus.NewDesc("postdeck_mpa_error_repository_bytes", "Bytes of the messages in the MPA error repository.", nil, nil)
	descMPAQuota      = prometheus.NewDesc("postdeck_mpa_error_repository_quota", "The error repository's quota, in entries and in bytes.", []string{"unit"}, nil)
	descMPAQuotaFull  = prometheus.NewDesc("postdeck_mpa_error_repository_full", "1 while the error repository is at its quota (the MPA answers 452; Postfix keeps new mail queued).", nil, nil)
	descMPAResent     = prometheus.NewDesc("postdeck_mpa_resent_messages_total", "Messages Postfix sent again after an MPA crash that the MPA recognised and did not store twice.", nil, nil)
	descMPAInDoubt    = prometheus.NewDesc("postdeck_mpa_in_doubt_recipients_total", "Deliveries a crash left in doubt, by how Postfix's log settled them.", []string{"outcome"}, nil)
	descMPAAccepted   = prometheus.NewDesc("postdeck_mpa_accepted_messages_total", "Messages the MPA accepted (durable, answered 250).", nil, nil)
	descMPADelivered  = prometheus.NewDesc("postdeck_mpa_delivered_recipients_total", "Recipients the MPA handed back to Postfix.", nil, nil)
	descMPAFailed     = prometheus.NewDesc("postdeck_mpa_failed_recipients_total", "Recipients the MPA moved to the error repository.", nil, nil)
	descSPFSuccess    = prometheus.NewDesc("postdeck_spf_last_success_timestamp_seconds", "When each SPF-derived map was last refreshed successfully (0: never).", []string{"map"}, nil)
	descSPFFailing    = prometheus.NewDesc("postdeck_spf_last_refresh_failed", "1 when the last refresh of the SPF-derived map failed: Postfix reads the map it had (empty when no refresh has succeeded yet).", []string{"map"}, nil)
	descSPFPrefixes   = prometheus.NewDesc("postdeck_spf_prefixes", "Prefixes in each SPF-derived map.", []string{"map"}, nil)
	descApplies       = prometheus.NewDesc("postdeck_apply_total", "Configuration applies by result.", []string{"result"}, nil)
	descPanics        = prometheus.NewDesc("postdeck_panics_total", "Recovered panics by component.", []string{"component"}, nil)
	descPostfixUp     = prometheus.NewDesc("postdeck_postfix_up", "1 when the Postfix master process runs.", nil, nil)
	descSourceUp      = prometheus.NewDesc("postdeck_source_up", "1 when this scrape could read the part (queue, mpa, spf, disk_postfix_queue, disk_postdeck_data); 0 when it could not: that part's series are left out of this scrape and postdeck's log says why.", []string{"source"}, nil)
	descCertExpiry    = prometheus.NewDesc("postdeck_tls_certificate_expiry_timestamp_seconds", "When a server certificate of the running configuration ends (Unix time; the soonest leaf of the file): where names the parameter (smtpd_tls_cert_file, or service NAME, -o PARAMETER), path the file.", []string{"where", "path"}, nil)
	descDiskFree      = prometheus.NewDesc("postdeck_disk_free_bytes", "Free bytes (for unprivileged use, as Postfix measures them) of the file system of Postfix's queue or postdeck's data directory.", []string{"dir"}, nil)
	descDiskTotal     = prometheus.NewDesc("postdeck_disk_total_bytes", "Size in bytes of the file system of Postfix's queue or postdeck's data directory.", []string{"dir"}, nil)
	descDiskLimit     = prometheus.NewDesc("postdeck_disk_limit_bytes", "Free bytes below which Postfix refuses mail (postfix_queue: queue_minfree or 1.5 x message_size_limit) or postdeck may fail to spool or save (postdeck_data).", []string{"dir"}, nil)

	// The cluster's health as this node knows it (cluster nodes only);
	// the per-node series only while this node reaches the cluster, so
	// that a node cut off does not report every other one down.
	descClusterReachable = prometheus.NewDesc("postdeck_cluster_reachable", "1 while this node follows the cluster (etcd answers); 0 while it is cut off and serves mail with its last good configuration.", nil, nil)
	descClusterChange    = prometheus.NewDesc("postdeck_cluster_change", "Number of the newest configuration change this node knows of (cut off after a restart: the one it runs).", nil, nil)
	descClusterNodeUp    = prometheus.NewDesc("postdeck_cluster_node_up", "1 while the node's lease is live (its daemon runs and reaches the cluster).", []string{"node"}, nil)
	descClusterNodeLag   = prometheus.NewDesc("postdeck_cluster_node_lag_changes", "Configuration changes the node is behind the newest.", []string{"node"}, nil)
	descClusterBehind    = prometheus.NewDesc("postdeck_cluster_node_behind_seconds", "How long the node has been behind (0 when current); never more than it is.", []string{"node"}, nil)
	descClusterFailing   = prometheus.NewDesc("postdeck_cluster_node_failing", "1 when the node refused or failed to apply the last change it tried (it keeps its last good configuration).", []string{"node"}, nil)
)

func (col *collector) Describe(ch chan<- *prometheus.Desc) { prometheus.DescribeByCollect(col, ch) }

func (col *collector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
	}
	m := col.s.admin.Metrics(ctx)
	if m.PostfixUp != nil {
		gauge(descPostfixUp, boolFloat(*m.PostfixUp))
	}
	if m.Queue != nil {
		for _, qc := range m.Queue.Queues {
			gauge(descQueueMessages, float64(qc.Count), qc.Name)
			gauge(descQueueBytes, float64(qc.Bytes), qc.Name)
		}
		gauge(descQueueOldest, m.OldestAge.Seconds())
	}
	if m.MPA != nil {
		gauge(descMPASpool, float64(m.MPA.Spool))
		gauge(descMPAErrors, float64(m.MPA.Errors))
		gauge(descMPAErrorBytes, float64(m.MPA.ErrorBytes))
		gauge(descMPAQuota, float64(m.MPA.ErrorQuotaEntries), "entries")
		gauge(descMPAQuota, float64(m.MPA.ErrorQuotaBytes), "bytes")
		gauge(descMPAQuotaFull, boolFloat(m.MPA.QuotaReached))
	}
	if st := m.MPACounters; st != nil {
		counter(descMPAAccepted, float64(st.Accepted))
		counter(descMPADelivered, float64(st.Delivered))
		counter(descMPAFailed, float64(st.Failed))
		counter(descMPAResent, float64(st.Resent))
		counter(descMPAInDoubt, float64(st.InDoubtDelivered), "delivered")
		counter(descMPAInDoubt, float64(st.InDoubtResent), "resent")
		counter(descMPAInDoubt, float64(st.InDoubtUnresolved), "unresolved")
	}
	for _, st := range m.SPF {
		ts := 0.0
		if !st.LastSuccess.IsZero() {
			ts = float64(st.LastSuccess.Unix())
		}
		gauge(descSPFSuccess, ts, st.Map)
		gauge(descSPFFailing, boolFloat(st.Outcome == "failed"), st.Map)
		gauge(descSPFPrefixes, float64(st.PrefixCount), st.Map)
	}
	if v := m.Cluster; v != nil {
		gauge(descClusterReachable, boolFloat(v.Reachable))
		gauge(descClusterChange, float64(v.Seq))
		for _, nv := range v.Nodes {
			if !v.Reachable {
				break
			}
			up := nv.Alive && nv.Status != nil
			gauge(descClusterNodeUp, boolFloat(up), nv.Name)
			if !up {
				continue // what it reported last is gone with its lease
			}
			gauge(descClusterNodeLag, float64(nv.Lag), nv.Name)
			behind := 0.0
			if nv.Lag > 0 && !nv.BehindSince.IsZero() {
				behind = max(0, time.Since(nv.BehindSince).Seconds())
			}
			gauge(descClusterBehind, behind, nv.Name)
			gauge(descClusterFailing, boolFloat(nv.Status.Failing), nv.Name)
		}
	}
	// One series per file and place: a chain file's several leaves (an
	// RSA and an ECDSA certificate) give the soonest end, which
	// Certificates lists first.
	certSeen := map[[2]string]bool{}
	for _, c := range m.Certificates {
		if k := [2]string{c.Where, c.Path}; !certSeen[k] {
			certSeen[k] = true
			gauge(descCertExpiry, float64(c.NotAfter.Unix()), c.Where, c.Path)
		}
	}
	for _, d := range m.Disks {
		gauge(descDiskFree, float64(d.Free), d.Role)
		gauge(descDiskTotal, float64(d.Total), d.Role)
		gauge(descDiskLimit, float64(d.Limit), d.Role)
	}
	for source, ok := range m.Sources {
		gauge(descSourceUp, boolFloat(ok), source)
	}
	for result, n := range m.ApplyResults {
		counter(descApplies, float64(n), result)
	}
	for comp, n := range m.PanicsByComponent {
		counter(descPanics, float64(n), comp)
	}
}

func boolFloat(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
