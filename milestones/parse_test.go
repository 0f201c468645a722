package milestones

import (
	"strings"
	"testing"
)

func TestParseConformanceFixture(t *testing.T) {
	c := fixtureConformance(t)
	if got, want := c.Counts().String(), "90 passed, 0 failed, 42 skipped"; got != want {
		t.Errorf("counts = %q, want %q (report.md of the same run says so)", got, want)
	}
	want := Target{
		URL:        "http://127.0.0.1:41951",
		Identity:   "reference server built from ./cmd/sdapi-server by conformance_suite_test.go",
		Profile:    "reference",
		SpecSource: "embedded",
		SpecSHA256: "bb21cb4606e174f9efb1209cda29543cbf0362848258ffa4cbeac108ec9043f4",
	}
	if c.Target != want {
		t.Errorf("target = %+v, want %+v", c.Target, want)
	}
	if len(c.Digest) != 64 || c.Suite != "sdapi conformance" || !c.Succeeded {
		t.Errorf("digest %q suite %q succeeded %v", c.Digest, c.Suite, c.Succeeded)
	}
	byName := map[string]Check{}
	for _, ch := range c.Checks {
		byName[ch.Name] = ch
	}
	for _, tc := range []struct{ name, req, op string }{
		{"Listings LIST-001 GET /samplers answers a JSON array of well-formed entries", "LIST-001", "GET /sdapi/v1/samplers"},
		{"Operation coverage COV-001 POST /sdapi/v1/txt2img answers a valid request", "COV-001", "POST /sdapi/v1/txt2img"},
		{"POST /sdapi/v1/txt2img TXT2IMG-002 returns images of exactly width×height", "TXT2IMG-002", "POST /sdapi/v1/txt2img"},
		{"Errors and negative data ERR-001 an unknown path answers 404 Not Found", "ERR-001", ""},
	} {
		ch, ok := byName[tc.name]
		if !ok {
			t.Errorf("no check %q", tc.name)
			continue
		}
		if ch.Requirement != tc.req || ch.Operation != tc.op {
			t.Errorf("%s: requirement %q operation %q, want %q %q", tc.name, ch.Requirement, ch.Operation, tc.req, tc.op)
		}
		for _, l := range ch.Labels {
			if l == tc.req {
				t.Errorf("%s: the requirement ID is among the labels", tc.name)
			}
		}
	}
	if ch := byName["POST /sdapi/v1/txt2img TXT2IMG-002 returns images of exactly width×height"]; ch.State != Skipped || !strings.Contains(ch.Message, "501") {
		t.Errorf("txt2img check: %s %q, want skipped for 501", ch.State, ch.Message)
	}
}

