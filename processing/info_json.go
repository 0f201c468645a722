package processing

import (
	"fmt"
	"image"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/sdapi/sdapi/internal/pyfmt"
)

// Processed is A1111's Processed: the images of a job and what the info
// string reports about them.
type Processed struct {
	// Infotexts has one infotext per image of Raw, in its order (A1111's
	// image.info["parameters"] when enable_pnginfo is on).
	Infotexts []string
	// Saved lists the files written for save_images, relative to OutputDir.
	Saved []string
	// Raw are the images, grid first when one was returned; scripts read
	// and assemble them, and the API encodes them (server).
	Raw []image.Image

	AllPrompts         []string
	AllNegativePrompts []string
	Seed               int64
	AllSeeds           []int64
	Subseed            int64
	AllSubseeds        []int64
	// SubseedStrength is written as a Python float unless the request left
	// it at the default int 0 (SubseedStrengthSet false).
	SubseedStrength    float64
	SubseedStrengthSet bool
	Width, Height      int
	SamplerName        string
	CFGScale           float64
	Steps              int
	BatchSize          int
	RestoreFaces       bool
	// FaceRestorationModel is nil unless RestoreFaces.
	FaceRestorationModel *string
	SDModelName          *string
	SDModelHash          *string
	SDVAEName            *string
	SDVAEHash            *string
	SeedResizeFromW      int
	SeedResizeFromH      int
	DenoisingStrength    *float64
	// ExtraGenerationParams is p.extra_generation_params in insertion order.
	ExtraGenerationParams *OrderedParams
	IndexOfFirstImage     int
	Styles                []string
	JobTimestamp          string
	ClipSkip              int
	// IsUsingInpaintingConditioning is true for inpainting models.
	IsUsingInpaintingConditioning bool
	Version                       *string
}

// JS is A1111's Processed.js(): the info string, a JSON object with its
// keys in A1111's order, encoded as Python's json.dumps does (", " and ": "
// separators, ASCII-only output, 7.0 for floats).
func (p *Processed) JS() string {
	prompt, negative := "", ""
	if len(p.AllPrompts) > 0 {
		prompt = p.AllPrompts[0]
	}
	if len(p.AllNegativePrompts) > 0 {
		negative = p.AllNegativePrompts[0]
	}
	var strength any = p.SubseedStrength
	if !p.SubseedStrengthSet && p.SubseedStrength == 0 {
		strength = 0
	}
	var denoise any
	if p.DenoisingStrength != nil {
		denoise = *p.DenoisingStrength
	}
	extra := p.ExtraGenerationParams
	if extra == nil {
		extra = &OrderedParams{}
	}
	obj := OrderedParams{}
	obj.Set("prompt", prompt)
	obj.Set("all_prompts", p.AllPrompts)
	obj.Set("negative_prompt", negative)
	obj.Set("all_negative_prompts", p.AllNegativePrompts)
	obj.Set("seed", p.Seed)
	obj.Set("all_seeds", p.AllSeeds)
	obj.Set("subseed", p.Subseed)
	obj.Set("all_subseeds", p.AllSubseeds)
	obj.Set("subseed_strength", strength)
	obj.Set("width", p.Width)
	obj.Set("height", p.Height)
	obj.Set("sampler_name", p.SamplerName)
	obj.Set("cfg_scale", p.CFGScale)
	obj.Set("steps", p.Steps)
	obj.Set("batch_size", p.BatchSize)
	obj.Set("restore_faces", p.RestoreFaces)
	obj.Set("face_restoration_model", p.FaceRestorationModel)
	obj.Set("sd_model_name", p.SDModelName)
	obj.Set("sd_model_hash", p.SDModelHash)
	obj.Set("sd_vae_name", p.SDVAEName)
	obj.Set("sd_vae_hash", p.SDVAEHash)
	obj.Set("seed_resize_from_w", p.SeedResizeFromW)
	obj.Set("seed_resize_from_h", p.SeedResizeFromH)
	obj.Set("denoising_strength", denoise)
	obj.Set("extra_generation_params", extra)
	obj.Set("index_of_first_image", p.IndexOfFirstImage)
	obj.Set("infotexts", p.Infotexts)
	obj.Set("styles", p.Styles)
	obj.Set("job_timestamp", p.JobTimestamp)
	obj.Set("clip_skip", p.ClipSkip)
	obj.Set("is_using_inpainting_conditioning", p.IsUsingInpaintingConditioning)
	obj.Set("version", p.Version)
	var b strings.Builder
	writePyJSON(&b, &obj)
	return b.String()
}

