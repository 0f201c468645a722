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
	ctx := b.floatInput("encoder_hidden_states", batch, onnxpb.Sym("sequence"), onnxpb.D(int64(a.textDim)))

	temb := b.timeEmbedding(t, sample, a)
	c0 := a.unetCh[0]
	tembDim := 4 * c0
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
				x = b.spatialTransformer(x, ctx, fmt.Sprintf("%s.attentions.%d", name, j), c, a)
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
	x = b.spatialTransformer(x, ctx, "mid_block.attentions.0", last, a)
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
				x = b.spatialTransformer(x, ctx, fmt.Sprintf("%s.attentions.%d", name, j), c, a)
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

	freqs := make([]float32, half)
	for i := range freqs {
		freqs[i] = float32(math.Exp(-math.Log(10000) * float64(i) / float64(half)))
	}
	b.n++
	fr := b.g.AddFloat32(fmt.Sprintf("time_proj.freqs_%d", b.n), []int64{1, int64(half)}, freqs)
	arg := b.mul(b.op("Unsqueeze", []string{tf, b.ints(1)}), fr)
	emb := b.op("Concat", []string{b.op("Cos", []string{arg}), b.op("Sin", []string{arg})}, onnxpb.AttrInt("axis", 1))

	e := b.linear(emb, "time_embedding.linear_1", c0, 4*c0, true)
	return b.linear(b.silu(e), "time_embedding.linear_2", 4*c0, 4*c0, true)
}

// spatialTransformer is a Transformer2DModel with one BasicTransformerBlock:
// GN, proj_in 1×1, LN self-attention, LN cross-attention on ctx, LN GEGLU
// feed-forward, proj_out 1×1 and the residual.
func (b *builder) spatialTransformer(x, ctx, name string, c int, a arch) string {
	h := b.groupNorm(x, name+".norm", c, a.unetGroups, 1e-6)
	h = b.conv(h, name+".proj_in", c, c, 1, 1)
	h = b.tokens(h)

	blk := name + ".transformer_blocks.0"
	n := b.layerNorm(h, blk+".norm1", c, 1e-5)
	h = b.add(h, b.attention(n, n, attnSpec{name: blk + ".attn1", dim: c, ctxDim: c, heads: a.unetHeads, diffusers: true}))
	n = b.layerNorm(h, blk+".norm2", c, 1e-5)
	h = b.add(h, b.attention(n, ctx, attnSpec{name: blk + ".attn2", dim: c, ctxDim: a.textDim, heads: a.unetHeads, diffusers: true}))
	n = b.layerNorm(h, blk+".norm3", c, 1e-5)
	inner := 4 * c
	p := b.linear(n, blk+".ff.net.0.proj", c, 2*inner, true)
	parts := b.ops("Split", 2, []string{p, b.ints(int64(inner), int64(inner))}, onnxpb.AttrInt("axis", -1))
	g := b.mul(parts[0], b.gelu(parts[1])) // GEGLU
	h = b.add(h, b.linear(g, blk+".ff.net.2", inner, c, true))

	h = b.untokens(h, x)
	h = b.conv(h, name+".proj_out", c, c, 1, 1)
	return b.add(h, x)
}
