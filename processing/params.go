package processing

import "image"

// Mode says which endpoint a job came from.
type Mode int

// The generation modes.
const (
	Txt2Img Mode = iota
	Img2Img
)

// String returns "txt2img" or "img2img".
func (m Mode) String() string {
	if m == Img2Img {
		return "img2img"
	}
	return "txt2img"
}

// Params is one generation request with A1111 1.10's fields
// (StableDiffusionProcessing, its Txt2Img and Img2Img subclasses and the
// API-only fields of modules/api/models.py). DefaultTxt2Img and
// DefaultImg2Img fill in A1111's API defaults; a pointer field is nil where
// A1111's value is None and None means something other than any value.
//
// The server converts the decoded request into Params and records in Set
// which JSON keys the request carried, so that ApplyInfotext can fill only
// the others, as A1111's apply_infotext does with exclude_unset.
type Params struct {
	Mode Mode
	// Set holds the request's keys (JSON names) that were present.
	Set map[string]bool

	Prompt         string
	NegativePrompt string
	// Prompts and NegativePrompts, when not nil, are A1111's list-valued
	// prompt and negative_prompt: one entry per image.
	Prompts         []string
	NegativePrompts []string
	Styles          []string

	// Seed and Subseed are -1 for a random seed (null keeps -1, as
	// get_fixed_seed treats None).
	Seed int64
	// Seeds, when not nil, is A1111's list-valued seed: one seed per
	// image, used as all_seeds as given (scripts set it).
	Seeds           []int64
	Subseed         int64
	SubseedStrength float64
	SeedResizeFromH int
	SeedResizeFromW int

	SamplerName  *string
	SamplerIndex string // API-only legacy alias, default "Euler"
	Scheduler    *string

	BatchSize int
	NIter     int
	Steps     int
	CFGScale  float64
	Width     int
	Height    int

	RestoreFaces *bool // nil: opts.face_restoration
	Tiling       *bool // nil: opts.tiling

	DoNotSaveSamples bool
	DoNotSaveGrid    bool

	Eta               *float64
	DenoisingStrength *float64 // nil for txt2img (A1111 1.10's API default)

	SMinUncond *float64
	SChurn     *float64
	STmax      *float64
	STmin      *float64
	SNoise     *float64

	OverrideSettings                  map[string]any
	OverrideSettingsRestoreAfterwards bool

	RefinerCheckpoint    *string
	RefinerSwitchAt      *float64
	DisableExtraNetworks bool
	FirstpassImage       image.Image
	Comments             map[string]any

	// txt2img (StableDiffusionProcessingTxt2Img).
	EnableHR          bool
	FirstphaseWidth   int
	FirstphaseHeight  int
	HRScale           float64
	HRUpscaler        *string
	HRSecondPassSteps int
	HRResizeX         int
	HRResizeY         int
	HRCheckpointName  *string
	HRSamplerName     *string
	HRScheduler       *string
	HRPrompt          string
	HRNegativePrompt  string
	ForceTaskID       *string

	// img2img (StableDiffusionProcessingImg2Img).
	InitImages             []image.Image
	ResizeMode             int
	ImageCFGScale          *float64
	Mask                   image.Image
	MaskBlurX              int
	MaskBlurY              int
	MaskBlur               *int
	MaskRound              bool
	InpaintingFill         int
	InpaintFullRes         bool
	InpaintFullResPadding  int
	InpaintingMaskInvert   int
	InitialNoiseMultiplier *float64
	IncludeInitImages      bool
	// LatentMask is A1111's p.latent_mask, set by scripts (outpainting),
	// never by a request: when not nil it replaces the prepared Mask for
	// the masked-content fill and the latent mask, while Mask still gives
	// the overlay. It is used as is (no blur, no resize): width×height.
	LatentMask image.Image

	// API-only fields.
	ScriptName      *string
	ScriptArgs      []any
	SaveImages      bool
	AlwaysonScripts map[string]any
	Infotext        *string
}

// DefaultTxt2Img returns A1111 1.10's StableDiffusionTxt2ImgProcessingAPI
// defaults. As the API model takes the base class default where both
// classes declare a field, denoising_strength is nil, not 0.75.
func DefaultTxt2Img() Params {
	p := defaultBase()
	p.Mode = Txt2Img
	p.HRScale = 2.0
	return p
}

// DefaultImg2Img returns A1111 1.10's StableDiffusionImg2ImgProcessingAPI
// defaults.
func DefaultImg2Img() Params {
	p := defaultBase()
	p.Mode = Img2Img
	ds := 0.75
	p.DenoisingStrength = &ds
	p.MaskBlurX, p.MaskBlurY = 4, 4
	p.MaskRound = true
	p.InpaintFullRes = true
	return p
}

func defaultBase() Params {
	return Params{
		Set:                               map[string]bool{},
		Styles:                            []string{},
		Seed:                              -1,
		Subseed:                           -1,
		SeedResizeFromH:                   -1,
		SeedResizeFromW:                   -1,
		SamplerIndex:                      "Euler",
		BatchSize:                         1,
		NIter:                             1,
		Steps:                             50,
		CFGScale:                          7.0,
		Width:                             512,
		Height:                            512,
		OverrideSettingsRestoreAfterwards: true,
	}
}

// isSet reports whether the request carried key.
func (p *Params) isSet(key string) bool { return p.Set != nil && p.Set[key] }

// markSet records key as present.
func (p *Params) markSet(key string) {
	if p.Set == nil {
		p.Set = map[string]bool{}
	}
	p.Set[key] = true
}