// OrderedParams is a string-keyed map that keeps insertion order, like the
// Python dicts A1111 serialises. Overwriting a key keeps its position.
type OrderedParams struct {
	keys   []string
	values map[string]any
}

// Set stores v under key.
func (o *OrderedParams) Set(key string, v any) {
	if o.values == nil {
		o.values = map[string]any{}
	}
	if _, ok := o.values[key]; !ok {
		o.keys = append(o.keys, key)
	}
	o.values[key] = v
}

// Get returns the value under key.
func (o *OrderedParams) Get(key string) (any, bool) {
	v, ok := o.values[key]
	return v, ok
}

// Keys returns the keys in insertion order.
func (o *OrderedParams) Keys() []string { return append([]string(nil), o.keys...) }

// Len returns the number of keys.
func (o *OrderedParams) Len() int { return len(o.keys) }

// writePyJSON encodes v as Python's json.dumps(v) with default settings.
// Values it does not know become null, as js()'s default=lambda o: None.
func writePyJSON(b *strings.Builder, v any) {
	switch x := v.(type) {
	case nil:
		b.WriteString("null")
	case bool:
		if x {
			b.WriteString("true")
		} else {
			b.WriteString("false")
		}
	case string:
		writePyJSONString(b, x)
	case *string:
		if x == nil {
			b.WriteString("null")
		} else {
			writePyJSONString(b, *x)
		}
	case int:
		b.WriteString(strconv.Itoa(x))
	case int64:
		b.WriteString(strconv.FormatInt(x, 10))
	case float64:
		b.WriteString(pyfmt.Float(x))
	case *float64:
		if x == nil {
			b.WriteString("null")
		} else {
			b.WriteString(pyfmt.Float(*x))
		}
	case []string:
		b.WriteByte('[')
		for i, s := range x {
			if i > 0 {
				b.WriteString(", ")
			}
			writePyJSONString(b, s)
		}
		b.WriteByte(']')
	case []int64:
		b.WriteByte('[')
		for i, n := range x {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(strconv.FormatInt(n, 10))
		}
		b.WriteByte(']')
	case []any:
		b.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				b.WriteString(", ")
			}
			writePyJSON(b, e)
		}
		b.WriteByte(']')
	case *OrderedParams:
		b.WriteByte('{')
		for i, k := range x.keys {
			if i > 0 {
				b.WriteString(", ")
			}
			writePyJSONString(b, k)
			b.WriteString(": ")
			writePyJSON(b, x.values[k])
		}
		b.WriteByte('}')
	default:
		b.WriteString("null")
	}
}

// writePyJSONString writes s as json.dumps does with ensure_ascii=True.
func writePyJSONString(b *strings.Builder, s string) {
	b.WriteByte('"')
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		default:
			switch {
			case r < 0x20 || (r > 0x7f && r <= 0xffff):
				fmt.Fprintf(b, `\u%04x`, r)
			case r > 0xffff:
				r -= 0x10000
				fmt.Fprintf(b, `\u%04x\u%04x`, 0xd800+(r>>10), 0xdc00+(r&0x3ff))
			default:
				b.WriteRune(r)
			}
		}
	}
	b.WriteByte('"')
}
