package processing

import (
	"context"
	"errors"
	"fmt"
	"image"
	"maps"
	"slices"
	"strings"

	"github.com/sdapi/sdapi/internal/apierr"
)

// Script resolution errors. Both are 422s in A1111 with an HTTPException
// body (apierr.KindScript); ScriptError.Detail gives the exact detail
// string.
var (
	// ErrScriptNotFound wraps a script_name, or an alwayson_scripts key,
	// that names no registered script (A1111: "Script '<name>' not found").
	ErrScriptNotFound = errors.New("script not found")
	// ErrSelectableAlwaysOn wraps an alwayson_scripts key that names a
	// selectable script.
	ErrSelectableAlwaysOn = errors.New("selectable script in the always on scripts params")
)

// ScriptError is a script resolution error. It matches ErrScriptNotFound
// or ErrSelectableAlwaysOn with errors.Is.
type ScriptError struct {
	Name string
	Err  error
}

func (e *ScriptError) Error() string   { return fmt.Sprintf("script %q: %v", e.Name, e.Err) }
func (e *ScriptError) Unwrap() []error { return []error{e.Err, apierr.KindScript} }

// Detail is A1111's HTTPException detail for the error.
func (e *ScriptError) Detail() string {
	if errors.Is(e.Err, ErrSelectableAlwaysOn) {
		return "Cannot have a selectable script in the always on scripts params"
	}
	return fmt.Sprintf("Script '%s' not found", e.Name)
}

// ArgInfo is one script argument as /sdapi/v1/script-info reports it
// (A1111's ScriptArg, read from the gradio control): nil fields are null.
type ArgInfo struct {
	Label   string
	Value   any
	Minimum any
	Maximum any
	Step    any
	Choices []string
}

// ScriptInfo is one entry of /sdapi/v1/script-info.
type ScriptInfo struct {
	Name       string // the lower-cased title
	IsAlwaysOn bool
	IsImg2Img  bool
	Args       []ArgInfo
}

// Script is an A1111 script. Selectable scripts also implement
// SelectableScript; always-on scripts implement any of the hook interfaces
// (BeforeProcessHook, BeforeBatchHook, AfterImageHook, AfterProcessHook).
type Script interface {
	// Title is the script's title; requests name it case-insensitively.
	Title() string
	// Show reports whether the script exists for mode (A1111's show).
	Show(mode Mode) bool
	// AlwaysOn reports whether the script is always-on.
	AlwaysOn() bool
	// Args describes the script's arguments, in the order Run (or the
	// hooks) receive them, with their default values.
	Args(mode Mode) []ArgInfo
}

// UILessScript is a script whose A1111 ui() returns None (Comments,
// Hypertile): it has no api_info, so /sdapi/v1/script-info leaves it out,
// and /sdapi/v1/scripts lists it only under its class-level name
// attribute, as written (not lower-cased), or not at all when that is "".
// Requests still name it by its title.
type UILessScript interface {
	Script
	ClassName() string
}

// SelectableScript is a script chosen with script_name: it replaces the
// job and calls env.Process as often as it needs.
type SelectableScript interface {
	Script
	// Run runs the script. args has one value per Args entry (the
	// request's script_args, defaults for those it left out), as decoded
	// from JSON (float64, string, bool, []any, nil).
	Run(ctx context.Context, env ScriptEnv, p Params, args []any) (*Processed, error)
}

// BeforeProcessHook is A1111's Script.before_process/process: called at
// the start of every Process call, before override_settings apply; it may
// change the parameters.
type BeforeProcessHook interface {
	BeforeProcess(ctx context.Context, p *Params, args []any) error
}

// JobPrompts are a job's per-image prompts as A1111's Script.process sees
// them (p.all_prompts, p.all_negative_prompts and, with hires fix,
// p.all_hr_prompts, p.all_hr_negative_prompts): styles applied, one entry
// per image. A ProcessHook may rewrite them; what it leaves is what is
// sampled and what the infotexts and info report.
type JobPrompts struct {
	Prompts, NegativePrompts     []string
	HRPrompts, HRNegativePrompts []string
}

// ProcessHook is A1111's Script.process: called once per Process call
// after the prompts and seeds are set up (and override_settings applied),
// before the first batch.
type ProcessHook interface {
	ProcessJob(ctx context.Context, env ScriptEnv, p *Params, jp *JobPrompts, args []any) error
}

// BatchInfo describes the batch BeforeBatchHook is called for.
type BatchInfo struct {
	Index           int
	Prompts         []string
	NegativePrompts []string
	Seeds           []int64
	Subseeds        []int64
}

