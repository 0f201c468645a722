package ort

// SDXL base as optimum exports it: text_encoder (CLIP-L) and
// text_encoder_2 (OpenCLIP ViT-bigG with projection) exported with
// output_hidden_states, a UNet with the extra inputs text_embeds and
// time_ids, tokenizer_2 padding with "!" (id 0).
//
// A1111 1.10 (modules/sd_models_xl.py get_learned_conditioning,
// modules/sd_hijack_clip.py, modules/sd_hijack_open_clip.py, sgm's
// GeneralConditioner):
//   - each encoder tokenizes the prompt in 75-token chunks with emphasis
//     (FrozenCLIPEmbedderWithCustomWordsBase), CLIP-L padding with EOS and
//     CLIP-G with 0;
//   - CLIP-L gives hidden_states[11] of 12 layers (the penultimate, no final
//     layer norm), or hidden_states[-CLIP_stop_at_last_layers] with
//     sdxl_clip_l_skip; CLIP-G gives its penultimate hidden state and the
//     pooled, projected output of the first chunk;
//   - emphasis multiplies each encoder's rows and restores the mean, per
//     chunk; the two are concatenated on the feature axis (768+1280);
//   - time_ids are [height, width, sdxl_crop_top, sdxl_crop_left, height,
//     width] of the batch being sampled;
//   - a negative-prompt batch whose prompts are all "" gets zero text
//     conditioning, crossattn and pooled (force_zero_embeddings=['txt']).
//
// A refiner export has only text_encoder_2 (1280-wide conditioning) and
// time_ids [height, width, crop top, crop left, aesthetic score], the score
// sdxl_refiner_high_aesthetic_score for prompts and the low one for
// negative prompts (refiner.go switches a run to it).

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	onnxruntime "github.com/yalue/onnxruntime_go"

	"github.com/sdapi/sdapi/internal/apierr"
	"github.com/sdapi/sdapi/runner/clip"
	"github.com/sdapi/sdapi/runner/onnxgen/onnxpb"
)

// xlModel is the SDXL part of a Runner: the encoders and the widths.
type xlModel struct {
	// enc1 is CLIP-L; its part is nil in a refiner, which has only enc2.
	enc1, enc2 textEncoder
	pooledDim  int // text_embeds width
	timeIDs    int // time_ids width: 6 (base) or 5 (refiner)
}

// refiner reports whether the model is an SDXL refiner: no first text
// encoder, the aesthetic score in time_ids.
func (x *xlModel) refiner() bool { return x.enc1.part == nil }

// textEncoder is one SDXL text encoder: its part (outputs: for enc1 every
// hidden state, for enc2 text_embeds then the penultimate one), tokenizer
// and widths. Embedding overrides (textual inversion) plug in per encoder
// here.
type textEncoder struct {
	part    *part
	tok     *clip.Tokenizer
	dim     int
	idsElem onnxpb.DataType
	layers  int // hidden_states.<layers> is the last layer's output
	pooled  bool
}

// hiddenOutputs returns the highest N of the hidden_states.N outputs.
func hiddenOutputs(outs []onnxpb.ValueInfo) int {
	n := -1
	for _, v := range outs {
		if s, ok := strings.CutPrefix(v.Name, "hidden_states."); ok {
			if i, err := strconv.Atoi(s); err == nil {
				n = max(n, i)
			}
		}
	}
	return n
}

