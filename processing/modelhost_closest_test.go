package processing_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/sdapi/sdapi/processing"
	"github.com/sdapi/sdapi/processing/catalog"
)

// TestClosestCheckpoint pins get_closet_checkpoint_match: alias, then the
// shortest title holding the name, then the same without " [hash]".
func TestClosestCheckpoint(t *testing.T) {
	ckpts := t.TempDir()
	for _, name := range []string{"alpha-model", "alpha", "beta"} {
		dir := filepath.Join(ckpts, name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "model_index.json"), []byte("{}"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cat, err := catalog.New(ckpts, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	h := processing.NewModelHost(cat, nil)
	for _, tc := range []struct {
		name, want string
		ok         bool
	}{
		{"alpha-model", "alpha-model", true},
		{"model", "alpha-model", true},
		{"alph", "alpha", true},
		{"beta [0123abcd]", "beta", true},
		{"gamma", "", false},
		{"", "", false},
	} {
		got, ok := h.ClosestCheckpoint(tc.name)
		if got != tc.want || ok != tc.ok {
			t.Errorf("ClosestCheckpoint(%q) = %q, %v; want %q, %v", tc.name, got, ok, tc.want, tc.ok)
		}
	}
}
