package catalog

import (
	"crypto/sha256"
	"encoding/hex"
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

func TestCheckpointHash(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "m")
	write := func(rel, s string) {
		t.Helper()
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("model_index.json", "{}")
	write("unet/weights.pb", "W")
	write("unet/model.onnx", "G")
	write("vae_decoder/model.onnx", "not part of the hash")
	sumOf := func(s string) string {
		h := sha256.Sum256([]byte(s))
		return hex.EncodeToString(h[:])
	}

	c, err := New(root, "")
	if err != nil {
		t.Fatal(err)
	}
	ck := c.Checkpoints()[0]
	want := sumOf("GW") // model.onnx then weights.pb: byte order of names
	if ck.SHA256 == nil || *ck.SHA256 != want || *ck.Hash != want[:ShortHashLen] || ck.Title != "m ["+want[:10]+"]" {
		t.Fatalf("checkpoint = %+v, want sha256 %s", ck, want)
	}
	for _, alias := range []string{"m", ck.Title, want[:10], want} {
		if _, err := c.LookupCheckpoint(alias); err != nil {
			t.Errorf("lookup %q: %v", alias, err)
		}
	}

	// Same size and mtime: the cached hash stands (nothing is reread).
	st, err := os.Stat(filepath.Join(dir, "unet", "model.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	write("unet/model.onnx", "X")
	if err := os.Chtimes(filepath.Join(dir, "unet", "model.onnx"), st.ModTime(), st.ModTime()); err != nil {
		t.Fatal(err)
	}
	if err := c.RefreshCheckpoints(); err != nil {
		t.Fatal(err)
	}
	if got := *c.Checkpoints()[0].SHA256; got != want {
		t.Errorf("unchanged size and mtime: hash %s, want the cached %s", got, want)
	}
	// A changed file is hashed again.
	write("unet/model.onnx", "GG")
	if err := c.RefreshCheckpoints(); err != nil {
		t.Fatal(err)
	}
	if got, want := *c.Checkpoints()[0].SHA256, sumOf("GGW"); got != want {
		t.Errorf("after a change: hash %s, want %s", got, want)
	}
}

func TestHashCacheFileSurvivesRestart(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "models", "m")
	cache := filepath.Join(root, "cache", "model-hashes.json")
	touch(t, filepath.Join(dir, "model_index.json"))
	unet := filepath.Join(dir, "unet", "model.onnx")
	if err := os.MkdirAll(filepath.Dir(unet), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(unet, []byte("AAAA"), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := New(filepath.Dir(dir), "", HashCacheFile(cache))
	if err != nil {
		t.Fatal(err)
	}
	first := *c.Checkpoints()[0].SHA256
	if _, err := os.Stat(cache); err != nil {
		t.Fatalf("no cache file written: %v", err)
	}

	// Same size and mtime, other bytes: a new process trusts the file.
	st, err := os.Stat(unet)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(unet, []byte("BBBB"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(unet, st.ModTime(), st.ModTime()); err != nil {
		t.Fatal(err)
	}
	c2, err := New(filepath.Dir(dir), "", HashCacheFile(cache))
	if err != nil {
		t.Fatal(err)
	}
	if got := *c2.Checkpoints()[0].SHA256; got != first {
		t.Errorf("after restart: hash %s, want the cached %s", got, first)
	}

	// An unreadable cache is ignored: everything is hashed again.
	if err := os.WriteFile(cache, []byte("not json"), 0o644); err != nil {
		t.Fatal(err)
	}
	c3, err := New(filepath.Dir(dir), "", HashCacheFile(cache))
	if err != nil {
		t.Fatal(err)
	}
	if got := *c3.Checkpoints()[0].SHA256; got == first {
		t.Error("a corrupt cache file was trusted")
	}
}
