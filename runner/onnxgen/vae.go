package onnxgen

import (
	"fmt"

	"github.com/sdapi/sdapi/runner/onnxgen/onnxpb"
)

// vaeDecoder builds the AutoencoderKL decoder with post_quant_conv:
// latent_sample [B,4,h,w] → sample [B,3,8h,8w].
func vaeDecoder(cfg Config, a arch) *onnxpb.Graph {
	b := newBuilder("vae_decoder", cfg, streamVAEDecoder)
	batch := onnxpb.Sym("batch")
	lc := a.latentCh
	x := b.floatInput("latent_sample", batch, onnxpb.D(int64(lc)), onnxpb.Sym("height"), onnxpb.Sym("width"))
	x = b.conv(x, "post_quant_conv", lc, lc, 1, 1)

	top := a.vaeCh[len(a.vaeCh)-1]
	x = b.conv(x, "decoder.conv_in", lc, top, 3, 1)
	x = b.vaeMid(x, "decoder.mid_block", top, a)
	cur := top
	for ui := range a.vaeCh {
		c := a.vaeCh[len(a.vaeCh)-1-ui]
		name := fmt.Sprintf("decoder.up_blocks.%d", ui)
		for j := range a.vaeLayers + 1 {
			x = b.resBlock(x, "", fmt.Sprintf("%s.resnets.%d", name, j), cur, c, a.vaeGroups, 0, 1e-6)
			cur = c
		}
		if ui < len(a.vaeCh)-1 {
			x = b.upsample(x, name+".upsamplers.0", c)
		}
	}
	x = b.silu(b.groupNorm(x, "decoder.conv_norm_out", cur, a.vaeGroups, 1e-6))
	x = b.conv(x, "decoder.conv_out", cur, 3, 3, 1)
	b.floatOutput(x, "sample", batch, onnxpb.D(3), onnxpb.Sym("image_height"), onnxpb.Sym("image_width"))
	return b.g
}

// vaeEncoder builds the AutoencoderKL encoder with quant_conv: sample
// [B,3,H,W] → latent_parameters [B,8,H/8,W/8] (mean‖logvar), or
// latent_sample [B,4,H/8,W/8] drawn with RandomNormalLike.
func vaeEncoder(cfg Config, a arch) *onnxpb.Graph {
	b := newBuilder("vae_encoder", cfg, streamVAEEncoder)
	batch := onnxpb.Sym("batch")
	lc := a.latentCh
	x := b.floatInput("sample", batch, onnxpb.D(3), onnxpb.Sym("height"), onnxpb.Sym("width"))

	c0 := a.vaeCh[0]
	x = b.conv(x, "encoder.conv_in", 3, c0, 3, 1)
	cur := c0
	for i, c := range a.vaeCh {
		name := fmt.Sprintf("encoder.down_blocks.%d", i)
		for j := range a.vaeLayers {
			x = b.resBlock(x, "", fmt.Sprintf("%s.resnets.%d", name, j), cur, c, a.vaeGroups, 0, 1e-6)
			cur = c
		}
		if i < len(a.vaeCh)-1 {
			// diffusers pads (0,1,0,1) and convolves 3×3 with stride 2.
			x = b.convPads(x, name+".downsamplers.0.conv", c, c, 3, 2, []int64{0, 0, 1, 1})
		}
	}
	x = b.vaeMid(x, "encoder.mid_block", cur, a)
	x = b.silu(b.groupNorm(x, "encoder.conv_norm_out", cur, a.vaeGroups, 1e-6))
	x = b.conv(x, "encoder.conv_out", cur, 2*lc, 3, 1)
	x = b.conv(x, "quant_conv", 2*lc, 2*lc, 1, 1)

	lh, lw := onnxpb.Sym("latent_height"), onnxpb.Sym("latent_width")
	if cfg.VAEEncoderOutput == LatentParameters {
		b.floatOutput(x, "latent_parameters", batch, onnxpb.D(int64(2*lc)), lh, lw)
		return b.g
	}
	parts := b.ops("Split", 2, []string{x, b.ints(int64(lc), int64(lc))}, onnxpb.AttrInt("axis", 1))
	logvar := b.op("Clip", []string{parts[1], b.scalar(-30), b.scalar(20)})
	std := b.op("Exp", []string{b.mul(logvar, b.scalar(0.5))})
	eps := b.op("RandomNormalLike", []string{parts[0]})
	z := b.add(parts[0], b.mul(std, eps))
	b.floatOutput(z, "latent_sample", batch, onnxpb.D(int64(lc)), lh, lw)
	return b.g
}

// vaeMid is the VAE mid block: ResBlock, single-head self-attention with
// group norm and residual, ResBlock.
func (b *builder) vaeMid(x, name string, c int, a arch) string {
	x = b.resBlock(x, "", name+".resnets.0", c, c, a.vaeGroups, 0, 1e-6)
	h := b.groupNorm(x, name+".attentions.0.group_norm", c, a.vaeGroups, 1e-6)
	h = b.tokens(h)
	h = b.attention(h, h, attnSpec{name: name + ".attentions.0", dim: c, ctxDim: c, heads: 1, qkvBias: true})
	x = b.add(b.untokens(h, x), x)
	return b.resBlock(x, "", name+".resnets.1", c, c, a.vaeGroups, 0, 1e-6)
}
