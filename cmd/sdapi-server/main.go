// Command sdapi-server is the sdapi reference server: A1111's /sdapi/v1 API
// generated from openapi/sdapi.yaml. Flags use A1111's names.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/sdapi/sdapi/fleet"
	"github.com/sdapi/sdapi/processing"
	"github.com/sdapi/sdapi/processing/catalog"
	"github.com/sdapi/sdapi/processing/extranet"
	"github.com/sdapi/sdapi/processing/options"
	"github.com/sdapi/sdapi/processing/queue"
	"github.com/sdapi/sdapi/processing/scripts"
	"github.com/sdapi/sdapi/processing/styles"
	"github.com/sdapi/sdapi/runner"
	"github.com/sdapi/sdapi/runner/ort"
	"github.com/sdapi/sdapi/server"
)

// version is what infotext and info.version report.
const version = "sdapi-0.1.0"

// closeTimeout bounds how long a stop waits for connections to finish
// once the running job is done or cancelled.
const closeTimeout = 5 * time.Second

func main() {
	restart, err := run(context.Background(), os.Args[1:], os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "sdapi-server:", err)
		os.Exit(1)
	}
	if restart {
		exe, err := os.Executable()
		if err == nil {
			err = syscall.Exec(exe, os.Args, os.Environ())
		}
		fmt.Fprintln(os.Stderr, "sdapi-server: restart:", err)
		os.Exit(1)
	}
}

// config is everything the flags say.
type config struct {
	port           int
	listen         bool
	apiAuth        string
	apiServerStop  bool
	dataDir        string
	ckptDir        string
	vaeDir         string
	esrganDir      string
	realesrganDir  string
	loraDir        string
	embeddingsDir  string
	stylesFile     string
	settingsFile   string
	corsOrigins    string
	apiLog         bool
	enableRequests bool
	shutdownGrace  time.Duration
	noDefaultModel bool
	ortLib         string
	device         string
	threads        int
	noCPUArena     bool
	queueSize      int
	limits         server.Limits
	fleet          fleetFlags
	// memoryBudget is the UNet activations' share of the machine's memory
	// (memory.go); 0 when it could not be read.
	memoryBudget int64
}

