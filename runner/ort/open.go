package ort

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"

	onnxruntime "github.com/yalue/onnxruntime_go"

	"github.com/sdapi/sdapi/internal/apierr"
	"github.com/sdapi/sdapi/runner"
	"github.com/sdapi/sdapi/runner/clip"
	"github.com/sdapi/sdapi/runner/onnxgen/onnxpb"
	"github.com/sdapi/sdapi/runner/sampling"
)

// Config configures Open.
type Config struct {
	// Device is "cpu" (default), "cuda" (fail when the CUDA provider cannot
	// load) or "auto" (CUDA if it loads, else CPU with a warning).
	Device string
	// Threads is the intra-op thread count per session; 0 lets ONNX Runtime
	// choose (one per physical core). Inter-op threads are always 1.
	Threads int
	// VAEDir, if set, replaces the model's VAE: a directory holding
	// vae_decoder/model.onnx (and optionally vae_encoder/model.onnx), or a
	// decoder model.onnx directly.
	VAEDir string
	// Logger receives warnings (CUDA fallback, ignored options); nil discards.
	Logger *slog.Logger
	// MemoryBudget is the memory in bytes a UNet call's activations may
	// take (UNetSampleBytes each sample); a batch whose samples need more
	// runs in sub-batches of as many samples as fit, at least one. Every
	// sample's result is the same either way. 0 runs each batch in one
	// call (two when the prompt and negative prompt lengths differ).
	MemoryBudget int64
	// WeightsReserve is the part of the memory the caller set aside for
	// model weights when it sized MemoryBudget; a model whose files are
	// larger has the difference taken from its budget. 0 takes nothing.
	WeightsReserve int64
	// PatchCache is how many sessions with patched weights (a part with a
	// LoRA set or embedding rows) are kept; 0 is DefaultPatchCache, and
	// never fewer than the parts one job patches (3).
	PatchCache int
	// NoCPUArena turns ONNX Runtime's CPU memory arena off. With it on,
	// each session keeps the peak of its activations until it closes, so
	// a pipeline holds the sum of its parts' peaks; off, a run's memory is
	// returned after it, so weights that fill most of the machine still
	// leave room (the full-size SDXL shapes at 1024² on 24 GiB), at a
	// large speed cost wherever activations are large (the tiny model at
	// 512²: 5 s instead of 0.85 s, the pages faulted in on every run).
	NoCPUArena bool
}

// Runner runs one loaded pipeline. Generate calls are serialised.
type Runner struct {
	dir      string
	cfg      Config
	log      *slog.Logger
	provider string

	tok      *clip.Tokenizer
	sched    *sampling.Schedule
	vpred    bool
	kind     string
	textDim  int
	idsElem  onnxpb.DataType
	timestep timestepKind
	// encMean is set when vae_encoder outputs latent_parameters (mean‖logvar).
	encMean bool

	text, unet, vaeDec, vaeEnc *part
	// xl is set for an SDXL pipeline (sdxl.go); textDim is then the
	// concatenated width of both encoders.
	xl *xlModel
	// budget is the UNet activation budget (unetBudget).
	budget int64
	// latentScale is the VAE's scaling_factor: its config.json's, else
	// the family's (0.18215 SD1/SD2, 0.13025 SDXL).
	latentScale float32
	// tiled holds the circular-padding sessions, built on the first
	// tiling request (tiling.go); guarded by mu.
	tiled tiledSessions
	// tiledErr is why building them failed, kept until Close.
	tiledErr error
	// anySize holds the UNet sessions whose skip connections join at any
	// latent size (anysize.go), built on first need; guarded by mu.
	anySize anySizeSessions
	// hidden is the text encoder outputting its hidden states, built on
	// the first clip-skip request (clipskip.go); hiddenErr is why its graph
	// could not be rewritten, kept until Close; hiddenBuilds counts builds.
	// Guarded by mu.
	hidden       *hiddenEncoder
	hiddenErr    error
	hiddenBuilds int
	// patches are the sessions with LoRA or embedding patches (patched.go);
	// guarded by mu.
	patches patchCache

	mu sync.Mutex // serialises Generate and Close
}

var _ runner.Runner = (*Runner)(nil)

// schedulerConfig is the part of scheduler/scheduler_config.json used here.
type schedulerConfig struct {
	BetaSchedule      string  `json:"beta_schedule"`
	BetaStart         float64 `json:"beta_start"`
	BetaEnd           float64 `json:"beta_end"`
	NumTrainTimesteps int     `json:"num_train_timesteps"`
	PredictionType    string  `json:"prediction_type"`
}

