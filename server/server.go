// Package server implements the generated sdapi strict server interface on
// top of processing: it converts between the wire types in gen and the
// processing package, and maps errors to A1111's HTTP answers.
//
// txt2img and img2img read their body once: request_decode.go validates
// it as pydantic v1 validates A1111's models (field table in
// request_fields.go, coercions in coerce.go, JSON as json.loads reads it in
// pyjson.go) into processing.Params and vars(request); generate.go runs
// the job and encodes the images (encode.go) and the ordered response.
package server

import (
	"context"
	"log/slog"
	"maps"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sdapi/sdapi/gen"
	"github.com/sdapi/sdapi/processing"
	"github.com/sdapi/sdapi/processing/catalog"
	"github.com/sdapi/sdapi/processing/options"
	"github.com/sdapi/sdapi/processing/queue"
	"github.com/sdapi/sdapi/processing/styles"
	"github.com/sdapi/sdapi/processing/upscale"
)

var _ gen.StrictServerInterface = (*Server)(nil)

// Credential is one user:password pair of --api-auth.
type Credential struct{ User, Password string }

// Config is what cmd/sdapi-server parsed from its flags.
type Config struct {
	// APIAuth enables HTTP basic auth on every /sdapi route when not empty.
	APIAuth []Credential
	// ServerStop registers server-stop, server-kill and server-restart;
	// without it they answer 404 as unregistered routes do in A1111.
	ServerStop bool
	// CORSOrigins enables CORS for these origins; none means CORS is off.
	CORSOrigins []string
	// APILog logs one line per request (A1111 --api-log).
	APILog bool
	// Flags is what GET /cmd-flags reports: the server's own flags, under
	// A1111's names, secrets already redacted by the caller.
	Flags map[string]any
	// Logger receives structured logs; nil discards them.
	Logger *slog.Logger
	// Limits bound what one request may ask for; zero fields take
	// DefaultLimits.
	Limits Limits
	// EnableRequests lets input images (init_images, mask, extras and
	// png-info images) be http(s) URLs (--api-enable-requests); without it
	// they answer A1111's 500 "Requests not allowed". A fetch never reaches
	// a non-public address (see URLFetcher).
	EnableRequests bool
	// PrivateDirs are the server's directories (data, models, outputs,
	// working directory), absolute. No path under them reaches a client:
	// an error names a file by its last element. Absolute paths elsewhere
	// are cut the same way, but only a configured directory is found
	// whole when it has spaces in it.
	PrivateDirs []string
	// Fetcher fetches those URLs; nil is a zero URLFetcher. Tests set its
	// resolver and address policy.
	Fetcher *URLFetcher
}

// Lifecycle is how the API stops or restarts the process that serves it.
type Lifecycle interface {
	// Stop shuts the server down gracefully.
	Stop()
	// Kill ends the process at once.
	Kill()
	// Restart shuts down and starts the process again.
	Restart() error
}

// Deps are the services the handlers use.
type Deps struct {
	Options   *options.Store
	State     *processing.State
	Catalog   *catalog.Catalog
	Styles    *styles.File
	Lifecycle Lifecycle

	// Processor runs generation jobs (ProcessImages); Queue serialises them
	// (A1111's queue lock); Models holds the loaded checkpoint. When
	// Processor is nil the server cannot generate and says so.
	Processor *processing.Processor
	Queue     *queue.Queue
	Models    *processing.ModelHost
	// Jobs runs generation and extras jobs and reports on them; nil is
	// Queue and State in this process.
	Jobs Jobs
	// Catalogs lists the models, LoRAs, embeddings and upscalers; nil is
	// this process's: Catalog, Processor's directories, Models and
	// Upscalers.
	Catalogs Catalogs
	// SharedOptions, when set, hands each POST /options change, once
	// applied here, to the other processes of a fleet.
	SharedOptions OptionsSharer
	// Collectors are further /metrics of this process (a fleet's gauges).
	Collectors []prometheus.Collector
	// Upscalers are the upscalers of extra-single-image and
	// extra-batch-images and of /upscalers; nil means the extras routes
	// answer 501 and /upscalers lists the built-in ones.
	Upscalers *upscale.Registry
}

// OptionsSharer shares option changes across processes.
type OptionsSharer interface {
	Share(ctx context.Context, values map[string]any) error
}

// Server implements gen.StrictServerInterface.
type Server struct {
	cfg     Config
	deps    Deps
	log     *slog.Logger
	metrics *metrics
	jobs    Jobs
	cats    Catalogs
	local   localCatalogs // cats unless Deps.Catalogs is set
}

// New returns a Server. Every field of deps must be set.
func New(cfg Config, deps Deps) *Server {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cfg.Limits = cfg.Limits.WithDefaults()
	cfg.Flags = maps.Clone(cfg.Flags)
	if cfg.Flags == nil {
		// GET /cmd-flags answers an object, never null.
		cfg.Flags = map[string]any{}
	}
	jobs := deps.Jobs
	if jobs == nil {
		jobs = localJobs{q: deps.Queue, st: deps.State}
	}
	local := newLocalCatalogs(deps)
	cats := deps.Catalogs
	if cats == nil {
		cats = local
	}
	m := newMetrics(deps.Queue, deps.Collectors)
	m.reg.MustRegister(newPatchCollector(deps.Models))
	return &Server{cfg: cfg, deps: deps, log: log, metrics: m, jobs: jobs, cats: cats, local: local}
}