// BeforeBatchHook is A1111's before_process_batch.
type BeforeBatchHook interface {
	BeforeBatch(ctx context.Context, p *Params, b BatchInfo, args []any) error
}

// AfterImageHook is A1111's postprocess_image: it may replace the image
// (index counts the job's images from 0) before its infotext is written
// and it is saved.
type AfterImageHook interface {
	AfterImage(ctx context.Context, p *Params, index int, img image.Image, args []any) (image.Image, error)
}

// AfterProcessHook is A1111's postprocess: called with the job's result.
type AfterProcessHook interface {
	AfterProcess(ctx context.Context, p *Params, res *Processed, args []any) error
}

// ScriptEnv is what a selectable script may use besides its parameters.
type ScriptEnv interface {
	// Process is Processor.Process: the only way a script reaches the
	// runner.
	Process(ctx context.Context, p Params) (*Processed, error)
	// FixSeed is get_fixed_seed with the processor's random source.
	FixSeed(seed int64) int64
	// Interrupted reports whether /interrupt stopped the job (A1111's
	// state.interrupted) during the script's last Process call or since;
	// scripts check it between Process calls (before the first one it may
	// still report an earlier job), since each Process call starts with
	// the flag cleared.
	Interrupted() bool
	// ClosestCheckpoint is get_closet_checkpoint_match: the model name of
	// the checkpoint name means (an alias, or the shortest title holding
	// it), false when none.
	ClosestCheckpoint(name string) (string, bool)
	// VAENames lists the installed VAEs (sd_vae.vae_dict's keys); none
	// when the model provider cannot list them.
	VAENames() []string
	// Bool and Number read an option, def when unset or of another type.
	Bool(key string, def bool) bool
	Number(key string, def float64) float64
	// CheckUpscale is Limits.CheckUpscale with the processor's limits:
	// scripts that upscale outside Process (SD upscale) call it first.
	CheckUpscale(loc []any, by string, w, h int, scale float64) error
	// CheckImages is Limits.CheckImages with the processor's limits:
	// images a script will make, counted before it allocates them.
	CheckImages(loc []any, what string, n float64) error
}

// Scripts is the explicit script registry a Processor holds. It is
// read-only after NewScripts and safe for concurrent use.
type Scripts struct {
	list []Script
}

// NewScripts registers scripts in the order given, which is the order of
// /sdapi/v1/scripts and /sdapi/v1/script-info. As in A1111, a name that
// repeats resolves to the first script with that title.
func NewScripts(scripts ...Script) *Scripts {
	return &Scripts{list: append([]Script(nil), scripts...)}
}

// Titles lists the lower-cased titles of the scripts shown in mode,
// selectable and always-on alike, as /sdapi/v1/scripts does.
func (s *Scripts) Titles(mode Mode) []string {
	out := []string{}
	if s == nil {
		return out
	}
	for _, sc := range s.list {
		if !sc.Show(mode) {
			continue
		}
		if u, ok := sc.(UILessScript); ok {
			if name := u.ClassName(); name != "" {
				out = append(out, name)
			}
			continue
		}
		out = append(out, strings.ToLower(sc.Title()))
	}
	return out
}

// Infos lists every script's info, the txt2img scripts then the img2img
// ones, as /sdapi/v1/script-info does.
func (s *Scripts) Infos() []ScriptInfo {
	out := []ScriptInfo{}
	if s == nil {
		return out
	}
	for _, mode := range []Mode{Txt2Img, Img2Img} {
		for _, sc := range s.list {
			if _, uiless := sc.(UILessScript); uiless || !sc.Show(mode) {
				continue
			}
			out = append(out, ScriptInfo{
				Name:       strings.ToLower(sc.Title()),
				IsAlwaysOn: sc.AlwaysOn(),
				IsImg2Img:  mode == Img2Img,
				Args:       sc.Args(mode),
			})
		}
	}
	return out
}

// find is script_name_to_index over the scripts shown in mode (selectable
// only when selectable is true): the index in s.list of the first script
// whose lower-cased title is name lower-cased.
func (s *Scripts) find(name string, mode Mode, selectable bool) (int, error) {
	if s != nil {
		for i, sc := range s.list {
			if !sc.Show(mode) || (selectable && sc.AlwaysOn()) {
				continue
			}
			if strings.ToLower(sc.Title()) == strings.ToLower(name) {
				return i, nil
			}
		}
	}
	return -1, &ScriptError{Name: name, Err: ErrScriptNotFound}
}

