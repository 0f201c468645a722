package conformance_test

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/onsi/ginkgo/v2/types"

	"github.com/sdapi/sdapi/conformance"
	"github.com/sdapi/sdapi/internal/testenv"
)

// runTwiceFilter selects checks that call listed operations, an unknown
// path and one generation (an evidence image), so each run's ledger,
// coverage table and evidence have something to count.
const runTwiceFilter = "LIST-004 || OPT-001 || ERR-001 || TXT2IMG-002"

// conformance.Run is a fresh run each time: two runs in one process both
// carry the whole spec tree and judge the same selection, and the second
// reports only what it saw itself (its operation counts, evidence images
// and claims are not the first run's added to its own).
func TestRunTwiceInOneProcess(t *testing.T) {
	onFirstProcess(t)
	type outcome struct {
		res      conformance.Result
		markdown string
		images   []string
	}
	// Without ONNX Runtime the reference server answers 501 to generation
	// and TXT2IMG-002 skips.
	wantPassed, wantImages := 4, 1
	if _, err := testenv.ORTLibrary(); err != nil && *flagTarget == "" {
		wantPassed, wantImages = 3, 0
	}
	var runs []outcome
	for i := range 2 {
		dir := t.TempDir()
		cfg := suiteCfg
		cfg.Progress, cfg.Observe = nil, nil
		cfg.MarkdownReport = filepath.Join(dir, "report.md")
		cfg.JSONReport = filepath.Join(dir, "report.json")
		cfg.EvidenceDir = filepath.Join(dir, "evidence")
		cfg.LabelFilter = runTwiceFilter
		res := conformance.Run(cfg, conformance.RunOptions{LabelFilter: runTwiceFilter, NoColor: true})
		if !res.OK || res.Report == nil {
			t.Fatalf("run %d: OK=%v, counts %+v, report %v", i+1, res.OK, res.Counts, res.Report != nil)
		}
		md, err := os.ReadFile(cfg.MarkdownReport)
		if err != nil {
			t.Fatalf("run %d: %v", i+1, err)
		}
		if _, err := os.Stat(cfg.JSONReport); err != nil {
			t.Errorf("run %d: no JSON report: %v", i+1, err)
		}
		images, _ := filepath.Glob(filepath.Join(cfg.EvidenceDir, "[0-9]*.png"))
		runs = append(runs, outcome{res, string(md), images})
	}
	for i, r := range runs {
		rep := r.res.Report
		its := 0
		for _, s := range rep.SpecReports {
			if s.LeafNodeType == types.NodeTypeIt {
				its++
			}
		}
		if its != rep.PreRunStats.TotalSpecs {
			t.Errorf("run %d: %d checks in the report, %d in the tree", i+1, its, rep.PreRunStats.TotalSpecs)
		}
		// The whole tree: every catalogued requirement has its checks.
		labels := map[string]bool{}
		for _, s := range rep.SpecReports {
			for _, l := range s.Labels() {
				labels[l] = true
			}
		}
		for _, q := range conformance.Requirements {
			if !labels[q.ID] {
				t.Errorf("run %d: no check of %s in the report", i+1, q.ID)
			}
		}
		if r.res.Passed != wantPassed || r.res.Failed != 0 {
			t.Errorf("run %d: %+v, want %d of the selected checks passed", i+1, r.res.Counts, wantPassed)
		}
		if len(r.images) != wantImages {
			t.Errorf("run %d: %d evidence images, want %d (TXT2IMG-002's): %v", i+1, len(r.images), wantImages, r.images)
		}
	}
	first, second := runs[0], runs[1]
	if first.res.Report.PreRunStats != second.res.Report.PreRunStats {
		t.Errorf("the runs saw different trees: %+v and %+v", first.res.Report.PreRunStats, second.res.Report.PreRunStats)
	}
	// Operation rows and the summary count calls: equal when each run
	// counts only its own exchanges (timings are cut off).
	row := regexp.MustCompile("(?m)^\\| `(GET|POST) [^`]+` \\| (\\d+ calls: [^;|]*|not called) ")
	summary := regexp.MustCompile(`(?m)^- \*\*\d+ of \d+ operations exercised\*\*.*$|^- Off-spec probes.*$`)
	for _, re := range []*regexp.Regexp{row, summary} {
		a, b := re.FindAllString(first.markdown, -1), re.FindAllString(second.markdown, -1)
		if len(a) == 0 || len(a) != len(b) {
			t.Fatalf("report lines %q: %d in the first run, %d in the second", re, len(a), len(b))
		}
		for i := range a {
			if a[i] != b[i] {
				t.Errorf("the second run's report differs from the first's:\n  first:  %s\n  second: %s", a[i], b[i])
			}
		}
	}
	if !regexp.MustCompile("(?m)^\\| `GET /sdapi/v1/samplers` \\| [1-9]\\d* calls: 200×").MatchString(second.markdown) {
		t.Errorf("the second run's report does not count its own GET /samplers calls:\n%s", second.markdown)
	}
}
