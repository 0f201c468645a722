package conformance_test

// Fault injection: a reverse proxy in front of the target breaks the
// contract in one way, sdapi-conform runs the matching checks through it,
// and the run must fail with a message naming the broken requirement and a
// curl line. A control run without the fault must pass, so the failure is
// the fault's doing.

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

type fault struct {
	name        string
	labelFilter string
	wantID      string // requirement the failure must name
	request     func(r *http.Request)
	response    func(r *http.Response, body []byte) []byte
}

var faults = []fault{
	{
		name: "a response field removed", labelFilter: "PROG-001", wantID: "PROG-001",
		response: func(r *http.Response, body []byte) []byte {
			if !strings.HasSuffix(r.Request.URL.Path, "/progress") {
				return body
			}
			return editJSON(body, func(m map[string]any) { delete(m, "state") })
		},
	},
	{
		name: "an error turned into 200", labelFilter: "ERR-001", wantID: "ERR-001",
		response: func(r *http.Response, body []byte) []byte {
			if r.StatusCode == http.StatusNotFound {
				r.StatusCode, r.Status = http.StatusOK, "200 OK"
			}
			return body
		},
	},
	{
		name: "a 422 detail without loc", labelFilter: "ERR-004", wantID: "ERR-004",
		response: func(r *http.Response, body []byte) []byte {
			if r.StatusCode != http.StatusUnprocessableEntity {
				return body
			}
			return editJSON(body, func(m map[string]any) {
				items, _ := m["detail"].([]any)
				for _, it := range items {
					if d, ok := it.(map[string]any); ok {
						delete(d, "loc")
					}
				}
			})
		},
	},
	{
		name: "a listing returning a non-array", labelFilter: "LIST-001", wantID: "LIST-001",
		response: func(r *http.Response, body []byte) []byte {
			if !strings.HasSuffix(r.Request.URL.Path, "/samplers") {
				return body
			}
			return append(append([]byte(`{"samplers":`), body...), '}')
		},
	},
	{
		name: "a seed ignored", labelFilter: "SEED-001", wantID: "SEED-001",
		request: func(r *http.Request) {
			if !strings.HasSuffix(r.URL.Path, "/txt2img") || r.Body == nil {
				return
			}
			body, _ := io.ReadAll(r.Body)
			body = editJSON(body, func(m map[string]any) { m["seed"] = -1 })
			r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
			r.Header.Set("Content-Length", strconv.Itoa(len(body)))
		},
	},
}

func editJSON(body []byte, edit func(map[string]any)) []byte {
	var m map[string]any
	if json.Unmarshal(body, &m) != nil {
		return body
	}
	edit(m)
	out, err := json.Marshal(m)
	if err != nil {
		return body
	}
	return out
}

// faultProxy forwards to target, applying f (nil: a faithful proxy).
func faultProxy(t *testing.T, target string, f *fault) string {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	if f != nil && f.request != nil {
		director := rp.Director
		rp.Director = func(r *http.Request) { director(r); f.request(r) }
	}
	if f != nil && f.response != nil {
		rp.ModifyResponse = func(r *http.Response) error {
			body, err := io.ReadAll(r.Body)
			if err != nil {
				return err
			}
			r.Body.Close()
			body = f.response(r, body)
			r.Body = io.NopCloser(bytes.NewReader(body))
			r.ContentLength = int64(len(body))
			r.Header.Set("Content-Length", strconv.Itoa(len(body)))
			return nil
		}
	}
	srv := httptest.NewServer(rp)
	t.Cleanup(srv.Close)
	return srv.URL
}

// runConform runs the CLI against target and returns its output and exit code.
func runConform(t *testing.T, target, labelFilter string) (string, int) {
	t.Helper()
	args := []string{"--target", target, "--profile", cmpOr(*flagProfile, "reference"), "--label-filter", labelFilter, "-v"}
	cmd := exec.Command(conformBin, args...)
	cmd.Env = append(cmd.Environ(), "SDAPI_USER="+authUser(), "SDAPI_PASSWORD="+authPassword())
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return string(out), 0
	case errors.As(err, &ee):
		return string(out), ee.ExitCode()
	}
	t.Fatalf("run sdapi-conform: %v", err)
	return "", -1
}

func authUser() string {
	if *flagTarget == "" {
		return refUser
	}
	return *flagUser
}

func authPassword() string {
	if *flagTarget == "" {
		return refPassword
	}
	return *flagPassword
}

func TestFaultsAreCaught(t *testing.T) {
	var filters []string
	for _, f := range faults {
		filters = append(filters, f.labelFilter)
	}
	t.Run("control: a faithful proxy passes", func(t *testing.T) {
		out, code := runConform(t, faultProxy(t, targetURL, nil), strings.Join(filters, " || "))
		if code != 0 {
			t.Fatalf("sdapi-conform through a faithful proxy exited %d:\n%s", code, out)
		}
		if !strings.Contains(out, " passed, 0 failed, ") {
			t.Errorf("no closing line:\n%s", out)
		}
	})
	for _, f := range faults {
		t.Run(f.name, func(t *testing.T) {
			out, code := runConform(t, faultProxy(t, targetURL, &f), f.labelFilter)
			if strings.Contains(out, "501 Not Implemented") && strings.Contains(out, "0 failed") {
				t.Skipf("%s needs generation; the target answered 501 Not Implemented", f.wantID)
			}
			if code != 1 {
				t.Fatalf("sdapi-conform exited %d, want 1:\n%s", code, out)
			}
			if !strings.Contains(out, f.wantID+" violated") {
				t.Errorf("the failure does not name %s:\n%s", f.wantID, out)
			}
			if !strings.Contains(out, "reproduce: curl ") {
				t.Errorf("no curl line to reproduce the failure:\n%s", out)
			}
			if !strings.Contains(out, "\n0 passed, 1 failed, ") && !strings.Contains(out, " failed, ") {
				t.Errorf("no closing line:\n%s", out)
			}
		})
	}
}