// Selectable resolves a script_name for mode as A1111's
// get_selectable_script does. It returns nil, nil for an empty name and a
// *ScriptError wrapping ErrScriptNotFound for an unknown one.
func (s *Scripts) Selectable(name string, mode Mode) (SelectableScript, error) {
	if name == "" {
		return nil, nil
	}
	i, err := s.find(name, mode, true)
	if err != nil {
		return nil, err
	}
	sel, ok := s.list[i].(SelectableScript)
	if !ok {
		return nil, &ScriptError{Name: name, Err: ErrScriptNotFound}
	}
	return sel, nil
}

// boundScript is an always-on script with the arguments of one job.
type boundScript struct {
	s    Script
	args []any
}

// alwaysOnSet holds a job's always-on scripts in registry order.
type alwaysOnSet []boundScript

// alwaysOn resolves the always-on scripts of a job as A1111's
// init_script_args does: every always-on script shown in the mode runs,
// with its default arguments overwritten position by position by
// alwayson_scripts[<title>]["args"]. A key naming no script is
// ErrScriptNotFound, a key naming a selectable script
// ErrSelectableAlwaysOn.
func (s *Scripts) alwaysOn(p *Params) (alwaysOnSet, error) {
	given := map[int][]any{} // by registry index: scripts need not be comparable
	for _, name := range slices.Sorted(maps.Keys(p.AlwaysonScripts)) {
		i, err := s.find(name, p.Mode, false)
		if err != nil {
			return nil, err
		}
		if !s.list[i].AlwaysOn() {
			return nil, &ScriptError{Name: name, Err: ErrSelectableAlwaysOn}
		}
		if m, ok := p.AlwaysonScripts[name].(map[string]any); ok {
			if a, ok := m["args"].([]any); ok {
				given[i] = a
			}
		}
	}
	if s == nil {
		return nil, nil
	}
	var set alwaysOnSet
	for n, sc := range s.list {
		if !sc.AlwaysOn() || !sc.Show(p.Mode) {
			continue
		}
		args := defaultArgs(sc.Args(p.Mode))
		for i, a := range given[n] {
			if i < len(args) {
				args[i] = a
			}
		}
		set = append(set, boundScript{s: sc, args: args})
	}
	return set, nil
}

func defaultArgs(infos []ArgInfo) []any {
	args := make([]any, len(infos))
	for i, a := range infos {
		args[i] = a.Value
	}
	return args
}

func (set alwaysOnSet) beforeProcess(ctx context.Context, p *Params) error {
	for _, b := range set {
		if h, ok := b.s.(BeforeProcessHook); ok {
			if err := h.BeforeProcess(ctx, p, b.args); err != nil {
				return fmt.Errorf("script %s: before process: %w", b.s.Title(), err)
			}
		}
	}
	return nil
}

// process runs the ProcessHooks on the job's prompts.
func (set alwaysOnSet) process(ctx context.Context, env ScriptEnv, p *Params, j *job) error {
	jp := JobPrompts{Prompts: j.allPrompts, NegativePrompts: j.allNegative, HRPrompts: j.allHRPrompts, HRNegativePrompts: j.allHRNegative}
	for _, b := range set {
		if h, ok := b.s.(ProcessHook); ok {
			if err := h.ProcessJob(ctx, env, p, &jp, b.args); err != nil {
				return fmt.Errorf("script %s: process: %w", b.s.Title(), err)
			}
		}
	}
	j.allPrompts, j.allNegative, j.allHRPrompts, j.allHRNegative = jp.Prompts, jp.NegativePrompts, jp.HRPrompts, jp.HRNegativePrompts
	return nil
}

func (set alwaysOnSet) beforeBatch(ctx context.Context, p *Params, bi BatchInfo) error {
	for _, b := range set {
		if h, ok := b.s.(BeforeBatchHook); ok {
			if err := h.BeforeBatch(ctx, p, bi, b.args); err != nil {
				return fmt.Errorf("script %s: before batch %d: %w", b.s.Title(), bi.Index, err)
			}
		}
	}
	return nil
}

func (set alwaysOnSet) afterImage(ctx context.Context, p *Params, index int, img image.Image) (image.Image, error) {
	for _, b := range set {
		if h, ok := b.s.(AfterImageHook); ok {
			out, err := h.AfterImage(ctx, p, index, img, b.args)
			if err != nil {
				return nil, fmt.Errorf("script %s: after image %d: %w", b.s.Title(), index, err)
			}
			if out != nil {
				img = out
			}
		}
	}
	return img, nil
}

func (set alwaysOnSet) afterProcess(ctx context.Context, p *Params, res *Processed) error {
	for _, b := range set {
		if h, ok := b.s.(AfterProcessHook); ok {
			if err := h.AfterProcess(ctx, p, res, b.args); err != nil {
				return fmt.Errorf("script %s: after process: %w", b.s.Title(), err)
			}
		}
	}
	return nil
}

