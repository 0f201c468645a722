package conformance_test

import (
	"fmt"
	"regexp"
	"strconv"
	"testing"
	"time"
)

// suiteBudget is issue 12's speed target: the whole suite against the
// reference server on the 2-core machine. A benchmark, not a timed test:
// `go test -run '^$' -bench WholeSuite ./conformance/` (TestMain starts
// the reference server unless -target is given).
const suiteBudget = 3 * time.Minute

var reClosing = regexp.MustCompile(`(\d+) passed, (\d+) failed, (\d+) skipped`)

// BenchmarkWholeSuite runs sdapi-conform with every check (no label
// filter) against the target once per iteration and reports the checks'
// outcomes per run; a run over suiteBudget is an error. Failed checks do
// not fail the benchmark (it measures time), a run that cannot complete
// does.
func BenchmarkWholeSuite(b *testing.B) {
	for range b.N {
		start := time.Now()
		out, code := runConform(b, targetURL, "")
		took := time.Since(start)
		if code != 0 && code != 1 {
			b.Fatalf("sdapi-conform exited %d:\n%s", code, out)
		}
		m := reClosing.FindStringSubmatch(out)
		if m == nil {
			b.Fatalf("no closing line:\n%s", out)
		}
		for i, unit := range []string{"passed/op", "failed/op", "skipped/op"} {
			n, _ := strconv.Atoi(m[i+1])
			b.ReportMetric(float64(n), unit)
		}
		b.ReportMetric(took.Seconds(), "s/suite")
		if took > suiteBudget {
			b.Errorf("the whole suite took %s, over the %s budget (%s)", took.Round(time.Second), suiteBudget, fmt.Sprint(m[0]))
		}
	}
}
