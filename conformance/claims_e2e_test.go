package conformance_test

// Profile claims end to end: sdapi-conform runs against the reference
// server behind the fault-injecting proxy with a profile file whose claims
// are (a) confirmed, (b) stale, (c) wrong about the symptom, (d) a
// not-applicable claim that applies after all, (e) a missing route,
// confirmed and stale, and (f) the sdcpp profile against a proxy that
// behaves as sd.cpp does. Each must be reported as what it is.

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// notFoundTo200 is the "an error turned into 200" fault of faults_test.go.
var notFoundTo200 = &fault{name: "404 turned into 200", response: func(r *http.Response, body []byte) []byte {
	if r.StatusCode == http.StatusNotFound {
		r.StatusCode, r.Status = http.StatusOK, "200 OK"
	}
	return body
}}

// progressGone answers GET /progress 404 with an empty body.
var progressGone = &fault{name: "GET /progress missing", response: func(r *http.Response, body []byte) []byte {
	if r.Request.Method == http.MethodGet && strings.HasSuffix(r.Request.URL.Path, "/progress") {
		r.StatusCode, r.Status = http.StatusNotFound, "404 Not Found"
		return nil
	}
	return body
}}

// likeSDCpp makes the reference server behave as sd.cpp 97d2990 does in
// a few ways its profile documents: n_iter is never read, and an unknown
// path or method answers httplib's bare 404.
var likeSDCpp = &fault{name: "sd.cpp-like",
	request: func(r *http.Request) {
		if !strings.HasSuffix(r.URL.Path, "/txt2img") || r.Body == nil || r.Method != http.MethodPost {
			return
		}
		body, _ := io.ReadAll(r.Body)
		body = editJSON(body, func(m map[string]any) { delete(m, "n_iter") })
		r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
		r.Header.Set("Content-Length", strconv.Itoa(len(body)))
	},
	response: func(r *http.Response, body []byte) []byte {
		if r.StatusCode == http.StatusNotFound || r.StatusCode == http.StatusMethodNotAllowed {
			r.StatusCode, r.Status = http.StatusNotFound, "404 Not Found"
			return nil
		}
		return body
	},
}

