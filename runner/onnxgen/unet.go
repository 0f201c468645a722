package onnxgen

import (
	"fmt"
	"math"

	"github.com/sdapi/sdapi/runner/onnxgen/onnxpb"
)

// unet builds a UNet2DConditionModel: sample [B,4,h,w], timestep and
// encoder_hidden_states [B,seq,D] → out_sample [B,4,h,w]. Spatial sizes
// must be multiples of 2^(levels-1).
func unet(cfg Config, a arch) *onnxpb.Graph {
	b := newBuilder("unet", cfg, streamUNet)
	batch, ch := onnxpb.Sym("batch"), onnxpb.D(int64(a.latentCh))
	h, w := onnxpb.Sym("height"), onnxpb.Sym("width")
	sample := b.floatInput("sample", batch, ch, h, w)
	var t string
	switch cfg.Timestep {
	case Int64Batch:
		b.g.AddInput("timestep", onnxpb.Int64, batch)
		t = "timestep"
	case FloatBatch:
		t = b.floatInput("timestep", batch)
	default:
		t = b.floatInput("timestep")
	}
	ctx := b.floatInput("encoder_hidden_states", batch, onnxpb.Sym("sequence"), onnxpb.D(int64(a.crossDim)))

	temb := b.timeEmbedding(t, sample, a)
	c0 := a.unetCh[0]
	tembDim := 4 * c0
	if a.addTimeDim > 0 {
		temb = b.add(temb, b.addEmbedding(batch, a))
	}
	x := b.conv(sample, "conv_in", a.latentCh, c0, 3, 1)

	type skip struct {
		name string
		ch   int
	}
	skips := []skip{{x, c0}}
	cur := c0
	for i, c := range a.unetCh {
		for j := range a.unetLayers {
			name := fmt.Sprintf("down_blocks.%d", i)
			x = b.resBlock(x, temb, fmt.Sprintf("%s.resnets.%d", name, j), cur, c, a.unetGroups, tembDim, 1e-5)
			cur = c
			if a.unetAttn[i] {
				x = b.spatialTransformer(x, ctx, fmt.Sprintf("%s.attentions.%d", name, j), c, a.depth(i), a)
			}
			skips = append(skips, skip{x, c})
		}
		if i < len(a.unetCh)-1 {
			x = b.conv(x, fmt.Sprintf("down_blocks.%d.downsamplers.0.conv", i), c, c, 3, 2)
			skips = append(skips, skip{x, c})
		}
	}

	last := a.unetCh[len(a.unetCh)-1]
	x = b.resBlock(x, temb, "mid_block.resnets.0", last, last, a.unetGroups, tembDim, 1e-5)
	x = b.spatialTransformer(x, ctx, "mid_block.attentions.0", last, max(a.midDepth, 1), a)
	x = b.resBlock(x, temb, "mid_block.resnets.1", last, last, a.unetGroups, tembDim, 1e-5)

	for ui := range a.unetCh {
		i := len(a.unetCh) - 1 - ui
		c := a.unetCh[i]
		name := fmt.Sprintf("up_blocks.%d", ui)
		for j := range a.unetLayers + 1 {
			s := skips[len(skips)-1]
			skips = skips[:len(skips)-1]
			x = b.op("Concat", []string{x, s.name}, onnxpb.AttrInt("axis", 1))
			x = b.resBlock(x, temb, fmt.Sprintf("%s.resnets.%d", name, j), cur+s.ch, c, a.unetGroups, tembDim, 1e-5)
			cur = c
			if a.unetAttn[i] {
				x = b.spatialTransformer(x, ctx, fmt.Sprintf("%s.attentions.%d", name, j), c, a.depth(i), a)
			}
		}
		if i > 0 {
			x = b.upsample(x, name+".upsamplers.0", c)
		}
	}

	x = b.silu(b.groupNorm(x, "conv_norm_out", c0, a.unetGroups, 1e-5))
	x = b.conv(x, "conv_out", c0, a.latentCh, 3, 1)
	b.floatOutput(x, "out_sample", batch, ch, h, w)
	return b.g
}

// timeEmbedding broadcasts the timestep to the batch (as diffusers does),
// applies the sinusoidal projection (flip_sin_to_cos, freq_shift 0) and the
// Linear-SiLU-Linear embedding. It returns [B, 4·c0].
func (b *builder) timeEmbedding(t, sample string, a arch) string {
	c0 := a.unetCh[0]
	half := c0 / 2
	tf := b.op("Cast", []string{t}, onnxpb.AttrInt("to", int64(onnxpb.Float)))
	tf = b.op("Reshape", []string{tf, b.ints(-1)})
	batch := b.op("Shape", []string{sample}, onnxpb.AttrInt("start", 0), onnxpb.AttrInt("end", 1))
	tf = b.op("Expand", []string{tf, batch})
	emb := b.sinusoid(tf, "time_proj", half)
	e := b.linear(emb, "time_embedding.linear_1", c0, 4*c0, true)
	return b.linear(b.silu(e), "time_embedding.linear_2", 4*c0, 4*c0, true)
}