// Job is a generation request whose rules are decided: Prepare resolved
// its selectable script and its always-on scripts and checked its limits,
// and RunJob trusts that. Params may still take the images the server
// decodes after the checks (init images, mask, firstpass image).
type Job struct {
	Params   Params
	script   SelectableScript // nil: plain process_images
	alwaysOn alwaysOnSet
}

// Prepare is what text2imgapi/img2imgapi decide before the queue lock: it
// resolves p.ScriptName among the selectable scripts of p.Mode and
// p.AlwaysonScripts (errors are *ScriptError values) and checks the
// limits. Each of those rules is decided here only.
func (pr *Processor) Prepare(p Params) (*Job, error) {
	var name string
	if p.ScriptName != nil {
		name = *p.ScriptName
	}
	sel, err := pr.Scripts.Selectable(name, p.Mode)
	if err != nil {
		return nil, err
	}
	alwaysOn, err := pr.Scripts.alwaysOn(&p)
	if err != nil {
		return nil, err
	}
	if err := pr.Limits.Check(p); err != nil {
		return nil, err
	}
	return &Job{Params: p, script: sel, alwaysOn: alwaysOn}, nil
}

// RunJob runs a prepared job: its selectable script, which calls Process,
// or process_images itself. The result's Raw are the images the script
// assembled; the server encodes them for the response.
func (pr *Processor) RunJob(ctx context.Context, j *Job) (*Processed, error) {
	if j.script == nil {
		return pr.process(ctx, j.Params, j.alwaysOn)
	}
	args := defaultArgs(j.script.Args(j.Params.Mode))
	for i, a := range j.Params.ScriptArgs {
		if i < len(args) {
			args[i] = a
		}
	}
	res, err := j.script.Run(ctx, scriptEnv{pr: pr, made: new(int), alwaysOn: j.alwaysOn}, j.Params, args)
	if err != nil {
		return nil, err
	}
	if res == nil {
		return nil, fmt.Errorf("script %s returned no result", j.script.Title())
	}
	return res, nil
}

// Run is Prepare and RunJob in one, for callers that need not decide
// anything between them.
func (pr *Processor) Run(ctx context.Context, p Params) (*Processed, error) {
	j, err := pr.Prepare(p)
	if err != nil {
		return nil, err
	}
	return pr.RunJob(ctx, j)
}

// scriptEnv is the ScriptEnv of a Processor for one script run.
type scriptEnv struct {
	pr *Processor
	// alwaysOn are the job's always-on scripts, resolved once by Prepare
	// (or Process) and run on every job the script makes.
	alwaysOn alwaysOnSet
	// made counts the images the script's jobs asked for so far; scripts
	// run their jobs one after another, so a plain counter is enough.
	made *int
}

func (e scriptEnv) Process(ctx context.Context, p Params) (*Processed, error) {
	// Scripts rewrite Params (X/Y/Z plot's Size and Steps axes, SD
	// upscale's tiles), so each job they run is checked on its own, and
	// all of them together against the images-per-request limit.
	if err := e.pr.Limits.Check(p); err != nil {
		return nil, err
	}
	if err := e.pr.Limits.checkImages(p, *e.made); err != nil {
		return nil, err
	}
	*e.made += max(p.BatchSize, 1) * max(p.NIter, 1)
	return e.pr.process(ctx, p, e.alwaysOn)
}
func (e scriptEnv) FixSeed(seed int64) int64 { return FixedSeed(seed, e.pr.Rand) }
func (e scriptEnv) CheckImages(loc []any, what string, n float64) error {
	return e.pr.Limits.CheckImages(loc, what, n)
}
func (e scriptEnv) CheckUpscale(loc []any, by string, w, h int, scale float64) error {
	return e.pr.Limits.CheckUpscale(loc, by, w, h, scale)
}
func (e scriptEnv) Interrupted() bool {
	return e.pr.State != nil && e.pr.State.Interrupted()
}
func (e scriptEnv) ClosestCheckpoint(name string) (string, bool) {
	if c, ok := e.pr.Models.(interface {
		ClosestCheckpoint(string) (string, bool)
	}); ok {
		return c.ClosestCheckpoint(name)
	}
	if e.pr.Models != nil && e.pr.Models.HasCheckpoint(name) {
		return name, true
	}
	return "", false
}
func (e scriptEnv) VAENames() []string {
	if l, ok := e.pr.Models.(interface{ VAENames() []string }); ok {
		return l.VAENames()
	}
	return nil
}
func (e scriptEnv) Bool(key string, def bool) bool {
	return optReader{e.pr}.boolean(key, def)
}
func (e scriptEnv) Number(key string, def float64) float64 {
	return optReader{e.pr}.num(key, def)
}
