package server_test

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"testing"

	"github.com/sdapi/sdapi/internal/apierr"
	"github.com/sdapi/sdapi/processing/catalog"
	"github.com/sdapi/sdapi/server"
)

// fakeCatalogs is a fleet's listing source as the server sees it.
type fakeCatalogs struct {
	cks       []catalog.Checkpoint
	vaes      []catalog.VAE
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
