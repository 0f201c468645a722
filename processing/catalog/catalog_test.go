package catalog

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func touch(t *testing.T, path string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestScanAndRefresh(t *testing.T) {
	root := t.TempDir()
	ckpt, vae := filepath.Join(root, "ckpt"), filepath.Join(root, "vae")
	touch(t, filepath.Join(ckpt, "b-model", "model_index.json"))
	touch(t, filepath.Join(ckpt, "a-model", "model_index.json"))
	touch(t, filepath.Join(ckpt, "not-a-model", "readme.txt"))
	touch(t, filepath.Join(ckpt, "loose-file.onnx"))
	touch(t, filepath.Join(vae, "vae-ft", "vae_decoder", "model.onnx"))

	c, err := New(ckpt, vae)
	if err != nil {
		t.Fatal(err)
	}
	cks := c.Checkpoints()
	if len(cks) != 2 || cks[0].Title != "a-model" || cks[1].ModelName != "b-model" || !filepath.IsAbs(cks[0].Filename) {
		t.Fatalf("checkpoints = %+v", cks)
	}
	if v := c.VAEs(); len(v) != 1 || v[0].ModelName != "vae-ft" {
		t.Fatalf("vaes = %+v", v)
	}
	if _, err := c.LookupCheckpoint("a-model"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.LookupCheckpoint("../a-model"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("lookup of a path: %v", err)
	}

	touch(t, filepath.Join(ckpt, "c-model", "model_index.json"))
	if len(c.Checkpoints()) != 2 {
		t.Fatal("list changed before refresh")
	}
	if err := c.RefreshCheckpoints(); err != nil {
		t.Fatal(err)
	}
	if len(c.Checkpoints()) != 3 {
		t.Fatal("refresh did not find the new model")
	}
}

func TestMissingDirsAreEmpty(t *testing.T) {
	c, err := New(filepath.Join(t.TempDir(), "nope"), "")
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Checkpoints()) != 0 || len(c.VAEs()) != 0 {
		t.Fatal("want empty lists")
	}
}
