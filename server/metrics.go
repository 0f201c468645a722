package server

import (
	"errors"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/sdapi/sdapi/processing/queue"
)

// MetricsPath serves the Prometheus metrics. It is outside /sdapi, not in
// the OpenAPI document and not behind --api-auth.
const MetricsPath = "/metrics"

// Job outcomes, the values of the outcome label of sdapi_jobs_total.
const (
	outcomeOK          = "ok"          // finished
	outcomeError       = "error"       // failed (the client got an error)
	outcomeInterrupted = "interrupted" // stopped by /interrupt; the client got the images so far
	outcomeCancelled   = "cancelled"   // the client went away while the job ran
	outcomeRejected    = "rejected"    // refused by a full queue (503)
)

// metrics holds the server's collectors on a registry of its own, so two
// servers in one process (tests) do not collide on the global default.
type metrics struct {
	reg      *prometheus.Registry
	jobs     *prometheus.CounterVec
	jobTime  *prometheus.HistogramVec
	stepTime *prometheus.HistogramVec
}

func newMetrics(q *queue.Queue, extra []prometheus.Collector) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		jobs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sdapi_jobs_total",
			Help: "Generation and extras jobs by mode (txt2img, img2img, extras) and outcome (ok, error, interrupted, cancelled, rejected).",
		}, []string{"mode", "outcome"}),
		jobTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "sdapi_job_duration_seconds",
			Help:    "Time a job held the queue, by mode.",
			Buckets: prometheus.ExponentialBuckets(0.01, 2, 16), // 10 ms .. ~5.5 min
		}, []string{"mode"}),
		stepTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "sdapi_step_duration_seconds",
			Help:    "Mean time per sampling step of each finished generation job (job time / (steps * n_iter)), by mode.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 16), // 1 ms .. ~33 s
		}, []string{"mode"}),
	}
	m.reg.MustRegister(m.jobs, m.jobTime, m.stepTime,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.reg.MustRegister(extra...)
	if q != nil {
		m.reg.MustRegister(
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "sdapi_queue_depth",
				Help: "Jobs waiting in the queue behind the running one.",
			}, func() float64 { return float64(q.Snapshot().Waiting) }),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "sdapi_queue_running",
				Help: "1 while a job holds the queue, 0 when idle.",
			}, func() float64 {
				if q.Snapshot().Running != "" {
					return 1
				}
				return 0
			}),
		)
	}
	for _, mode := range []string{"txt2img", "img2img", "extras"} {
		for _, o := range []string{outcomeOK, outcomeError, outcomeInterrupted, outcomeCancelled, outcomeRejected} {
			m.jobs.WithLabelValues(mode, o) // export zeros so rates work from the start
		}
	}
	return m
}

// jobDone records a job that ran; steps is the number of sampling steps it
// asked for (0 for extras).
func (m *metrics) jobDone(mode, outcome string, d time.Duration, steps int) {
	m.jobs.WithLabelValues(mode, outcome).Inc()
	m.jobTime.WithLabelValues(mode).Observe(d.Seconds())
	if outcome == outcomeOK && steps > 0 {
		m.stepTime.WithLabelValues(mode).Observe(d.Seconds() / float64(steps))
	}
}

// rejectedIfFull counts a job the queue refused.
func (m *metrics) rejectedIfFull(mode string, err error) {
	if errors.Is(err, queue.ErrQueueFull) {
		m.jobs.WithLabelValues(mode, outcomeRejected).Inc()
	}
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// MetricsHandler serves this server's /metrics alone: what a fleet's
// worker, which has no public API, serves.
func (s *Server) MetricsHandler() http.Handler { return s.metrics.handler() }