func parseFlags(args []string, stderr io.Writer) (config, *flag.FlagSet, error) {
	var c config
	fs := flag.NewFlagSet("sdapi-server", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&c.port, "port", 7860, "port to listen on")
	fs.BoolVar(&c.listen, "listen", false, "listen on all interfaces (0.0.0.0) instead of 127.0.0.1 only")
	fs.StringVar(&c.apiAuth, "api-auth", "", `HTTP basic auth for the API: "user:pass" or "u1:p1,u2:p2"`)
	fs.BoolVar(&c.apiServerStop, "api-server-stop", false, "enable server-stop, server-kill and server-restart through the API")
	fs.StringVar(&c.dataDir, "data-dir", ".sdapi-data", "base directory for settings, styles, models and outputs")
	fs.StringVar(&c.ckptDir, "ckpt-dir", "", "directory of Stable Diffusion ONNX model directories (default DATA-DIR/models/Stable-diffusion)")
	fs.StringVar(&c.vaeDir, "vae-dir", "", "directory of ONNX VAE directories (default DATA-DIR/models/VAE)")
	fs.StringVar(&c.esrganDir, "esrgan-models-path", "", "directory of ESRGAN-style ONNX upscaler models (default DATA-DIR/models/ESRGAN)")
	fs.StringVar(&c.realesrganDir, "realesrgan-models-path", "", "directory of Real-ESRGAN ONNX upscaler models (default DATA-DIR/models/RealESRGAN)")
	fs.StringVar(&c.loraDir, "lora-dir", "", "directory of kohya-format LoRA .safetensors files (default DATA-DIR/models/Lora)")
	fs.StringVar(&c.embeddingsDir, "embeddings-dir", "", "directory of textual-inversion embedding .safetensors files (default DATA-DIR/embeddings)")
	fs.StringVar(&c.stylesFile, "styles-file", "", "prompt styles CSV (default DATA-DIR/styles.csv)")
	fs.StringVar(&c.settingsFile, "ui-settings-file", "", "settings file (default DATA-DIR/config.json)")
	fs.StringVar(&c.corsOrigins, "cors-allow-origins", "", "comma-separated CORS origins; CORS is off without it")
	fs.BoolVar(&c.apiLog, "api-log", false, "log every API request")
	fs.DurationVar(&c.shutdownGrace, "shutdown-timeout", 10*time.Second, "on SIGTERM or server-stop, how long the running job may go on before it is cancelled")
	fs.BoolVar(&c.enableRequests, "api-enable-requests", false, "let input images be http(s) URLs; public addresses only, 50 MiB and 30 s per fetch")
	fs.BoolVar(&c.noDefaultModel, "no-download-sd-model", false, "do not emit the random-weight test model when no model is installed")
	fs.StringVar(&c.ortLib, "onnxruntime-lib", os.Getenv("ONNXRUNTIME_SHARED_LIBRARY_PATH"), "path of libonnxruntime.so (default $ONNXRUNTIME_SHARED_LIBRARY_PATH)")
	fs.StringVar(&c.device, "device", "cpu", `execution provider: "cpu", "cuda" (fail if it cannot load) or "auto" (CUDA, else CPU)`)
	fs.IntVar(&c.threads, "threads", runtime.NumCPU(), "ONNX Runtime intra-op threads per model part")
	fs.BoolVar(&c.noCPUArena, "no-cpu-arena", false, "turn ONNX Runtime's CPU memory arena off: each run returns its memory instead of every model part keeping its peak, so a model whose weights fill most of memory fits, much slower where activations are large")
	fs.IntVar(&c.queueSize, "queue-size", 64, "generation jobs that may wait while one runs (with --nats: jobs waiting or running across the fleet, as the API processes set it); more get 503")
	c.fleet.register(fs)
	// Defaults sized for 2 cores and 24 GiB with SD 1.5 (see
	// server.DefaultLimits); --max-pixels 0 is derived from the machine's
	// memory at start (resolveMemory).
	lim := server.DefaultLimits()
	fs.Int64Var(&c.limits.MaxBodyBytes, "max-body-bytes", lim.MaxBodyBytes, "largest request body in bytes; more gets 413")
	fs.Int64Var(&c.limits.MaxPixels, server.MaxPixelsFlag[2:], 0, "largest width×height of the images of a sampling pass (hires target included) and of a sent image; more gets 422. 0: what fits the machine's memory, computed and logged at start (a batch runs in sub-batches that fit)")
	fs.IntVar(&c.limits.MaxSteps, "max-steps", lim.MaxSteps, "largest steps and hr_second_pass_steps; more gets 422")
	fs.IntVar(&c.limits.MaxPromptChars, "max-prompt-chars", lim.MaxPromptChars, "longest prompt (each of prompt, negative_prompt, hr_prompt, hr_negative_prompt) in characters; more gets 422")
	fs.IntVar(&c.limits.MaxBatchImages, "max-batch-images", lim.MaxBatchImages, "most images in one extra-batch-images or img2img init_images list; more gets 422")
	fs.IntVar(&c.limits.MaxImages, "max-images", lim.MaxImages, "most images one generation request makes (batch_size×n_iter, summed over a script's jobs); more gets 422")
	if err := fs.Parse(args); err != nil {
		return c, nil, err
	}
	if fs.NArg() > 0 {
		return c, nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if l := c.limits; l.MaxBodyBytes <= 0 || l.MaxSteps <= 0 || l.MaxPromptChars <= 0 || l.MaxBatchImages <= 0 || l.MaxImages <= 0 {
		// A zero would silently mean the default in server.Config.
		return c, nil, errors.New("--max-body-bytes, --max-steps, --max-prompt-chars, --max-batch-images and --max-images must be positive")
	}
	if err := c.fleet.check(); err != nil {
		return c, nil, err
	}
	if c.limits.MaxPixels < 0 {
		return c, nil, errors.New("--max-pixels must be positive, or 0 for what the machine's memory fits")
	}
	orDefault := func(v *string, rel string) {
		if *v == "" {
			*v = filepath.Join(c.dataDir, rel)
		}
	}
	orDefault(&c.ckptDir, filepath.Join("models", "Stable-diffusion"))
	orDefault(&c.vaeDir, filepath.Join("models", "VAE"))
	orDefault(&c.esrganDir, filepath.Join("models", "ESRGAN"))
	orDefault(&c.realesrganDir, filepath.Join("models", "RealESRGAN"))
	orDefault(&c.loraDir, filepath.Join("models", "Lora"))
	orDefault(&c.embeddingsDir, "embeddings")
	orDefault(&c.stylesFile, "styles.csv")
	orDefault(&c.settingsFile, "config.json")
	return c, fs, nil
}

// parseAuth reads --api-auth's "u1:p1,u2:p2".
func parseAuth(s string) ([]server.Credential, error) {
	if s == "" {
		return nil, nil
	}
	var out []server.Credential
	for _, pair := range strings.Split(s, ",") {
		user, pass, ok := strings.Cut(strings.TrimSpace(pair), ":")
		if !ok || user == "" {
			return nil, errors.New(`--api-auth wants "user:pass[,user:pass]"`)
		}
		out = append(out, server.Credential{User: user, Password: pass})
	}
	return out, nil
}

// flagValues is what /cmd-flags reports: every flag under A1111's
// underscore name, with the credentials redacted.
func flagValues(fs *flag.FlagSet) map[string]any {
	out := map[string]any{}
	fs.VisitAll(func(f *flag.Flag) {
		var v any = f.Value.String()
		if g, ok := f.Value.(flag.Getter); ok {
			v = g.Get()
		}
		if v == "" {
			v = nil // A1111's unset string flags are None
		}
		out[strings.ReplaceAll(f.Name, "-", "_")] = v
	})
	// A1111's --styles-file is action="append", so the spec's Flags has
	// styles_file as a list.
	if s, ok := out["styles_file"].(string); ok {
		out["styles_file"] = []string{s}
	}
	if out["api_auth"] != nil {
		out["api_auth"] = "<redacted>"
	}
	if u, ok := out["nats"].(string); ok && strings.Contains(u, "@") {
		out["nats"] = "<redacted>" // nats://user:password@host
	}
	// This server is what A1111 is with --api --nowebui: the API only.
	out["api"], out["nowebui"] = true, true
	return out
}

// run serves until a signal or an API stop; it reports whether the API
// asked for a restart.
func run(ctx context.Context, args []string, stderr io.Writer) (restart bool, err error) {
	cfg, fs, err := parseFlags(args, stderr)
	if err != nil {
		return false, err
	}
	creds, err := parseAuth(cfg.apiAuth)
	if err != nil {
		return false, err
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	resolveMemory(log, &cfg)
	if err := os.MkdirAll(cfg.dataDir, 0o755); err != nil {
		return false, fmt.Errorf("data dir: %w", err)
	}

	// Model hashes survive restarts, as in A1111's cache.json.
	cat, err := catalog.New(cfg.ckptDir, cfg.vaeDir, catalog.HashCacheFile(filepath.Join(cfg.dataDir, "cache", "model-hashes.json")))
	if err != nil {
		return false, err
	}
	// An API's models are its workers'.
	if !cfg.noDefaultModel && cfg.fleet.role != roleAPI {
		if err := ensureDefaultModel(log, cat, cfg.ckptDir); err != nil {
			return false, err
		}
	}
	id := workerID()
	fc, err := connectFleet(ctx, log, cfg, id)
	if err != nil {
		return false, err
	}
	if fc != nil {
		defer fc.Close()
	}
	// The checkpoints jobs run on and /sd-models lists: this process's,
	// or for a fleet's API the live workers' (fleet.Catalog).
	var (
		checkpoints processing.Checkpoints = cat
		fleetCat    *fleet.Catalog
	)
	if fc != nil && cfg.fleet.role != roleWorker {
		if fleetCat, err = fleet.WatchCatalogs(ctx, fc, log); err != nil {
			return false, err
		}
		defer fleetCat.Close()
		checkpoints = fleetCat
	}
	defs, err := server.OptionDefs()
	if err != nil {
		return false, err
	}
	opts, err := options.New(defs, cfg.settingsFile, server.CheckpointValidator(checkpoints))
	if err != nil {
		return false, err
	}
	for _, w := range opts.Warnings() {
		log.Warn("settings file", "file", cfg.settingsFile, "warning", w)
	}
	// A1111 loads the model at startup and its load writes the title and
	// sha256 into the settings; this server loads it with the first job,
	// but the settings name it from the start.
	if ck, err := processing.SelectCheckpoint(checkpoints, opts.String("sd_model_checkpoint")); err == nil {
		if err := processing.PublishCheckpoint(opts, ck); err != nil {
			return false, err
		}
	}
	stylesFile := styles.Open(cfg.stylesFile)
	jobs := queue.New(cfg.queueSize)

	state := processing.NewState(nil)
	var (
		proc   *processing.Processor
		models *processing.ModelHost
	)
	var open func(ctx context.Context, dir, vaeDir string) (runner.Runner, error)
	if cfg.fleet.role != roleAPI { // an API's jobs run on the workers
		if open, err = startRunner(log, cfg); err != nil {
			log.Error("generation is unavailable", "err", err)
		}
	}
	// The registry always holds the built-in upscalers, so extras works
	// without ONNX Runtime; model upscalers need it.
	ups, closeUpscalers := loadUpscalers(ctx, log, open != nil, []upscalerDir{
		{cfg.esrganDir, "ESRGAN"}, {cfg.realesrganDir, "RealESRGAN"},
	}, ort.UpscalerConfig{Device: cfg.device, Threads: cfg.threads, Logger: log})
	if open != nil {
		models = processing.NewModelHost(cat, open)
		models.PublishTo(opts)
	}
	// An API without a runner still prepares jobs (scripts, limits) before
	// they go to the fleet.
	if open != nil || cfg.fleet.role == roleAPI {
		proc = &processing.Processor{
			Options:   opts,
			State:     state,
			Styles:    stylesFile,
			OutputDir: filepath.Join(cfg.dataDir, "outputs"),
			Version:   version,
			Upscalers: ups,
			Scripts:   processing.NewScripts(scripts.Builtin(ups, checkpointTitles(checkpoints))...),
			// The same limits again, for the jobs scripts derive.
			Limits:     cfg.limits.Processing(),
			Loras:      extranet.NewLoras(cfg.loraDir, log),
			Embeddings: extranet.NewEmbeddings(cfg.embeddingsDir, log),
			Log:        log,
		}
		if models != nil {
			proc.Models = models
		}
	}

	ctx, stopSignals := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stopSignals()
	life := newLifecycle(ctx)

	var origins []string
	if cfg.corsOrigins != "" {
		origins = strings.Split(cfg.corsOrigins, ",")
	}
	scfg := server.Config{
		APIAuth:        creds,
		ServerStop:     cfg.apiServerStop,
		CORSOrigins:    origins,
		APILog:         cfg.apiLog,
		EnableRequests: cfg.enableRequests,
		Flags:          flagValues(fs),
		Logger:         log,
		Limits:         cfg.limits,
		PrivateDirs:    cfg.privateDirs(),
	}
	deps := server.Deps{
		Options:   opts,
		State:     state,
		Catalog:   cat,
		Styles:    stylesFile,
		Lifecycle: life,
		Processor: proc,
		Queue:     jobs,
		Models:    models,
		Upscalers: ups,
	}
	var api *fleet.API
	if fc != nil {
		shared, err := fleet.ShareOptions(ctx, fc, opts, log)
		if err != nil {
			return false, err
		}
		defer shared.Close()
		deps.SharedOptions = shared
		if fleetCat != nil {
			shared.TrackCheckpoint(fleetCat)
		}
	}
	if fc != nil && cfg.fleet.role != roleWorker {
		if api, err = fleet.NewAPI(fc, jobs, state, opts, fleetCat, log); err != nil {
			return false, err
		}
		deps.Jobs, deps.Catalogs = api, fleetCat
		deps.Collectors = append(deps.Collectors, api.Collector())
	}
	var worker *fleet.Worker
	if fc != nil && cfg.fleet.role != roleAPI {
		worker = fleet.NewWorker(fc, id, cat, state, log)
		deps.Collectors = append(deps.Collectors, worker.Collector())
	}
	srv := server.New(scfg, deps)
	var handler http.Handler
	if cfg.fleet.role == roleWorker {
		mux := http.NewServeMux()
		mux.Handle(server.MetricsPath, srv.MetricsHandler())
		handler = mux
	} else if handler, err = server.NewEcho(srv); err != nil {
		return false, err
	}
	stopWorker := func(context.Context) {}
	if worker != nil {
		wsrv := srv
		if deps.Jobs != nil { // role all: the worker runs jobs here
			deps.Jobs, deps.Catalogs, deps.Collectors = nil, nil, nil
			wsrv = server.New(scfg, deps)
		}
		stopWorker = runWorker(worker, wsrv, log)
	}

	host := "127.0.0.1"
	if cfg.listen {
		host = "0.0.0.0"
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(cfg.port)))
	if err != nil {
		return false, err
	}
	hs := &http.Server{Handler: handler, ReadHeaderTimeout: 30 * time.Second}
	serveErr := make(chan error, 1)
	go func() { serveErr <- hs.Serve(ln) }()
	log.Info("serving", "url", "http://"+ln.Addr().String(), "docs", "http://"+ln.Addr().String()+"/docs",
		"data_dir", cfg.dataDir, "checkpoints", len(cat.Checkpoints()))

	select {
	case err := <-serveErr:
		return false, err
	case <-life.done:
	}
	log.Info("shutting down", "restart", life.restart.Load())
	// Stop accepting at once; requests in flight go on.
	sctx, cancel := context.WithTimeout(context.Background(), cfg.shutdownGrace+closeTimeout)
	defer cancel()
	shutdownDone := make(chan error, 1)
	go func() { shutdownDone <- hs.Shutdown(sctx) }()
	// Waiting jobs answer 503 "Server is shutting down" now; the running
	// one has the grace period to finish, then is cancelled as /interrupt
	// would, so a stop is bounded whatever the job.
	gctx, gcancel := context.WithTimeout(context.Background(), cfg.shutdownGrace)
	if api != nil {
		if err := api.Close(gctx); err != nil {
			log.Warn("fleet jobs cancelled", "err", err)
		}
	}
	// Before the queue closes: a job the worker cannot finish in the
	// grace period goes back to the fleet rather than answer 503.
	stopWorker(gctx)
	if err := jobs.Close(gctx); err != nil {
		log.Warn("running job cancelled", "err", err)
	}
	gcancel()
	// No job is left, so handlers answer promptly; a connection that still
	// does not finish is closed.
	if err := <-shutdownDone; err != nil {
		log.Warn("connections closed before they finished", "err", err)
		_ = hs.Close()
	}
	closeUpscalers() // before ort.Shutdown destroys the environment
	if models != nil {
		if err := models.Unload(); err != nil {
			log.Warn("unload model", "err", err)
		}
		ort.Shutdown()
	}
	return life.restart.Load(), nil
}

// privateDirs are the directories whose paths error messages must not
// show clients, absolute: every directory the flags name, the working
// directory and the home directory.
func (c config) privateDirs() []string {
	dirs := []string{c.dataDir, c.ckptDir, c.vaeDir, c.esrganDir, c.realesrganDir, c.loraDir, c.embeddingsDir,
		filepath.Dir(c.stylesFile), filepath.Dir(c.settingsFile)}
	if c.ortLib != "" {
		dirs = append(dirs, filepath.Dir(c.ortLib))
	}
	if wd, err := os.Getwd(); err == nil {
		dirs = append(dirs, wd)
	}
	if home, err := os.UserHomeDir(); err == nil {
		dirs = append(dirs, home)
	}
	for i, d := range dirs {
		if abs, err := filepath.Abs(d); err == nil {
			dirs[i] = abs
		}
	}
	return dirs
}

// checkpointTitles lists the checkpoint titles (sd_models.checkpoint_tiles)
// for the Refiner script's dropdown.
func checkpointTitles(cat processing.Checkpoints) func() []string {
	return func() []string {
		var out []string
		for _, ck := range cat.Checkpoints() {
			out = append(out, ck.Title)
		}
		return out
	}
}
