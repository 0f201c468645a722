package server

import (
	"context"

	"github.com/sdapi/sdapi/processing"
	"github.com/sdapi/sdapi/processing/catalog"
	"github.com/sdapi/sdapi/processing/extranet"
	"github.com/sdapi/sdapi/processing/upscale"
)

// Catalogs is where the listings of what is installed come from: this
// process's directories (the default) or a fleet's live workers' (package
// fleet, through Deps.Catalogs). /sd-models, /sd-vae, /loras,
// /embeddings, /upscalers, /realesrgan-models, their refreshes and the
// check of a POSTed sd_model_checkpoint use only this, so they do not
// know which.
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

	// Loras lists the Lora directory's files in its order (/loras).
	Loras(ctx context.Context) []extranet.Lora
	// Embeddings splits the embeddings directory by the width of the
	// model loaded where the embeddings are used (/embeddings).
	Embeddings(ctx context.Context) EmbeddingSplit
	// Upscalers lists the upscalers in the registry's order, the
	// built-in ones first (/upscalers, /realesrgan-models). A fleet's
	// are descriptions only: they upscale nothing.
	Upscalers(ctx context.Context) []upscale.Upscaler
	// RefreshLoras and RefreshEmbeddings rescan the Lora and embeddings
	// directories (every live worker's, for a fleet).
	RefreshLoras(ctx context.Context) error
	RefreshEmbeddings(ctx context.Context) error
}

// EmbeddingSplit is the embeddings directory as a model sees it: A1111's
// word_embeddings (Loaded, of the model's width, or all when no model is
// loaded) and skipped_embeddings. Files that did not load at all are in
// neither, as in A1111.
type EmbeddingSplit struct {
	Loaded  []extranet.Embedding `json:"loaded"`
	Skipped []extranet.Embedding `json:"skipped"`
}

// localCatalogs is the in-process Catalogs: the catalog's model
// directories, the Processor's Lora and embeddings directories (none
// without a Processor), the width of the model Models holds and the
// upscaler registry (the built-in upscalers without one).
type localCatalogs struct {
	*catalog.Catalog
	proc   *processing.Processor
	models *processing.ModelHost
	ups    *upscale.Registry
}

func newLocalCatalogs(deps Deps) localCatalogs {
	return localCatalogs{Catalog: deps.Catalog, proc: deps.Processor, models: deps.Models, ups: deps.Upscalers}
}

func (l localCatalogs) RefreshCheckpoints(context.Context) error {
	return l.Catalog.RefreshCheckpoints()
}
func (l localCatalogs) RefreshVAEs(context.Context) error { return l.Catalog.RefreshVAEs() }

func (l localCatalogs) Loras(context.Context) []extranet.Lora {
	if l.proc == nil || l.proc.Loras == nil {
		return nil
	}
	return l.proc.Loras.List()
}

func (l localCatalogs) Embeddings(context.Context) EmbeddingSplit {
	if l.proc == nil || l.proc.Embeddings == nil {
		return EmbeddingSplit{}
	}
	width := 0
	if l.models != nil {
		if info, ok := l.models.Loaded(); ok {
			width = info.EmbeddingWidth
		}
	}
	loaded, skipped := l.proc.Embeddings.Split(width)
	return EmbeddingSplit{Loaded: loaded, Skipped: skipped}
}

func (l localCatalogs) Upscalers(context.Context) []upscale.Upscaler {
	if l.ups == nil {
		// The built-in ones (None, Lanczos, Nearest) are what hires fix
		// accepts without any upscaler model.
		return upscale.NewRegistry().List()
	}
	return l.ups.List()
}

func (l localCatalogs) RefreshLoras(context.Context) error {
	if l.proc != nil && l.proc.Loras != nil {
		l.proc.Loras.Refresh()
	}
	return nil
}

func (l localCatalogs) RefreshEmbeddings(context.Context) error {
	if l.proc != nil && l.proc.Embeddings != nil {
		l.proc.Embeddings.Refresh()
	}
	return nil
}

// LocalCatalogs is this process's own Catalogs, whatever Deps.Catalogs
// is: what a fleet's worker answers its APIs with.
func (s *Server) LocalCatalogs() Catalogs { return s.local }
