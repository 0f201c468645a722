package milestones

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const errName = "Errors and negative data ERR-001 an unknown path answers 404 Not Found"

func readFile(t *testing.T, file string) string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestGoldenFormats pins the plan, run record, ledger, summary and audit
// formats: M01 records the fixture run; M02 records a run of the same target
// with a regression, lower coverage and slower benchmarks.
func TestGoldenFormats(t *testing.T) {
	g := mustGates(t, testGates)
	s := newStore(t, g, "M01", "M02")
	golden(t, "plan.md", readFile(t, s.PlanPath("M01")))

	base := fixtureConformance(t)
	bench := []Benchmark{{Package: "github.com/sdapi/sdapi/runner/rng", Name: "BenchmarkNoise", Procs: 2, Runs: 3,
		Metrics: []Metric{{"ns/op", 1000}, {"B/op", 512}, {"allocs/op", 2}}}}
	r1, err := s.Record("M01", Inputs{Conformance: base, Coverage: testCoverage(60), Benchmarks: bench, Env: fixedEnv}, g)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "M01_run1.md", readFile(t, filepath.Join(s.Dir, "M01", "M01_run1.md")))

	slower := []Benchmark{bench[0]}
	slower[0].Metrics = []Metric{{"ns/op", 1250}, {"B/op", 512}, {"allocs/op", 3}}
	env2 := fixedEnv
	env2.Commit, env2.CIRunID, env2.CIRunURL, env2.Dirty = "fedcba9876543210fedcba9876543210fedcba98", "4343", "", true
	r2, err := s.Record("M02", Inputs{Conformance: withFailure(t, base, errName), Coverage: testCoverage(45), Benchmarks: slower, Env: env2}, g)
	if err != nil {
		t.Fatal(err)
	}
	if r1.Run.Ref() != "M01/run1" || r2.Run.Ref() != "M02/run1" || r2.Run.Previous != "M01/run1" {
		t.Errorf("refs %s %s, previous %q", r1.Run.Ref(), r2.Run.Ref(), r2.Run.Previous)
	}
	golden(t, "M02_run1.md", readFile(t, filepath.Join(s.Dir, "M02", "M02_run1.md")))

	if _, err := s.Summary("M02", g); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Audit("M02", g); err != nil {
		t.Fatal(err)
	}
	golden(t, "M02_summary.md", readFile(t, filepath.Join(s.Dir, "M02", "M02_summary.md")))
	golden(t, "M02_audit.md", readFile(t, filepath.Join(s.Dir, "M02", "M02_audit.md")))
	golden(t, "ledger.md", readFile(t, filepath.Join(s.Dir, LedgerName)))

	summary := readFile(t, filepath.Join(s.Dir, "M02", "M02_summary.md"))
	for _, want := range []string{"- ERR-001 (passed → failed)", "| **total** | 60.0% | 45.0% | -15.0 |", "| ns/op | 1000 | 1250 | +25.0% |"} {
		if !strings.Contains(summary, want) {
			t.Errorf("summary lacks %q", want)
		}
	}
}

func TestRecordIdempotent(t *testing.T) {
	g := mustGates(t, testGates)
	s := newStore(t, g, "M01")
	in := Inputs{Conformance: fixtureConformance(t), Coverage: testCoverage(60), Env: fixedEnv}
	first, err := s.Record("M01", in, g)
	if err != nil {
		t.Fatal(err)
	}
	snapshot := func() map[string]string {
		out := map[string]string{}
		filepath.WalkDir(s.Dir, func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				out[p] = readFile(t, p)
			}
			return err
		})
		return out
	}
	before := snapshot()
	again, err := s.Record("M01", in, g)
	if err != nil {
		t.Fatal(err)
	}
	if again.New || again.Run.N != first.Run.N {
		t.Errorf("second recording: new %v, run %d; want the same run %d", again.New, again.Run.N, first.Run.N)
	}
	after := snapshot()
	if len(after) != len(before) {
		t.Errorf("files: %d before, %d after", len(before), len(after))
	}
	for p, b := range before {
		if after[p] != b {
			t.Errorf("%s changed on recording the same run twice", p)
		}
	}

	// A new report is a new run; a hand-written note in the ledger stays.
	ledger := filepath.Join(s.Dir, LedgerName)
	os.WriteFile(ledger, []byte(readFile(t, ledger)+"\nNote by a reviewer.\n"), 0o644)
	other := in
	other.Conformance.Digest = "another-digest"
	second, err := s.Record("M01", other, g)
	if err != nil {
		t.Fatal(err)
	}
	if !second.New || second.Run.N != 2 || second.Run.Previous != "M01/run1" {
		t.Errorf("new report: new %v run %d previous %q", second.New, second.Run.N, second.Run.Previous)
	}
	text := readFile(t, ledger)
	if !strings.Contains(text, "Note by a reviewer.") || strings.Count(text, "| [M01/run") != 2 || strings.Count(text, "| [M01](") != 1 {
		t.Errorf("ledger after two runs:\n%s", text)
	}
}

func TestUpsertTable(t *testing.T) {
	doc := "# L\n\nintro\n"
	doc = UpsertTable(doc, "runs", "Runs", []string{"run", "x"}, []string{"| a | 1 |", "| b | 2 |"})
	doc = UpsertTable(doc, "runs", "Runs", []string{"run", "x"}, []string{"| b | 3 |", "| c | 4 |"})
	want := "# L\n\nintro\n\n## Runs\n\n<!-- sdapi-milestone:runs -->\n| run | x |\n|---|---|\n| a | 1 |\n| b | 3 |\n| c | 4 |\n<!-- /sdapi-milestone:runs -->\n"
	if doc != want {
		t.Errorf("got\n%s\nwant\n%s", doc, want)
	}
	if again := UpsertTable(doc, "runs", "Runs", []string{"run", "x"}, []string{"| c | 4 |"}); again != doc {
		t.Errorf("upserting an unchanged row changed the document:\n%s", again)
	}
}

func TestNewRefusesExistingPlan(t *testing.T) {
	g := mustGates(t, testGates)
	s := newStore(t, g, "M01")
	if _, err := s.New("M01", "again", g); err == nil {
		t.Error("New overwrote a plan")
	}
	if _, err := s.New("../x", "bad", g); err == nil {
		t.Error("New accepted a path as ID")
	}
	if _, err := s.Record("M09", Inputs{Conformance: fixtureConformance(t)}, g); err == nil {
		t.Error("Record accepted a milestone without a plan")
	}
	if title, _ := s.Title("M01"); title != "test milestone M01" {
		t.Errorf("title = %q", title)
	}
}
