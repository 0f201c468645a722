package server

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sdapi/sdapi/processing"
)

// patchCollector exports the loaded runner's cache of patched sessions:
// the memory each cached LoRA set (or embedding table) holds, and how many
// were built, so a repeated prompt shows as no new build.
type patchCollector struct {
	models *processing.ModelHost
	bytes  *prometheus.Desc
	builds *prometheus.Desc
}

func newPatchCollector(models *processing.ModelHost) *patchCollector {
	return &patchCollector{
		models: models,
		bytes: prometheus.NewDesc("sdapi_patched_session_bytes",
			"Memory held by each cached session with patched weights (a LoRA set or textual-inversion rows), by model part and set.",
			[]string{"part", "set"}, nil),
		builds: prometheus.NewDesc("sdapi_patched_session_builds",
			"Sessions with patched weights built since the model loaded; a request served from the cache adds none.",
			nil, nil),
	}
}

func (c *patchCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.bytes
	ch <- c.builds
}

func (c *patchCollector) Collect(ch chan<- prometheus.Metric) {
	if c.models == nil {
		return
	}
	st, ok := c.models.PatchCache()
	if !ok {
		return
	}
	ch <- prometheus.MustNewConstMetric(c.builds, prometheus.GaugeValue, float64(st.Builds))
	seen := map[[2]string]bool{}
	for _, e := range st.Entries {
		k := [2]string{e.Part, e.Set}
		if seen[k] {
			continue // a label pair may be exported once
		}
		seen[k] = true
		ch <- prometheus.MustNewConstMetric(c.bytes, prometheus.GaugeValue, float64(e.Bytes), e.Part, e.Set)
	}
}
