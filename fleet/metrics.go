package fleet

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"
)

// The fleet's /metrics. An API reports the fleet as the workers'
// heartbeats and the stream show it at scrape time; a worker counts what
// it did.
var (
	descWorkersAlive = prometheus.NewDesc("sdapi_fleet_workers_alive",
		"Workers whose heartbeat is fresh (each writes one every second; a dead worker's expires after 5 s).", nil, nil)
	descWorkerBusy = prometheus.NewDesc("sdapi_fleet_worker_jobs_in_flight",
		"1 while the worker runs a job, 0 when it waits for one, by worker.", []string{"worker"}, nil)
	descWorkerDone = prometheus.NewDesc("sdapi_fleet_worker_jobs_done",
		"Jobs the worker finished since it started, by worker (from its heartbeat).", []string{"worker"}, nil)
	descWorkerRedelivered = prometheus.NewDesc("sdapi_fleet_worker_redelivered_jobs",
		"Redelivered jobs (their first worker died or timed out) the worker took since it started, by worker.", []string{"worker"}, nil)
	descStreamJobs = prometheus.NewDesc("sdapi_fleet_stream_jobs",
		"Jobs in the fleet's work-queue stream: waiting or running, from every API.", nil, nil)
	descPending = prometheus.NewDesc("sdapi_fleet_api_jobs_pending",
		"This API's jobs waiting for a worker's answer.", nil, nil)
	descDuplicates = prometheus.NewDesc("sdapi_fleet_api_duplicate_results_total",
		"Results this API dropped: their job was answered already (a redelivered job finished twice) or its client had gone.", nil, nil)
)

// Collector returns the API's fleet metrics.
func (a *API) Collector() prometheus.Collector { return apiCollector{a} }

type apiCollector struct{ a *API }

func (c apiCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descWorkersAlive, descWorkerBusy, descWorkerDone, descWorkerRedelivered, descStreamJobs, descPending, descDuplicates} {
		ch <- d
	}
}

func (c apiCollector) Collect(ch chan<- prometheus.Metric) {
	a := c.a
	ctx, done := context.WithTimeout(context.Background(), requestTimeout)
	defer done()
	hbs := a.heartbeats(ctx)
	ch <- prometheus.MustNewConstMetric(descWorkersAlive, prometheus.GaugeValue, float64(len(hbs)))
	for _, hb := range hbs {
		busy := 0.0
		if hb.Job != "" {
			busy = 1
		}
		ch <- prometheus.MustNewConstMetric(descWorkerBusy, prometheus.GaugeValue, busy, hb.Worker)
		ch <- prometheus.MustNewConstMetric(descWorkerDone, prometheus.GaugeValue, float64(hb.Done), hb.Worker)
		ch <- prometheus.MustNewConstMetric(descWorkerRedelivered, prometheus.GaugeValue, float64(hb.Redelive), hb.Worker)
	}
	if info, err := a.c.stream.Info(ctx); err == nil {
		ch <- prometheus.MustNewConstMetric(descStreamJobs, prometheus.GaugeValue, float64(info.State.Msgs))
	}
	a.mu.Lock()
	pending := len(a.order)
	a.mu.Unlock()
	ch <- prometheus.MustNewConstMetric(descPending, prometheus.GaugeValue, float64(pending))
	ch <- prometheus.MustNewConstMetric(descDuplicates, prometheus.CounterValue, float64(a.duplicates.Load()))
}

// Collector returns the worker's own fleet metrics.
func (w *Worker) Collector() prometheus.Collector { return workerCollector{w} }

type workerCollector struct{ w *Worker }

var (
	descOwnBusy = prometheus.NewDesc("sdapi_fleet_worker_busy",
		"1 while this worker runs a fleet job.", nil, nil)
	descOwnDone = prometheus.NewDesc("sdapi_fleet_worker_jobs_total",
		"Fleet jobs this worker finished and answered.", nil, nil)
	descOwnRedelivered = prometheus.NewDesc("sdapi_fleet_worker_redelivered_jobs_total",
		"Redelivered fleet jobs this worker took.", nil, nil)
)

func (c workerCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descOwnBusy
	ch <- descOwnDone
	ch <- descOwnRedelivered
}

func (c workerCollector) Collect(ch chan<- prometheus.Metric) {
	busy := 0.0
	if _, ok := c.w.current(); ok {
		busy = 1
	}
	ch <- prometheus.MustNewConstMetric(descOwnBusy, prometheus.GaugeValue, busy)
	ch <- prometheus.MustNewConstMetric(descOwnDone, prometheus.CounterValue, float64(c.w.done.Load()))
	ch <- prometheus.MustNewConstMetric(descOwnRedelivered, prometheus.CounterValue, float64(c.w.redeliver.Load()))
}
