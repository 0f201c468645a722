package server_test

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/sdapi/sdapi/internal/apierr"
	"github.com/sdapi/sdapi/processing/catalog"
	"github.com/sdapi/sdapi/processing/extranet"
	"github.com/sdapi/sdapi/processing/upscale"
	"github.com/sdapi/sdapi/server"
)

// fakeCatalogs is a fleet's listing source as the server sees it.
type fakeCatalogs struct {
	cks       []catalog.Checkpoint
	vaes      []catalog.VAE
	loras     []extranet.Lora
	embs      server.EmbeddingSplit
	ups       []upscale.Upscaler
	refreshed []string
	err       error // what a refresh answers
}

func (f *fakeCatalogs) Checkpoints() []catalog.Checkpoint { return f.cks }
func (f *fakeCatalogs) VAEs() []catalog.VAE               { return f.vaes }
func (f *fakeCatalogs) LookupCheckpoint(name string) (catalog.Checkpoint, error) {
	for _, ck := range f.cks {
		if ck.Matches(name) {
			return ck, nil
		}
	}
	return catalog.Checkpoint{}, apierr.NotFound("checkpoint %q: not found", name)
}
func (f *fakeCatalogs) RefreshCheckpoints(context.Context) error {
	f.refreshed = append(f.refreshed, "checkpoints")
	return f.err
}
func (f *fakeCatalogs) RefreshVAEs(context.Context) error {
	f.refreshed = append(f.refreshed, "vae")
	return f.err
}
func (f *fakeCatalogs) Loras(context.Context) []extranet.Lora            { return f.loras }
func (f *fakeCatalogs) Embeddings(context.Context) server.EmbeddingSplit { return f.embs }
func (f *fakeCatalogs) Upscalers(context.Context) []upscale.Upscaler     { return f.ups }
func (f *fakeCatalogs) RefreshLoras(context.Context) error {
	f.refreshed = append(f.refreshed, "loras")
	return f.err
}
func (f *fakeCatalogs) RefreshEmbeddings(context.Context) error {
	f.refreshed = append(f.refreshed, "embeddings")
	return f.err
}

// With Deps.Catalogs set (a fleet's API), /sd-models, /sd-vae and their
// refreshes use it, not the server's own directories.
func TestListingsFromCatalogs(t *testing.T) {
	t.Parallel()
	dirs := newTestDirs(t)
	dirs.addCheckpoint(t, "on-this-disk")
	fc := &fakeCatalogs{
		cks:  []catalog.Checkpoint{{Title: "on-a-worker", ModelName: "on-a-worker", Filename: "/w/on-a-worker"}},
		vaes: []catalog.VAE{{ModelName: "worker-vae", Filename: "/w/worker-vae"}},
	}
	ts := startServerDeps(t, dirs, nil, func(d *server.Deps) { d.Catalogs = fc })

	res := ts.do(t, http.MethodGet, "/sdapi/v1/sd-models", nil)
	assertJSON(t, res.Body, `[{"title":"on-a-worker","model_name":"on-a-worker","hash":null,"sha256":null,"filename":"/w/on-a-worker","config":null}]`)
	res = ts.do(t, http.MethodGet, "/sdapi/v1/sd-vae", nil)
	assertJSON(t, res.Body, `[{"model_name":"worker-vae","filename":"/w/worker-vae"}]`)

	assertStatus(t, ts.do(t, http.MethodPost, "/sdapi/v1/refresh-checkpoints", nil), http.StatusOK)
	assertStatus(t, ts.do(t, http.MethodPost, "/sdapi/v1/refresh-vae", nil), http.StatusOK)
	fc.err = errors.New("a worker could not rescan")
	assertStatus(t, ts.do(t, http.MethodPost, "/sdapi/v1/refresh-checkpoints", nil), http.StatusInternalServerError)
	if want := []string{"checkpoints", "vae", "checkpoints"}; !slices.Equal(fc.refreshed, want) {
		t.Errorf("refreshes: %v, want %v", fc.refreshed, want)
	}
}

// With Deps.Catalogs set, /loras, /embeddings, /upscalers,
// /realesrgan-models and the LoRA and embedding refreshes use it too,
// whatever the server's own directories hold.
func TestExtraListingsFromCatalogs(t *testing.T) {
	t.Parallel()
	dirs := newTestDirs(t)
	family, path := "RealESRGAN", "/w/x4.onnx"
	fc := &fakeCatalogs{
		loras: []extranet.Lora{{Name: "on-a-worker", Alias: "alias", Path: "/w/Lora/on-a-worker.safetensors", Metadata: map[string]any{"ss_output_name": "alias"}}},
		embs: server.EmbeddingSplit{
			Loaded:  []extranet.Embedding{{Name: "fits", Shape: 768, Vectors: 2}},
			Skipped: []extranet.Embedding{{Name: "wide", Shape: 1024, Vectors: 1}},
		},
		ups: append(upscale.Builtin(), upscale.Upscaler{Name: "x4", ModelName: &family, ModelPath: &path, Scale: 4}),
	}
	ts := startServerDeps(t, dirs, nil, func(d *server.Deps) { d.Catalogs = fc })

	assertJSON(t, ts.do(t, http.MethodGet, "/sdapi/v1/loras", nil).Body,
		`[{"name":"on-a-worker","alias":"alias","path":"/w/Lora/on-a-worker.safetensors","metadata":{"ss_output_name":"alias"}}]`)
	assertJSON(t, ts.do(t, http.MethodGet, "/sdapi/v1/embeddings", nil).Body,
		`{"loaded":{"fits":{"step":null,"sd_checkpoint":null,"sd_checkpoint_name":null,"shape":768,"vectors":2}},"skipped":{"wide":{"step":null,"sd_checkpoint":null,"sd_checkpoint_name":null,"shape":1024,"vectors":1}}}`)
	assertJSON(t, ts.do(t, http.MethodGet, "/sdapi/v1/realesrgan-models", nil).Body,
		`[{"name":"x4","path":"/w/x4.onnx","scale":4}]`)
	res := ts.do(t, http.MethodGet, "/sdapi/v1/upscalers", nil)
	if !strings.Contains(string(res.Body), `"name":"x4","model_name":"RealESRGAN","model_path":"/w/x4.onnx"`) {
		t.Errorf("/upscalers lacks the worker's model: %s", res.Body)
	}

	assertStatus(t, ts.do(t, http.MethodPost, "/sdapi/v1/refresh-loras", nil), http.StatusOK)
	assertStatus(t, ts.do(t, http.MethodPost, "/sdapi/v1/refresh-embeddings", nil), http.StatusOK)
	fc.err = errors.New("a worker could not rescan")
	assertStatus(t, ts.do(t, http.MethodPost, "/sdapi/v1/refresh-loras", nil), http.StatusInternalServerError)
	if want := []string{"loras", "embeddings", "loras"}; !slices.Equal(fc.refreshed, want) {
		t.Errorf("refreshes: %v, want %v", fc.refreshed, want)
	}
}