// Open loads the diffusers ONNX pipeline in dir. Errors about the directory
// wrap runner.ErrModel and name the missing or bad part; an unavailable
// CUDA provider with Device "cuda" wraps ErrProvider. Init must have been
// called.
func Open(ctx context.Context, dir string, cfg Config) (*Runner, error) {
	if !onnxruntime.IsInitialized() {
		return nil, errors.New("ort: ONNX Runtime is not initialized; call Init first")
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	r := &Runner{dir: dir, cfg: cfg, log: log}
	if err := r.read(); err != nil {
		return nil, err
	}
	r.budget = unetBudget(cfg, r.weightBytes())
	opts, provider, err := sessionOptions(cfg, log)
	if err != nil {
		return nil, err
	}
	defer opts.Destroy()
	r.provider = provider
	for _, p := range r.parts() {
		if err := ctx.Err(); err != nil {
			r.Close()
			return nil, err
		}
		if p == nil {
			continue
		}
		if err := p.open(opts); err != nil {
			r.Close()
			return nil, err
		}
	}
	log.Info("model loaded", "dir", dir, "kind", r.kind, "provider", provider,
		"timestep", r.unet.in[1].String(), "input_ids", r.idsElem.String(), "vae_encoder", r.vaeEnc != nil)
	return r, nil
}

// read validates the layout and reads every config and model header.
func (r *Runner) read() error {
	if st, err := os.Stat(r.dir); err != nil || !st.IsDir() {
		return apierr.Model("%s: not a model directory", r.dir)
	}
	var index map[string]any
	if err := readJSON(filepath.Join(r.dir, "model_index.json"), &index); err != nil {
		return modelErr("model_index.json", "%v", err)
	}
	var err error
	if r.unet, err = readPart(r.dir, "unet", partSpec{
		inputs:   []string{"sample", "timestep", "encoder_hidden_states"},
		optional: []string{"text_embeds", "time_ids"},
		outputs:  [][]string{{"out_sample", "noise_pred", "sample_out"}},
	}); err != nil {
		return err
	}
	if len(r.unet.in) > 3 {
		if err := r.readXL(index); err != nil {
			return err
		}
	} else if r.text, err = readPart(r.dir, "text_encoder", partSpec{
		inputs: []string{"input_ids"}, outputs: [][]string{{"last_hidden_state"}},
	}); err != nil {
		return err
	}
	decDir, decName := r.dir, "vae_decoder"
	if r.cfg.VAEDir != "" {
		decDir = r.cfg.VAEDir
		if _, err := os.Stat(filepath.Join(decDir, "vae_decoder", "model.onnx")); err != nil {
			decDir, decName = filepath.Dir(r.cfg.VAEDir), filepath.Base(r.cfg.VAEDir)
		}
	}
	if r.vaeDec, err = readPart(decDir, decName, partSpec{
		inputs: []string{"latent_sample"}, outputs: [][]string{{"sample"}},
	}); err != nil {
		return err
	}
	encDir := r.dir
	if r.cfg.VAEDir != "" {
		encDir = r.cfg.VAEDir
	}
	if _, err := os.Stat(filepath.Join(encDir, "vae_encoder", "model.onnx")); err == nil {
		if r.vaeEnc, err = readPart(encDir, "vae_encoder", partSpec{
			inputs: []string{"sample"}, outputs: [][]string{{"latent_parameters", "latent_sample", "latent_dist"}},
		}); err != nil {
			return err
		}
		r.encMean = r.vaeEnc.out[0].Rank() == 4 && r.vaeEnc.out[0].Dims[1].Value == 8 || r.vaeEnc.out[0].Name == "latent_parameters"
	}
	if err := r.readVAEConfig(filepath.Join(decDir, decName, "config.json")); err != nil {
		return err
	}
	if r.xl == nil { // SDXL's tokenizers are read with their encoders
		if r.tok, err = clip.Load(filepath.Join(r.dir, "tokenizer")); err != nil {
			return apierr.Model("tokenizer: %w", err)
		}
	}
	if err := r.readScheduler(); err != nil {
		return err
	}
	return r.detect()
}

// detect checks the types of the parts and records the exporter variant.
func (r *Runner) detect() error {
	if r.xl == nil {
		ids := r.text.in[0]
		if ids.Elem != onnxpb.Int32 && ids.Elem != onnxpb.Int64 {
			return modelErr("text_encoder/model.onnx", "input_ids has type %v, want int32 or int64", ids.Elem)
		}
		r.idsElem = ids.Elem
		hs := r.text.out[0]
		if err := checkFloat("text_encoder/model.onnx", hs); err != nil {
			return err
		}
		if hs.Rank() != 3 || hs.Dims[2].IsSymbolic() || hs.Dims[2].Value <= 0 {
			return modelErr("text_encoder/model.onnx", "last_hidden_state %s has no fixed width", hs)
		}
		r.textDim = int(hs.Dims[2].Value)
	}
	for _, v := range []onnxpb.ValueInfo{r.unet.in[0], r.unet.in[2], r.unet.out[0]} {
		if err := checkFloat("unet/model.onnx", v); err != nil {
			return err
		}
	}
	if ehs := r.unet.in[2]; ehs.Rank() == 3 && !ehs.Dims[2].IsSymbolic() && int(ehs.Dims[2].Value) != r.textDim {
		return modelErr("unet/model.onnx", "encoder_hidden_states width %d does not match the text encoder's %d", ehs.Dims[2].Value, r.textDim)
	}
	var err error
	if r.timestep, err = detectTimestep(r.unet.in[1]); err != nil {
		return err
	}
	for _, v := range []onnxpb.ValueInfo{r.vaeDec.in[0], r.vaeDec.out[0]} {
		if err := checkFloat(r.vaeDec.name+"/model.onnx", v); err != nil {
			return err
		}
	}
	if r.vaeEnc != nil {
		for _, v := range []onnxpb.ValueInfo{r.vaeEnc.in[0], r.vaeEnc.out[0]} {
			if err := checkFloat("vae_encoder/model.onnx", v); err != nil {
				return err
			}
		}
	}
	r.kind = "SD1"
	switch {
	case r.xl != nil:
		r.kind = "SDXL"
		if err := r.detectXL(); err != nil {
			return err
		}
	case r.vpred || r.textDim == 1024:
		r.kind = "SD2"
	}
	if r.latentScale == 0 {
		r.latentScale = latentScale
		if r.xl != nil {
			r.latentScale = latentScaleXL
		}
	}
	return nil
}

// readVAEConfig takes scaling_factor from the VAE decoder's config.json
// (optimum writes one per part); a missing file leaves the family's.
func (r *Runner) readVAEConfig(path string) error {
	if _, err := os.Stat(path); err != nil {
		return nil
	}
	var c struct {
		ScalingFactor *float64 `json:"scaling_factor"`
	}
	if err := readJSON(path, &c); err != nil {
		return modelErr(filepath.Base(filepath.Dir(path))+"/config.json", "%v", err)
	}
	if c.ScalingFactor != nil {
		if !(*c.ScalingFactor > 0) {
			return modelErr(filepath.Base(filepath.Dir(path))+"/config.json", "scaling_factor %g is not positive", *c.ScalingFactor)
		}
		r.latentScale = float32(*c.ScalingFactor)
	}
	return nil
}

// parts are the loaded parts in load order (nil ones skipped by callers).
func (r *Runner) parts() []*part {
	ps := []*part{r.text, r.unet, r.vaeDec, r.vaeEnc}
	if r.xl != nil {
		ps = append(ps, r.xl.enc2.part)
	}
	return ps
}

func (r *Runner) readScheduler() error {
	const rel = "scheduler/scheduler_config.json"
	sc := schedulerConfig{BetaSchedule: "scaled_linear", BetaStart: 0.00085, BetaEnd: 0.012, NumTrainTimesteps: 1000, PredictionType: "epsilon"}
	if err := readJSON(filepath.Join(r.dir, "scheduler", "scheduler_config.json"), &sc); err != nil {
		return modelErr(rel, "%v", err)
	}
	switch sc.PredictionType {
	case "epsilon", "":
	case "v_prediction":
		r.vpred = true
	default:
		return modelErr(rel, "prediction_type %q is not supported (want epsilon or v_prediction)", sc.PredictionType)
	}
	s, err := sampling.NewScheduleFromConfig(sc.BetaSchedule, sc.BetaStart, sc.BetaEnd, sc.NumTrainTimesteps)
	if err != nil {
		return modelErr(rel, "%v", err)
	}
	r.sched = s
	return nil
}

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("missing (%w)", err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("malformed JSON: %w", err)
	}
	return nil
}

// Provider returns the execution provider in use: "cpu" or "cuda".
func (r *Runner) Provider() string { return r.provider }

// Model describes the loaded pipeline. Its hashes are left empty: a
// model's identity (A1111's title and hash) is the catalog's to compute,
// once per file set, and processing fills them in.
func (r *Runner) Model() runner.ModelInfo {
	info := runner.ModelInfo{Name: filepath.Base(filepath.Clean(r.dir)), Path: r.dir, Kind: r.kind, EmbeddingWidth: r.textDim}
	if r.cfg.VAEDir != "" {
		info.VAE = filepath.Base(filepath.Clean(r.cfg.VAEDir))
	}
	return info
}

// Close destroys the sessions. It waits for a running Generate to finish.
func (r *Runner) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, p := range r.parts() {
		p.close()
	}
	r.closeTiled()
	r.closeAnySize()
	r.closeHidden()
	r.patches.clear()
	return nil
}