func TestParseConformanceFailure(t *testing.T) {
	report := `[{"SuiteDescription":"s","SuiteSucceeded":false,"SpecialSuiteFailureReasons":["Suite Timeout Elapsed"],
	"StartTime":"2026-01-02T03:04:05.6Z","RunTime":1500000000,"SuiteConfig":{"LabelFilter":"errors"},
	"SpecReports":[
	 {"LeafNodeType":"BeforeSuite","State":"passed"},
	 {"LeafNodeType":"AfterSuite","State":"failed","Failure":{"Message":"cleanup broke"}},
	 {"LeafNodeType":"BeforeSuite","State":"passed","ReportEntries":[{"Name":"spec-sha256","Value":{"AsJSON":"\"abc\"","Representation":"abc"}}]},
	 {"ContainerHierarchyTexts":["Errors"],"ContainerHierarchyLabels":[["errors"]],"LeafNodeType":"It","LeafNodeText":"ERR-001 GET /nope answers 404",
	  "LeafNodeLabels":["status","ERR-001"],"State":"panicked",
	  "Failure":{"Message":"ERR-001 violated: x\nline2\n\nReproduce with:\n  curl -sS 'http://h/sdapi/v1/nope'\n"}}]}]`
	c, err := ParseConformance([]byte(report), nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Failures(); got != 3 {
		t.Errorf("failures = %d, want 3 (AfterSuite, the It, the suite timeout)", got)
	}
	it := c.Checks[1]
	if it.State != Failed || it.GinkgoState != "panicked" || it.Curl != "curl -sS 'http://h/sdapi/v1/nope'" || it.Message != "ERR-001 violated: x\nline2" {
		t.Errorf("check = %+v", it)
	}
	if it.Operation != "GET /sdapi/v1/nope" || strings.Join(it.Labels, ",") != "errors,status" {
		t.Errorf("operation %q labels %v", it.Operation, it.Labels)
	}
	if c.Target.SpecSHA256 != "abc" || c.LabelFilter != "errors" || c.Started.Second() != 5 {
		t.Errorf("target %+v filter %q started %v", c.Target, c.LabelFilter, c.Started)
	}
	if _, err := ParseConformance([]byte(`{"not":"a report"`), nil); err == nil {
		t.Error("broken JSON parsed")
	}
	if _, err := ParseConformance([]byte(`[]`), nil); err == nil {
		t.Error("an empty array parsed")
	}
}

func TestParseCoverProfile(t *testing.T) {
	tests := []struct {
		name, profile string
		stmts, cov    int
		wantErr       bool
	}{
		{"simple", "mode: set\na/b/x.go:1.1,2.2 3 1\na/b/x.go:3.1,4.2 2 0\nc/y.go:1.1,1.9 5 1\n", 10, 8, false},
		{"repeated blocks count once, covered by any", "mode: count\na/x.go:1.1,2.2 4 0\na/x.go:1.1,2.2 4 7\nmode: count\na/x.go:1.1,2.2 4 0\n", 4, 4, false},
		{"empty profile", "mode: atomic\n", 0, 0, false},
		{"no mode line", "a/x.go:1.1,2.2 4 0\n", 0, 0, true},
		{"bad count", "mode: set\na/x.go:1.1,2.2 4 x\n", 0, 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ParseCoverProfile(strings.NewReader(tc.profile))
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %v", err, tc.wantErr)
			}
			if c.Statements != tc.stmts || c.Covered != tc.cov {
				t.Errorf("got %d of %d, want %d of %d", c.Covered, c.Statements, tc.cov, tc.stmts)
			}
		})
	}
	c, _ := ParseCoverProfile(strings.NewReader(tests[0].profile))
	if len(c.Packages) != 2 || c.Packages[0].Path != "a/b" || c.Packages[0].Covered != 3 || c.Percent() != 80 {
		t.Errorf("packages %+v percent %v", c.Packages, c.Percent())
	}
}

func TestParseBench(t *testing.T) {
	out := `goos: linux
goarch: amd64
pkg: github.com/sdapi/sdapi/runner/rng
cpu: AMD EPYC
BenchmarkNoise/64x64-16         	    1000	      1200 ns/op	     512 B/op	       2 allocs/op
BenchmarkNoise/64x64-16         	    1000	      1000 ns/op	     512 B/op	       2 allocs/op
BenchmarkNoise/64x64-16         	    1000	      1100 ns/op	     512 B/op	       2 allocs/op
--- BENCH: BenchmarkNoise
    noise_test.go:12: some log
PASS
pkg: github.com/sdapi/sdapi/runner/ort
BenchmarkUNet-2   	       3	 400000000 ns/op	         0.25 overhead	  1.5 steps/s
BenchmarkBroken-2 	--- FAIL: BenchmarkBroken
ok  	github.com/sdapi/sdapi/runner/ort	3.1s
`
	bs, err := ParseBench(strings.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	if len(bs) != 2 {
		t.Fatalf("got %d benchmarks, want 2: %+v", len(bs), bs)
	}
	n := bs[0]
	if n.Key() != "github.com/sdapi/sdapi/runner/rng.BenchmarkNoise/64x64" || n.Procs != 16 || n.Runs != 3 {
		t.Errorf("first = %+v", n)
	}
	if v, _ := n.Metric("ns/op"); v != 1100 {
		t.Errorf("median ns/op = %v, want 1100", v)
	}
	u := bs[1]
	if v, ok := u.Metric("steps/s"); !ok || v != 1.5 || u.Package != "github.com/sdapi/sdapi/runner/ort" {
		t.Errorf("second = %+v", u)
	}
}
