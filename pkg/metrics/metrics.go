// Package metrics holds hlsd's Prometheus metrics: HTTP traffic per service
// and route, jobs per stage and outcome, encode speed, queue depth, bytes in
// and out. Every process registers them in its own registry and serves it at
// /metrics.
package metrics

import (
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics is one process's set.
type Metrics struct {
	Registry      *prometheus.Registry
	httpRequests  *prometheus.CounterVec
	httpDuration  *prometheus.HistogramVec
	jobs          *prometheus.CounterVec
	started       *prometheus.CounterVec
	redelivered   *prometheus.CounterVec
	jobDuration   *prometheus.HistogramVec
	ffmpegSpeed   prometheus.Histogram
	uploadedBytes prometheus.Counter
	servedBytes   prometheus.Counter

	// routes holds the counter and histogram of each (service, route,
	// code) seen: WithLabelValues hashes its labels on every call, a
	// tenth of a cached playlist's cost (BENCHMARKS.md).
	jobWait *prometheus.HistogramVec

	routesMu sync.RWMutex
	routes   map[routeKey]routeObservers
}

// New registers every metric in a fresh registry, with Go and process collectors.
func New() *Metrics {
	r := prometheus.NewRegistry()
	r.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m := &Metrics{
		Registry: r,
		httpRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hlsd_http_requests_total", Help: "HTTP requests by service, route and status code.",
		}, []string{"service", "route", "code"}),
		httpDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "hlsd_http_request_duration_seconds", Help: "HTTP request latency by service and route.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 5, 30, 120, 600},
		}, []string{"service", "route"}),
		jobs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hlsd_jobs_total", Help: "Jobs finished by stage and outcome (succeeded, retried, failed, skipped).",
		}, []string{"stage", "outcome"}),
		started: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hlsd_jobs_started_total", Help: "Jobs begun by stage (started minus finished outcomes is what is in flight).",
		}, []string{"stage"}),
		redelivered: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hlsd_jobs_redelivered_total", Help: "Jobs handled on a second or later delivery, by stage.",
		}, []string{"stage"}),
		jobDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "hlsd_job_duration_seconds", Help: "Time spent on one job by stage and outcome.",
			Buckets: prometheus.ExponentialBuckets(0.01, 2.5, 14), // 10 ms … ~10 h
		}, []string{"stage", "outcome"}),
		jobWait: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "hlsd_job_wait_seconds", Help: "Time from a job's publication to its start, by stage and priority (start: plans and first chunks; later: later chunks).",
			Buckets: prometheus.ExponentialBuckets(0.01, 2.5, 14),
		}, []string{"stage", "priority"}),
		ffmpegSpeed: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "hlsd_ffmpeg_speed_ratio", Help: "Seconds of media encoded per second of wall time (x real time).",
			Buckets: []float64{0.1, 0.25, 0.5, 1, 2, 4, 8, 16, 32},
		}),
		uploadedBytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "hlsd_uploaded_bytes_total", Help: "Bytes of uploaded sources stored.",
		}),
		servedBytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "hlsd_served_bytes_total", Help: "Bytes of playlists and segments sent to players.",
		}),
	}
	r.MustRegister(m.httpRequests, m.httpDuration, m.jobs, m.started, m.redelivered, m.jobDuration, m.ffmpegSpeed, m.uploadedBytes, m.servedBytes, m.jobWait)
	return m
}

// Handler serves the registry at /metrics.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{Registry: m.Registry})
}

// ObserveJob counts one job's outcome (queue.Worker.Observe): "started"
// when it begins, then "succeeded", "retried", "failed" or "skipped".
func (m *Metrics) ObserveJob(stage, outcome string, d time.Duration, redelivered bool) {
	o := outcome
	if o == "started" {
		m.started.WithLabelValues(stage).Inc()
		return
	}
	m.jobs.WithLabelValues(stage, o).Inc()
	m.jobDuration.WithLabelValues(stage, o).Observe(d.Seconds())
	if redelivered {
		m.redelivered.WithLabelValues(stage).Inc()
	}
}

// ObserveWait records how long a job waited before it started
// (queue.Worker.Waited).
func (m *Metrics) ObserveWait(stage string, later bool, d time.Duration) {
	priority := "start"
	if later {
		priority = "later"
	}
	m.jobWait.WithLabelValues(stage, priority).Observe(d.Seconds())
}

// ObserveSpeed records one encode's speed.
func (m *Metrics) ObserveSpeed(x float64) { m.ffmpegSpeed.Observe(x) }

// AddUploaded counts stored upload bytes.
func (m *Metrics) AddUploaded(n int64) { m.uploadedBytes.Add(float64(n)) }

