package milestones

import (
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// fixtureConformance is the committed report of a real run of the
// reference server (testdata/conform, trimmed of timelines).
func fixtureConformance(t *testing.T) Conformance {
	t.Helper()
	c, err := LoadConformance(filepath.Join("testdata", "conform", "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// withFailure returns c with the named check failed (message and curl
// line as the harness writes them).
func withFailure(t *testing.T, c Conformance, name string) Conformance {
	t.Helper()
	out := c
	out.Checks = append([]Check(nil), c.Checks...)
	sum := sha256.Sum256([]byte(c.Digest + name))
	out.Digest = hex.EncodeToString(sum[:])
	for i, ch := range out.Checks {
		if ch.Name == name {
			out.Checks[i].State = Failed
			out.Checks[i].Message = ch.Requirement + " violated: the answer broke the contract\nexpected 404 Not Found"
			out.Checks[i].Curl = "curl -sS -X GET 'http://127.0.0.1:7860/sdapi/v1/does-not-exist'"
			return out
		}
	}
	t.Fatalf("no check %q", name)
	return out
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	file := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(file, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("%v (run go test ./milestones -update)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from the golden file (go test ./milestones -update rewrites it):\n%s", name, firstDiff(string(want), got))
	}
}

func firstDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < len(w) || i < len(g); i++ {
		var a, b string
		if i < len(w) {
			a = w[i]
		}
		if i < len(g) {
			b = g[i]
		}
		if a != b {
			return fmt.Sprintf("line %d:\nwant: %s\ngot:  %s", i+1, a, b)
		}
	}
	return "(no line differs)"
}

const testGates = `
coverage:
  min: 50
required_labels: [schema, errors]
max_failures: 0
no_regression: true
invariants:
  - name: schemas unchanged
    no_regression_in: [schema, status, errors]
  - name: same seed same image
    must_pass: [determinism, seeds]
  - name: coverage floor
    coverage_floor: true
`

func mustGates(t *testing.T, s string) Gates {
	t.Helper()
	g, err := ParseGates([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// newStore makes a milestones dir with plans for ids.
func newStore(t *testing.T, g Gates, ids ...string) Store {
	t.Helper()
	s := Store{Dir: t.TempDir()}
	for _, id := range ids {
		if _, err := s.New(id, "test milestone "+id, g); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

var fixedEnv = Env{Commit: "0123456789abcdef0123456789abcdef01234567", Branch: "main", CIProvider: "GitHub Actions", CIRunID: "4242", CIRunURL: "https://github.com/sdapi/sdapi/actions/runs/4242"}

func testCoverage(pct int) *Coverage {
	return &Coverage{Mode: "set", Statements: 200, Covered: 2 * pct, Packages: []PackageCoverage{
		{Path: "github.com/sdapi/sdapi/server", Statements: 100, Covered: pct},
		{Path: "github.com/sdapi/sdapi/processing", Statements: 100, Covered: pct},
	}}
}