// readEncoder reads an SDXL text encoder: every hidden state (all) or
// text_embeds and the penultimate hidden state.
func (r *Runner) readEncoder(name, tokDir string, all bool) (textEncoder, error) {
	rel := name + "/model.onnx"
	var e textEncoder
	_, outs, err := onnxpb.ReadIO(filepath.Join(r.dir, name, "model.onnx"))
	if err != nil {
		return e, modelErr(rel, "unreadable or missing: %v", err)
	}
	e.layers = hiddenOutputs(outs)
	if e.layers < 1 {
		return e, modelErr(rel, "no hidden_states.N outputs: SDXL needs the penultimate layer (export with output_hidden_states, as optimum does for SDXL)")
	}
	spec := partSpec{inputs: []string{"input_ids"}}
	if all {
		for i := range e.layers + 1 {
			spec.outputs = append(spec.outputs, []string{fmt.Sprintf("hidden_states.%d", i)})
		}
	} else {
		e.pooled = true
		spec.outputs = [][]string{{"text_embeds"}, {fmt.Sprintf("hidden_states.%d", e.layers-1)}}
	}
	if e.part, err = readPart(r.dir, name, spec); err != nil {
		return e, err
	}
	e.idsElem = e.part.in[0].Elem
	if e.idsElem != onnxpb.Int32 && e.idsElem != onnxpb.Int64 {
		return e, modelErr(rel, "input_ids has type %v, want int32 or int64", e.idsElem)
	}
	hs := e.part.out[len(e.part.out)-1]
	if err := checkFloat(rel, hs); err != nil {
		return e, err
	}
	if hs.Rank() != 3 || hs.Dims[2].IsSymbolic() || hs.Dims[2].Value <= 0 {
		return e, modelErr(rel, "%s has no fixed width", hs)
	}
	e.dim = int(hs.Dims[2].Value)
	if e.tok, err = clip.Load(filepath.Join(r.dir, tokDir)); err != nil {
		return e, apierr.Model("%s: %w", tokDir, err)
	}
	return e, nil
}

// readXL reads the two text encoders of an SDXL pipeline (the UNet has
// text_embeds and time_ids), or the one of a refiner.
func (r *Runner) readXL(index map[string]any) error {
	x := &xlModel{}
	var err error
	_, statErr := os.Stat(filepath.Join(r.dir, "text_encoder", "model.onnx"))
	if statErr == nil {
		if x.enc1, err = r.readEncoder("text_encoder", "tokenizer", true); err != nil {
			return err
		}
	}
	if x.enc2, err = r.readEncoder("text_encoder_2", "tokenizer_2", false); err != nil {
		return err
	}
	te := x.enc2.part.out[0]
	if err := checkFloat("text_encoder_2/model.onnx", te); err != nil {
		return err
	}
	if te.Rank() != 2 || te.Dims[1].IsSymbolic() {
		return modelErr("text_encoder_2/model.onnx", "text_embeds %s: want [batch, width]", te)
	}
	x.pooledDim = int(te.Dims[1].Value)
	r.xl = x
	if x.refiner() {
		r.tok, r.idsElem, r.textDim = x.enc2.tok, x.enc2.idsElem, x.enc2.dim
	} else {
		r.text, r.tok = x.enc1.part, x.enc1.tok
		r.idsElem = x.enc1.idsElem
		r.textDim = x.enc1.dim + x.enc2.dim
	}
	if c, _ := index["_class_name"].(string); c != "" && !strings.Contains(c, "XL") {
		r.log.Warn("model_index.json names a non-SDXL pipeline but the UNet takes text_embeds and time_ids; running it as SDXL", "class", c)
	}
	return nil
}

// detectXL checks the UNet's SDXL inputs against the encoders.
func (r *Runner) detectXL() error {
	const rel = "unet/model.onnx"
	if len(r.unet.in) != 5 {
		return modelErr(rel, "has only one of text_embeds and time_ids")
	}
	te, ti := r.unet.in[3], r.unet.in[4]
	for _, v := range []onnxpb.ValueInfo{te, ti} {
		if err := checkFloat(rel, v); err != nil {
			return err
		}
		if v.Rank() != 2 {
			return modelErr(rel, "%s: want rank 2", v)
		}
	}
	if !te.Dims[1].IsSymbolic() && int(te.Dims[1].Value) != r.xl.pooledDim {
		return modelErr(rel, "text_embeds width %d does not match text_encoder_2's text_embeds %d", te.Dims[1].Value, r.xl.pooledDim)
	}
	r.xl.timeIDs = 6
	if !ti.Dims[1].IsSymbolic() {
		r.xl.timeIDs = int(ti.Dims[1].Value)
	}
	if want := map[bool]int{false: 6, true: 5}[r.xl.refiner()]; r.xl.timeIDs != want {
		return modelErr(rel, "time_ids width %d, want %d for an SDXL %s (text_encoder/ %s)", r.xl.timeIDs, want,
			map[bool]string{false: "base", true: "refiner"}[r.xl.refiner()], map[bool]string{false: "present", true: "absent"}[r.xl.refiner()])
	}
	return nil
}