func TestProfileClaimsAreCheckedNotBelieved(t *testing.T) {
	onFirstProcess(t)
	for _, tc := range []struct {
		name, profile, filter string
		builtin               string // a built-in profile instead of profile
		fault                 *fault
		wantCode              int
		want                  []string // in the CLI's output
		wantJSON              []string // in report.json
	}{
		{
			name:    "a divergence seen as documented is confirmed and skipped",
			profile: `"divergences":{"ERR-001":{"why":"answers unknown paths with 200","symptoms":[{"status":200}]}}`,
			filter:  "ERR-001", fault: notFoundTo200, wantCode: 0,
			want:     []string{"1 divergence confirmed", "0 passed, 0 failed, "},
			wantJSON: []string{"divergence confirmed: divergence ERR-001"},
		},
		{
			name:    "a divergence the server does not show is stale",
			profile: `"divergences":{"ERR-001":{"why":"answers unknown paths with 200","symptoms":[{"status":200}]}}`,
			filter:  "ERR-001", wantCode: 0,
			want:     []string{"1 divergence not observed", "! divergence not observed: divergence ERR-001 (answers unknown paths with 200)", "1 passed, 0 failed, "},
			wantJSON: []string{"divergence not observed: divergence ERR-001"},
		},
		{
			name:    "a divergence with another symptom is a different failure",
			profile: `"divergences":{"ERR-001":{"why":"answers unknown paths with 500","symptoms":[{"status":500,"body":"Internal"}]}}`,
			filter:  "ERR-001", fault: notFoundTo200, wantCode: 1,
			want: []string{"1 different failure", "ERR-001 violated", "different failure: profile claims-e2e claims ERR-001 divergence: answers unknown paths with 500",
				"expected symptom: answers 500, body matches `Internal`", "observed instead (the last exchange answered 200)", "0 passed, 1 failed, "},
			// Both texts: the claim and the check's own failure.
			wantJSON: []string{"different failure: divergence ERR-001", "answers unknown paths with 500", "expected 404 Not Found"},
		},
		{
			name:    "a check claimed not applicable that passes applies after all",
			profile: `"not_applicable":{"progress":{"why":"no /progress","symptoms":[{"status":404}]}}`,
			filter:  "PROG-001", wantCode: 0,
			want:     []string{"1 applies after all", "! applies after all: not applicable progress (no /progress)", "1 passed, 0 failed, "},
			wantJSON: []string{"applies after all: not applicable progress"},
		},
		{
			name:    "a route claimed missing that answers 404 is confirmed",
			profile: `"missing_routes":{"GET /sdapi/v1/progress":"no progress"}`,
			filter:  "PROG-001", fault: progressGone, wantCode: 0,
			want:     []string{"1 route missing (confirmed)", "0 passed, 0 failed, "},
			wantJSON: []string{"route missing (confirmed): missing route GET /sdapi/v1/progress"},
		},
		{
			name:    "the sdcpp profile's claims confirmed on a server that behaves as documented",
			builtin: "sdcpp", filter: "ERR-001 || ERR-002 || TXT2IMG-007 || SEED-004", fault: likeSDCpp, wantCode: 0,
			want:     []string{"Profile sdcpp claims: 4 divergence confirmed", "0 passed, 0 failed, "},
			wantJSON: []string{"divergence confirmed: divergence TXT2IMG-007", "divergence confirmed: divergence SEED-004", "divergence confirmed: divergence ERR-002"},
		},
		{
			name:    "a route claimed missing that answers is present after all",
			profile: `"missing_routes":{"GET /sdapi/v1/progress":"no progress","POST /sdapi/v1/options":"read-only"}`,
			filter:  "PROG-001", wantCode: 0,
			want: []string{"! route present after all: GET /sdapi/v1/progress", "1 passed, 0 failed, "},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			pf := filepath.Join(dir, "profile.json")
			body := `{"name":"claims-e2e","description":"test claims","pixel_tolerance":0,` + tc.profile + `}`
			if err := os.WriteFile(pf, []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
			report := filepath.Join(dir, "report.json")
			profileArgs := []string{"--profile-file", pf}
			if tc.builtin != "" {
				profileArgs = []string{"--profile", tc.builtin}
			}
			cmd := exec.Command(conformBin, append(profileArgs, "--target", faultProxy(t, targetURL, tc.fault),
				"--label-filter", tc.filter, "--json", report, "--report", filepath.Join(dir, "report.md"))...)
			cmd.Env = append(cmd.Environ(), "SDAPI_USER="+authUser(), "SDAPI_PASSWORD="+authPassword())
			out, err := cmd.CombinedOutput()
			code := 0
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if code != tc.wantCode {
				t.Fatalf("exit %d, want %d:\n%s", code, tc.wantCode, out)
			}
			for _, w := range tc.want {
				if !strings.Contains(string(out), w) {
					t.Errorf("the output lacks %q:\n%s", w, out)
				}
			}
			raw, err := os.ReadFile(report)
			if err != nil {
				t.Fatal(err)
			}
			var reports []struct{ SuiteSucceeded bool }
			if err := json.Unmarshal(raw, &reports); err != nil || len(reports) != 1 {
				t.Fatalf("report.json: %v", err)
			}
			for _, w := range tc.wantJSON {
				if !strings.Contains(string(raw), w) {
					t.Errorf("report.json lacks %q", w)
				}
			}
			md, err := os.ReadFile(filepath.Join(dir, "report.md"))
			if err != nil || !strings.Contains(string(md), "## Profile claims") {
				t.Errorf("report.md lacks the profile claims section (%v)", err)
			}
		})
	}
}
