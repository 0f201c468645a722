package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const gatesYAML = `coverage: {min: 50}
required_labels: [listings]
max_failures: 0
no_regression: true
`

func TestCLI(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "gates.yaml"), []byte(gatesYAML), 0o644); err != nil {
		t.Fatal(err)
	}
	cover := filepath.Join(dir, "cover.out")
	os.WriteFile(cover, []byte("mode: set\na/x.go:1.1,2.2 3 1\na/x.go:3.1,4.2 1 0\n"), 0o644)
	low := filepath.Join(dir, "low.out")
	os.WriteFile(low, []byte("mode: set\na/x.go:1.1,2.2 1 1\na/x.go:3.1,4.2 3 0\n"), 0o644)
	report := filepath.Join("..", "..", "milestones", "testdata", "conform", "report.json")
	env := map[string]string{"GITHUB_SHA": "abc123", "GITHUB_REF_NAME": "main", "GITHUB_RUN_ID": "77",
		"GITHUB_SERVER_URL": "https://github.com", "GITHUB_REPOSITORY": "sdapi/sdapi"}
	getenv := func(k string) string { return env[k] }
	cli := func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := run(append(args, "--dir", dir), getenv, &out, &errb)
		return code, out.String(), errb.String()
	}

	tests := []struct {
		name     string
		args     []string
		code     int
		contains string
	}{
		{"no subcommand", []string{}, 2, "usage"},
		{"unknown subcommand", []string{"frob", "M01"}, 2, "unknown subcommand"},
		{"record before new", []string{"record", "M01", "--conformance", report}, 1, "has no plan"},
		{"new", []string{"new", "M01", "--title", "API contract"}, 0, "M01_plan.md"},
		{"new twice", []string{"new", "M01", "--title", "again"}, 1, "plan exists"},
		{"gate without runs", []string{"gate", "M01"}, 1, "no recorded run"},
		{"record needs a report", []string{"record", "M01"}, 2, "--conformance"},
		{"record", []string{"record", "M01", "--conformance", report, "--coverage", cover}, 0, "M01/run1 recorded: all 4 gates pass"},
		{"record again", []string{"record", "M01", "--conformance", report, "--coverage", cover}, 0, "already recorded"},
		{"gate latest", []string{"gate", "M01"}, 0, "all 4 gates pass"},
		{"gate candidate under the floor", []string{"gate", "M01", "--conformance", report, "--coverage", low}, 1, "gate coverage: 25.0% of statements, under the floor of 50.0%"},
		{"summary", []string{"summary", "M01"}, 0, "M01_summary.md"},
		{"audit", []string{"audit", "M01"}, 0, "score 4/4"},
	}
	for _, tc := range tests {
		code, out, errOut := cli(tc.args...)
		if code != tc.code || !strings.Contains(out+errOut, tc.contains) {
			t.Errorf("%s: exit %d (want %d)\nstdout: %s\nstderr: %s\nwant output containing %q", tc.name, code, tc.code, out, errOut, tc.contains)
		}
	}
	rec, err := os.ReadFile(filepath.Join(dir, "M01", "M01_run1.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"| commit | `abc123` |", "| CI run | [GitHub Actions 77](https://github.com/sdapi/sdapi/actions/runs/77) |", "| branch | main |"} {
		if !strings.Contains(string(rec), want) {
			t.Errorf("record lacks %q", want)
		}
	}
}

func TestEnvironment(t *testing.T) {
	gitlab := map[string]string{"GITLAB_CI": "true", "CI_COMMIT_SHA": "def", "CI_COMMIT_REF_NAME": "feat", "CI_PIPELINE_ID": "9", "CI_PIPELINE_URL": "https://gitlab/p/9"}
	e := environment(func(k string) string { return gitlab[k] }, options{})
	if e.Commit != "def" || e.Branch != "feat" || e.CIRunID != "9" || e.CIProvider != "GitLab CI" || e.CIRunURL != "https://gitlab/p/9" {
		t.Errorf("gitlab env = %+v", e)
	}
	e = environment(func(k string) string { return gitlab[k] }, options{commit: "x", branch: "y", ciRun: "z"})
	if e.Commit != "x" || e.Branch != "y" || e.CIRunID != "z" {
		t.Errorf("flags do not override: %+v", e)
	}
}
