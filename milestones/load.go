package milestones

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
)

// Load is the figures of one `make load` run (cmd/sdapi-load's load.json)
// that a run record keeps.
type Load struct {
	Requests         int         `json:"requests"`
	QueueSize        int         `json:"queue_size"`
	Steps            int         `json:"steps"`
	Size             int         `json:"size"`
	OK               int         `json:"ok_200"`
	QueueFull        int         `json:"queue_full_503"`
	Failures         int         `json:"failures"`
	WallSeconds      float64     `json:"wall_seconds"`
	ProgressP50      float64     `json:"progress_p50_ms"`
	ProgressP99      float64     `json:"progress_p99_ms"`
	GoroutinesBefore float64     `json:"goroutines_before"`
	GoroutinesAfter  float64     `json:"goroutines_after"`
	HeapBefore       float64     `json:"heap_inuse_bytes_before"`
	HeapAfter        float64     `json:"heap_inuse_bytes_after"`
	Checks           []LoadCheck `json:"checks"`
}

// LoadCheck is one pass/fail criterion of a load run.
type LoadCheck struct {
	Name string `json:"name"`
	OK   bool   `json:"ok"`
	Got  string `json:"got"`
}

// LoadLoad reads cmd/sdapi-load's load.json.
func LoadLoad(file string) (*Load, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var l Load
	if err := json.Unmarshal(b, &l); err != nil {
		return nil, fmt.Errorf("load results %s: %w", file, err)
	}
	if l.Requests == 0 {
		return nil, fmt.Errorf("load results %s: no requests", file)
	}
	return &l, nil
}

// writeLoad renders the "## Load" section of a run record.
func writeLoad(b *strings.Builder, l *Load) {
	if l == nil {
		return
	}
	fmt.Fprintf(b, "## Load\n\n%d concurrent txt2img requests (%d×%d, %d steps), --queue-size %d.\n\n",
		l.Requests, l.Size, l.Size, l.Steps, l.QueueSize)
	b.WriteString("| figure | value |\n|---|---|\n")
	fmt.Fprintf(b, "| 200 / 503 / failures | %d / %d / %d |\n", l.OK, l.QueueFull, l.Failures)
	fmt.Fprintf(b, "| burst wall time | %s s |\n", formatFloat(l.WallSeconds))
	fmt.Fprintf(b, "| /progress p50 / p99 | %s / %s ms |\n", formatFloat(l.ProgressP50), formatFloat(l.ProgressP99))
	fmt.Fprintf(b, "| goroutines before / after | %.0f / %.0f |\n", l.GoroutinesBefore, l.GoroutinesAfter)
	fmt.Fprintf(b, "| heap in use before / after | %.1f / %.1f MiB |\n\n", l.HeapBefore/(1<<20), l.HeapAfter/(1<<20))
	b.WriteString("| check | result | figures |\n|---|---|---|\n")
	for _, c := range l.Checks {
		res := "pass"
		if !c.OK {
			res = "**FAIL**"
		}
		fmt.Fprintf(b, "| %s | %s | %s |\n", cell(c.Name), res, cell(c.Got))
	}
	b.WriteString("\n")
}