// timeIDs are the UNet's time_ids for one sample: original size, crop
// top-left, target size, as A1111's get_learned_conditioning builds them
// from the batch's size and the sdxl_crop_* options; a refiner's are the
// original size, crop and the aesthetic score, sdxl_refiner_low_aesthetic_score
// for the negative prompt (neg) and the high one for the prompt.
func (g *job) timeIDs(neg bool) []float32 {
	// The requested size (p.height, p.width), not the latent's 8×: they
	// differ when the size is not a multiple of 8.
	o := g.req.SDXL
	h, w := float32(g.req.Height), float32(g.req.Width)
	if o.Width > 0 && o.Height > 0 {
		h, w = float32(o.Height), float32(o.Width)
	}
	if g.r.xl.refiner() {
		score := o.RefinerHighAesthetic
		if neg {
			score = o.RefinerLowAesthetic
		}
		return []float32{h, w, float32(o.CropTop), float32(o.CropLeft), float32(score)}
	}
	return []float32{h, w, float32(o.CropTop), float32(o.CropLeft), h, w}
}

// encodeXL runs both encoders on the chunks (all2 is the same prompts
// tokenized for the second encoder) and returns [n, 77, dim1+dim2] rows
// with emphasis applied per encoder, and the pooled text_embeds [n, pooled].
func (g *job) encodeXL(all, all2 []clip.Chunk, mode clip.Emphasis) (z, pooled []float32, err error) {
	x := g.r.xl
	n := len(all)
	if x.refiner() {
		h2, pooled, err := g.runEncoder(x.enc2, nil, all2, 1)
		if err != nil {
			return nil, nil, err
		}
		for i := range n {
			row := clip.SeqLen * x.enc2.dim
			if err := clip.ApplyEmphasis(mode, h2[i*row:(i+1)*row], [2]int{clip.SeqLen, x.enc2.dim}, all2[i].Multipliers[:]); err != nil {
				return nil, nil, err
			}
		}
		return h2, pooled, nil
	}
	skip := 2 // hidden_states[-2]
	if g.req.SDXL.ClipLSkip {
		skip = g.req.ClipSkip
		if skip < 1 || skip > x.enc1.layers+1 {
			return nil, nil, invalid("CLIP_stop_at_last_layers %d is outside the first text encoder's 1..%d hidden states (sdxl_clip_l_skip)", skip, x.enc1.layers+1)
		}
	}
	h1, _, err := g.runEncoder(x.enc1, g.xlText[0], all, x.enc1.layers+1-skip)
	if err != nil {
		return nil, nil, err
	}
	h2, pooled, err := g.runEncoder(x.enc2, g.xlText[1], all2, 1)
	if err != nil {
		return nil, nil, err
	}
	d1, d2 := x.enc1.dim, x.enc2.dim
	for i := range n {
		if err := clip.ApplyEmphasis(mode, h1[i*clip.SeqLen*d1:(i+1)*clip.SeqLen*d1], [2]int{clip.SeqLen, d1}, all[i].Multipliers[:]); err != nil {
			return nil, nil, err
		}
		if err := clip.ApplyEmphasis(mode, h2[i*clip.SeqLen*d2:(i+1)*clip.SeqLen*d2], [2]int{clip.SeqLen, d2}, all2[i].Multipliers[:]); err != nil {
			return nil, nil, err
		}
	}
	z = make([]float32, n*clip.SeqLen*(d1+d2))
	for row := range n * clip.SeqLen {
		dst := z[row*(d1+d2):]
		copy(dst, h1[row*d1:(row+1)*d1])
		copy(dst[d1:], h2[row*d2:(row+1)*d2])
	}
	return z, pooled, nil
}