// sinusoid is diffusers' Timesteps projection (flip_sin_to_cos, freq_shift
// 0) of t [N] float: [N, 2·half], cosines first.
func (b *builder) sinusoid(t, name string, half int) string {
	freqs := make([]float32, half)
	for i := range freqs {
		freqs[i] = float32(math.Exp(-math.Log(10000) * float64(i) / float64(half)))
	}
	b.n++
	fr := b.g.AddFloat32(fmt.Sprintf("%s.freqs_%d", name, b.n), []int64{1, int64(half)}, freqs)
	arg := b.mul(b.op("Unsqueeze", []string{t, b.ints(1)}), fr)
	return b.op("Concat", []string{b.op("Cos", []string{arg}), b.op("Sin", []string{arg})}, onnxpb.AttrInt("axis", 1))
}

// addEmbedding is SDXL's "text_time" addition embedding: the inputs
// text_embeds [B, proj] and time_ids [B, 6] (original size, crop top-left,
// target size; the refiner's [B, 5] end with the aesthetic score), each time id projected to addTimeDim sinusoids, all
// concatenated (text_embeds first) and put through add_embedding's
// Linear-SiLU-Linear. It returns [B, 4·c0], added to the time embedding.
func (b *builder) addEmbedding(batch onnxpb.Dim, a arch) string {
	te := b.floatInput("text_embeds", batch, onnxpb.D(int64(a.text2Proj)))
	ids := b.floatInput("time_ids", batch, onnxpb.D(int64(a.timeIDs)))
	flat := b.op("Reshape", []string{ids, b.ints(-1)})
	tp := b.sinusoid(flat, "add_time_proj", a.addTimeDim/2)
	tp = b.op("Reshape", []string{tp, b.ints(-1, int64(a.timeIDs*a.addTimeDim))})
	in := a.text2Proj + a.timeIDs*a.addTimeDim
	c := 4 * a.unetCh[0]
	h := b.op("Concat", []string{te, tp}, onnxpb.AttrInt("axis", 1))
	h = b.linear(h, "add_embedding.linear_1", in, c, true)
	return b.linear(b.silu(h), "add_embedding.linear_2", c, c, true)
}

// depth is the transformer blocks of level i's attentions.
func (a arch) depth(i int) int {
	if a.unetDepth == nil {
		return 1
	}
	return max(a.unetDepth[i], 1)
}

// heads is the attention head count at width c.
func (a arch) heads(c int) int {
	if a.unetHeadDim > 0 {
		return c / a.unetHeadDim
	}
	return a.unetHeads
}

// spatialTransformer is a Transformer2DModel with depth
// BasicTransformerBlocks: GN, proj_in, then per block LN self-attention,
// LN cross-attention on ctx, LN GEGLU feed-forward; proj_out and the
// residual. proj_in/proj_out are 1×1 convolutions (SD1) or linear layers
// on the tokens (SDXL's use_linear_projection).
func (b *builder) spatialTransformer(x, ctx, name string, c, depth int, a arch) string {
	h := b.groupNorm(x, name+".norm", c, a.unetGroups, 1e-6)
	if a.linearProj {
		h = b.linear(b.tokens(h), name+".proj_in", c, c, true)
	} else {
		h = b.tokens(b.conv(h, name+".proj_in", c, c, 1, 1))
	}
	heads := a.heads(c)
	for k := range depth {
		blk := fmt.Sprintf("%s.transformer_blocks.%d", name, k)
		n := b.layerNorm(h, blk+".norm1", c, 1e-5)
		h = b.add(h, b.attention(n, n, attnSpec{name: blk + ".attn1", dim: c, ctxDim: c, heads: heads, diffusers: true}))
		n = b.layerNorm(h, blk+".norm2", c, 1e-5)
		h = b.add(h, b.attention(n, ctx, attnSpec{name: blk + ".attn2", dim: c, ctxDim: a.crossDim, heads: heads, diffusers: true}))
		n = b.layerNorm(h, blk+".norm3", c, 1e-5)
		inner := 4 * c
		p := b.linear(n, blk+".ff.net.0.proj", c, 2*inner, true)
		parts := b.ops("Split", 2, []string{p, b.ints(int64(inner), int64(inner))}, onnxpb.AttrInt("axis", -1))
		g := b.mul(parts[0], b.gelu(parts[1])) // GEGLU
		h = b.add(h, b.linear(g, blk+".ff.net.2", inner, c, true))
	}
	if a.linearProj {
		h = b.untokens(b.linear(h, name+".proj_out", c, c, true), x)
	} else {
		h = b.conv(b.untokens(h, x), name+".proj_out", c, c, 1, 1)
	}
	return b.add(h, x)
}
