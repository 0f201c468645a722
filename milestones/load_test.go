package milestones

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLoadSection: a load.json of cmd/sdapi-load renders as the run
// record's "## Load" section.
func TestLoadSection(t *testing.T) {
	l, err := LoadLoad(filepath.Join("testdata", "load", "load.json"))
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	writeLoad(&b, l)
	golden(t, "load_section.md", b.String())
}

func TestLoadLoadRefusesEmpty(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "load.json")
	if err := os.WriteFile(f, []byte(`{"requests":0}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadLoad(f); err == nil {
		t.Errorf("an empty load.json was accepted")
	}
}