// xlSessions picks the base model's encoder sessions for the job: each
// with its kohya LoRA modules (lora_te1_, lora_te2_) and embedding rows
// (rows for CLIP-L, rows2 for CLIP-G), and places the rows' ids at the
// fixes of each encoder's chunks. A refiner runs its plain encoder.
func (g *job) xlSessions(rows, rows2 *tokenRows, all, all2 []clip.Chunk, fixes, fixes2 [][]clip.Fix) error {
	r := g.r
	g.xlText = [2]*patchedPart{} // a refiner switch drops the base's
	if r.xl.refiner() {
		return nil
	}
	var err error
	if g.xlText[0], err = r.encoderSession(r.xl.enc1.part, te1XLSpec(), g.req.LoRAs, rows); err != nil {
		return err
	}
	if g.xlText[1], err = r.encoderSession(r.xl.enc2.part, te2XLSpec(), g.req.LoRAs, rows2); err != nil {
		return err
	}
	if rows == nil || rows2 == nil {
		return nil
	}
	for i := range all {
		rows.placeFixes(&all[i], fixes[i], g.xlText[0].vocab)
		rows2.placeFixes(&all2[i], fixes2[i], g.xlText[1].vocab)
	}
	return nil
}

// runEncoder runs one encoder (the patched session pp when set) on the
// chunks' ids and returns a copy of output hidden (an index into its
// outputs) and, for the pooled encoder, of text_embeds.
func (g *job) runEncoder(e textEncoder, pp *patchedPart, chunks []clip.Chunk, hidden int) (h, pooled []float32, err error) {
	n := len(chunks)
	ids := make([]int64, 0, n*clip.SeqLen)
	for _, c := range chunks {
		ids = append(ids, c.IDs[:]...)
	}
	var vs values
	defer vs.destroy()
	if err := vs.add(intValue(e.idsElem, onnxruntime.NewShape(int64(n), clip.SeqLen), ids)); err != nil {
		return nil, nil, fmt.Errorf("%s input: %w", e.part.name, err)
	}
	for _, o := range e.part.out {
		shape := onnxruntime.NewShape(int64(n), clip.SeqLen, int64(e.dim))
		if o.Rank() == 2 {
			shape = onnxruntime.NewShape(int64(n), o.Dims[1].Value)
		}
		if err := vs.add(outputValue(o.Elem, shape)); err != nil {
			return nil, nil, fmt.Errorf("%s output: %w", e.part.name, err)
		}
	}
	sess := e.part.sess
	if pp != nil {
		sess = pp.sess
	}
	t0 := time.Now()
	err = sess.RunWithOptions(vs[:1], vs[1:], g.ro)
	g.timing.TextEncoder += time.Since(t0).Nanoseconds()
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", e.part.name, err)
	}
	f, err := floatsOf(vs[1+hidden])
	if err != nil {
		return nil, nil, err
	}
	h = slices.Clone(f)
	if e.pooled {
		p, err := floatsOf(vs[1])
		if err != nil {
			return nil, nil, err
		}
		pooled = slices.Clone(p)
	}
	return h, pooled, nil
}

// zeroEmptyNegatives is A1111's force_zero_negative_prompt: when every
// negative prompt of the batch is "", the uncond's crossattn and pooled
// conditioning are zeros.
func (g *job) zeroEmptyNegatives(uc *textCond) {
	for _, p := range g.negatives() {
		if p != "" {
			return
		}
	}
	clear(uc.data)
	clear(uc.pooled)
}
