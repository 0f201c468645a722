// Package archtest checks the project's import rules: cmd → server → gen,
// processing → runner; cmd → fleet → server, processing; only cmd imports the ONNX Runtime runner; the
// conformance harness and milestones import nothing of the server side;
// internal/refserver, which harnesses use to run the reference server,
// imports only the standard library (it execs the server binary), and so
// does internal/apierr, the error type every layer shares. errors_test.go
// keeps that type's kinds from being wrapped by hand.
package archtest

import (
	"encoding/json"
	"errors"
	"io"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/sdapi/sdapi/"

type pkg struct {
	ImportPath string
	Imports    []string
}

// listPackages runs go list over the whole module (non-test imports only:
// test files may use fakes and helpers from anywhere).
func listPackages(t *testing.T) []pkg {
	t.Helper()
	cmd := exec.Command("go", "list", "-json", "../../...")
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("go list: %v\n%s", err, ee.Stderr)
		}
		t.Fatalf("go list: %v", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	var pkgs []pkg
	for {
		var p pkg
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	if len(pkgs) < 5 {
		t.Fatalf("go list found only %d packages", len(pkgs))
	}
	return pkgs
}

// under reports whether import path p is the project package dir or below it.
func under(p, dir string) bool {
	full := module + dir
	return p == full || strings.HasPrefix(p, full+"/")
}

func TestImportRules(t *testing.T) {
	rules := []struct {
		name   string
		from   string   // packages under this dir...
		except []string // ...other than these...
		mayNot []string // ...must not import packages under these dirs
	}{
		{"only cmd imports the ONNX Runtime runner", "", []string{"cmd", "runner/ort"}, []string{"runner/ort"}},
		{"runner knows nothing of the API", "runner", nil, []string{"processing", "server", "gen", "conformance", "milestones", "cmd"}},
		{"processing knows nothing of HTTP", "processing", nil, []string{"server", "gen", "conformance", "milestones", "cmd", "runner/ort", "fleet"}},
		{"server reaches the runner only through processing", "server", nil, []string{"runner/ort", "conformance", "milestones", "cmd", "fleet"}},
		// cmd → fleet → server, processing: the fleet runs jobs through
		// the server's Jobs seam and never reaches a runner itself.
		{"fleet runs jobs only through server and processing", "fleet", nil, []string{"runner", "gen", "conformance", "milestones", "cmd"}},
		{"gen is generated code only", "gen", nil, []string{""}},
		{"the harness judges any server", "conformance", nil, []string{"server", "processing", "runner", "milestones", "cmd"}},
		{"milestones import nothing of the server side", "milestones", nil, []string{"server", "processing", "runner", "gen", "cmd"}},
		// The harnesses reach the server through refserver: it must exec
		// the binary, never link server code into them.
		{"refserver runs the server, never imports it", "internal/refserver", nil, []string{""}},
		// Every layer, runner included, imports apierr: it must be a leaf.
		{"apierr is a leaf", "internal/apierr", nil, []string{""}},
	}
	pkgs := listPackages(t)
	for _, r := range rules {
		t.Run(r.name, func(t *testing.T) {
			for _, p := range pkgs {
				if r.from != "" && !under(p.ImportPath, r.from) {
					continue
				}
				if !strings.HasPrefix(p.ImportPath, module) {
					continue
				}
				skip := false
				for _, e := range r.except {
					skip = skip || under(p.ImportPath, e)
				}
				if skip {
					continue
				}
				for _, imp := range p.Imports {
					for _, bad := range r.mayNot {
						if (bad == "" && strings.HasPrefix(imp, module)) || (bad != "" && under(imp, bad)) {
							t.Errorf("%s imports %s", strings.TrimPrefix(p.ImportPath, module), strings.TrimPrefix(imp, module))
						}
					}
				}
			}
		})
	}
}

// TestRefserverStandardLibraryOnly keeps internal/refserver free of
// third-party imports too: the conformance harness, the examples and
// cmd/sdapi-load all use it, and none of them should inherit a dependency
// through it. internal/apierr likewise: the runner imports it.
func TestRefserverStandardLibraryOnly(t *testing.T) {
	pkgs := listPackages(t)
	for _, dir := range []string{"internal/refserver", "internal/apierr"} {
		found := false
		for _, p := range pkgs {
			if !under(p.ImportPath, dir) {
				continue
			}
			found = true
			for _, imp := range p.Imports {
				if first, _, _ := strings.Cut(imp, "/"); strings.Contains(first, ".") {
					t.Errorf("%s imports %s, not in the standard library", strings.TrimPrefix(p.ImportPath, module), imp)
				}
			}
		}
		if !found {
			t.Errorf("go list found no %s", dir)
		}
	}
}