// RegisterQueueDepth reports, at each scrape, the jobs waiting or in flight
// for a stage, as pending counts them (queue.Pending on its consumer).
func (m *Metrics) RegisterQueueDepth(stage string, pending func(context.Context) (uint64, error)) {
	m.Registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "hlsd_queue_pending_jobs", Help: "Jobs waiting or in flight per stage (the number to autoscale workers on).",
		ConstLabels: prometheus.Labels{"stage": stage},
	}, func() float64 {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		n, err := pending(ctx)
		if err != nil {
			return -1
		}
		return float64(n)
	}))
}

// Instrument counts requests, latency and (for the content service) bytes
// sent. Routes are coarse labels, so ids in paths never become label values.
func (m *Metrics) Instrument(service string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := recorders.Get().(*recorder)
		*rec = recorder{ResponseWriter: w, code: http.StatusOK}
		h.ServeHTTP(rec, r)
		m.ObserveHTTP(service, Route(r.URL.Path), rec.code, time.Since(start), rec.bytes)
		*rec = recorder{} // holds no writer while pooled
		recorders.Put(rec)
	})
}

// recorders are reused: one allocation less per request.
var recorders = sync.Pool{New: func() any { return new(recorder) }}

// ObserveHTTP records one answered request, as Instrument does; for
// requests answered outside net/http (the content service's fast path).
func (m *Metrics) ObserveHTTP(service, route string, code int, took time.Duration, bytes int64) {
	o := m.observers(routeKey{service, route, code})
	o.requests.Inc()
	o.duration.Observe(took.Seconds())
	if o.content {
		m.servedBytes.Add(float64(bytes))
	}
}

type routeKey struct {
	service, route string
	code           int
}

type routeObservers struct {
	requests prometheus.Counter
	duration prometheus.Observer
	content  bool // a /streams/ route: its bytes count as served
}

func (m *Metrics) observers(k routeKey) routeObservers {
	m.routesMu.RLock()
	o, ok := m.routes[k]
	m.routesMu.RUnlock()
	if ok {
		return o
	}
	o = routeObservers{
		requests: m.httpRequests.WithLabelValues(k.service, k.route, strconv.Itoa(k.code)),
		duration: m.httpDuration.WithLabelValues(k.service, k.route),
		content:  strings.HasPrefix(k.route, "/streams/"),
	}
	m.routesMu.Lock()
	if m.routes == nil {
		m.routes = map[routeKey]routeObservers{}
	}
	m.routes[k] = o // routes and codes are few (Route), so the map stays small
	m.routesMu.Unlock()
	return o
}

// Route maps a path to a low-cardinality label.
func Route(path string) string {
	switch {
	// Player requests first: nearly all of a busy server's.
	case strings.HasPrefix(path, "/streams/") && (strings.HasSuffix(path, ".ts") || strings.HasSuffix(path, ".m4s") || strings.HasSuffix(path, ".mp4")):
		return "/streams/{segment}"
	case strings.HasPrefix(path, "/streams/") && strings.HasSuffix(path, ".m3u8"):
		return "/streams/{playlist}"
	case path == "/" || path == "/upload" || path == "/api/videos" || path == "/metrics" || path == "/healthz" ||
		path == "/readyz" || path == "/videos" || path == "/api/openapi.json":
		return path
	case strings.HasPrefix(path, "/api/videos/") && strings.HasSuffix(path, "/events"):
		return "/api/videos/{id}/events" // long-lived: kept out of the other routes' latencies
	case strings.HasPrefix(path, "/api/videos/"):
		return "/api/videos/{id}"
	case strings.HasPrefix(path, "/api/uploads"):
		return "/api/uploads/{id}"
	case strings.HasPrefix(path, "/videos/"):
		return "/videos/{id}"
	case strings.HasPrefix(path, "/static/"):
		return "/static/{file}"
	case strings.HasPrefix(path, "/streams/"):
		return "/streams/{file}" // keys, posters, storyboards
	default:
		return "other"
	}
}

type recorder struct {
	http.ResponseWriter
	code  int
	bytes int64
}

func (r *recorder) WriteHeader(code int) {
	r.code = code
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	n, err := r.ResponseWriter.Write(b)
	r.bytes += int64(n)
	return n, err
}

// ReadFrom keeps net/http's own ReadFrom reachable (http.ServeContent of a
// file is sendfile through it), counting what it sent.
func (r *recorder) ReadFrom(src io.Reader) (int64, error) {
	var n int64
	var err error
	if rf, ok := r.ResponseWriter.(io.ReaderFrom); ok {
		n, err = rf.ReadFrom(src)
	} else {
		n, err = io.Copy(struct{ io.Writer }{r.ResponseWriter}, src)
	}
	r.bytes += n
	return n, err
}

// Unwrap lets http.ResponseController reach the real writer (flushes for SSE).
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
