package server

import (
	"context"

	"github.com/sdapi/sdapi/processing/catalog"
)

// Catalogs is where the model listings come from: this process's catalog
// (Deps.Catalog, the default) or a fleet's, the union of its live
// workers' (package fleet, through Deps.Catalogs). /sd-models, /sd-vae,
// their refreshes and the check of a POSTed sd_model_checkpoint use only
// this, so they do not know which.
type Catalogs interface {
	// Checkpoints lists the checkpoints in A1111's order (/sd-models).
	Checkpoints() []catalog.Checkpoint
	// LookupCheckpoint finds a checkpoint by any of A1111's
	// checkpoint_aliases; an error of kind apierr.KindNotFound when none.
	LookupCheckpoint(name string) (catalog.Checkpoint, error)
	// VAEs lists the VAEs (/sd-vae).
	VAEs() []catalog.VAE
	// RefreshCheckpoints and RefreshVAEs rescan the model directories
	// (every live worker's, for a fleet).
	RefreshCheckpoints(ctx context.Context) error
	RefreshVAEs(ctx context.Context) error
}

// localCatalogs is the in-process Catalogs.
type localCatalogs struct{ *catalog.Catalog }

func (l localCatalogs) RefreshCheckpoints(context.Context) error {
	return l.Catalog.RefreshCheckpoints()
}
func (l localCatalogs) RefreshVAEs(context.Context) error { return l.Catalog.RefreshVAEs() }
