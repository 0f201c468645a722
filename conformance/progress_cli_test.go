package conformance_test

import (
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

// Without -v and with stdout not a terminal, sdapi-conform prints one plain
// line per check ("[done/total] ok|FAIL|skip name (time)") instead of
// Ginkgo's dots, then the closing line.
func TestConformCLIPlainProgress(t *testing.T) {
	onFirstProcess(t)
	cmd := exec.Command(conformBin, "--target", targetURL, "--profile", cmpOr(*flagProfile, "reference"),
		"--label-filter", "LIST-004 || PROG-001 || INT-001")
	cmd.Env = append(cmd.Environ(), "SDAPI_USER="+authUser(), "SDAPI_PASSWORD="+authPassword())
	out, err := cmd.Output() // a pipe, not a terminal
	if err != nil {
		t.Fatalf("sdapi-conform: %v\n%s", err, out)
	}
	text := string(out)
	line := regexp.MustCompile(`(?m)^\[\d/3\] (ok|skip) +\S.* \(\d[^)]*\)$`)
	if n := len(line.FindAllString(text, -1)); n != 3 {
		t.Errorf("want 3 progress lines [n/3], got %d:\n%s", n, text)
	}
	for _, id := range []string{"LIST-004", "PROG-001", "INT-001"} {
		if !regexp.MustCompile(`(?m)^\[\d/3\] ok +.*` + id).MatchString(text) {
			t.Errorf("no ok line for %s:\n%s", id, text)
		}
	}
	if strings.ContainsAny(text, "\r\x1b•") {
		t.Errorf("non-terminal output carries terminal control characters or Ginkgo dots:\n%q", text)
	}
	if !strings.Contains(text, "\n3 passed, 0 failed, ") {
		t.Errorf("no closing line:\n%s", text)
	}
}
