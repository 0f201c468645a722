//go:build realrun

package milestones

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestRecordRealConformanceRun records a real conformance run against the
// reference server. `make test` runs the suite once, in ./conformance with
// SDAPI_CONFORM_REPORT_DIR set, then this test with -tags realrun and that
// directory; without it, the test runs the suite itself the way
// `make conform` does (conformance_suite_test.go builds and starts the server).
func TestRecordRealConformanceRun(t *testing.T) {
	dir := os.Getenv("SDAPI_CONFORM_REPORT_DIR")
	if dir == "" {
		dir = t.TempDir()
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "go", "test", "-count=1", "./conformance/...", "-args", "-report-dir="+dir)
		cmd.Dir = ".."
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("conformance run: %v\n%s", err, out)
		}
	}
	c, err := LoadConformance(filepath.Join(dir, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	n := c.Counts()
	if n.Passed == 0 || n.Passed+n.Failed+n.Skipped < 50 {
		t.Errorf("counts %s: want the whole suite", n)
	}
	if !strings.HasPrefix(c.Target.Identity, "reference server") || c.Target.Profile != "reference" || len(c.Target.SpecSHA256) != 64 {
		t.Errorf("target %+v", c.Target)
	}
	// The JSON report names the target on its own, without report.md.
	data := readFile(t, filepath.Join(dir, "report.json"))
	alone, err := ParseConformance([]byte(data), nil)
	if err != nil {
		t.Fatal(err)
	}
	if alone.Target != c.Target {
		t.Errorf("target from report.json alone %+v, with report.md %+v", alone.Target, c.Target)
	}

	g, err := LoadGates("gates.yaml") // the project's own gates
	if err != nil {
		t.Fatal(err)
	}
	s := newStore(t, g, "M01")
	res, err := s.Record("M01", Inputs{Conformance: c, Env: Env{Commit: "test"}}, g)
	if err != nil {
		t.Fatal(err)
	}
	md := readFile(t, filepath.Join(s.Dir, "M01", "M01_run1.md"))
	for _, want := range []string{"| target | reference server", "| spec | embedded, sha256 `" + c.Target.SpecSHA256 + "`", "| label listings |", "## Results per operation", "`GET /sdapi/v1/samplers`"} {
		if !strings.Contains(md, want) {
			t.Errorf("record lacks %q", want)
		}
	}
	got := map[string]Status{}
	for _, v := range res.Run.Verdicts {
		got[v.Name] = v.Status
	}
	// No cover profile was given, so the coverage gate fails; the
	// reference server keeps the labels the project requires.
	if got["coverage"] != Fail || got["label listings"] != Pass || got["label schema"] != Pass {
		t.Errorf("verdicts %+v", res.Run.Verdicts)
	}
	if _, err := os.Stat(filepath.Join(s.Dir, LedgerName)); err != nil {
		t.Error(err)
	}
}
