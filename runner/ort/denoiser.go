package ort

import (
	"context"
	"fmt"
	"math"
	"time"

	onnxruntime "github.com/yalue/onnxruntime_go"

	"github.com/sdapi/sdapi/runner/sampling"
)

// The model wrapper between the samplers and the UNet: k-diffusion's
// DiscreteEpsDDPMDenoiser / DiscreteVDDPMDenoiser for the k-diffusion
// samplers, A1111's CompVisTimestepsDenoiser (and its V variant) for the
// timestep samplers, and A1111's CFGDenoiser around both.

var (
	_ sampling.Denoiser       = (*job)(nil)
	_ sampling.LCMDenoiser    = (*job)(nil)
	_ sampling.EpsPredictor   = (*job)(nil)
	_ sampling.CFGPPPredictor = (*job)(nil)
)

// Denoise returns the CFG-combined denoised estimate D(x, σ). With a mask,
// the result is blended with the init latent as A1111's CFGDenoiser does
// after denoising: denoised = init·mask + nmask·denoised.
func (g *job) Denoise(ctx context.Context, x sampling.Latent, sigma float64) (sampling.Latent, error) {
	return g.DenoiseAt(ctx, x, sigma, g.r.sched.SigmaToT(sigma), 0, 1)
}

// DenoiseAt is Denoise with the UNet run at timestep t and the estimate
// scaled to cSkip·x + cOut·D before the mask blend (LCM's denoiser).
func (g *job) DenoiseAt(ctx context.Context, x sampling.Latent, sigma, t, cSkip, cOut float64) (sampling.Latent, error) {
	t0 := time.Now()
	defer func() { g.modelWall += time.Since(t0).Nanoseconds() }()
	if err := g.refine(ctx, g.ratioAtSigma(sigma)); err != nil {
		return sampling.Latent{}, err
	}
	g.calls++
	cin := 1 / math.Sqrt(sigma*sigma+1)
	xin := make([]float32, len(x.Data))
	for j, v := range x.Data {
		xin[j] = float32(float64(v) * cin)
	}
	oc, ou, err := g.unetCFG(xin, t)
	if err != nil {
		return sampling.Latent{}, err
	}
	out := sampling.NewLatent(x.Shape...)
	last := g.lastBuffer(len(x.Data))
	s := g.req.CFGScale
	if g.r.vpred {
		cskip, cout := 1/(sigma*sigma+1), -sigma*cin
		for j, v := range x.Data {
			xs := float64(v) * cskip
			dc, du := xs+float64(oc[j])*cout, xs+float64(ou[j])*cout
			out.Data[j] = float32(cSkip*float64(v) + cOut*(du+s*(dc-du)))
			last[j] = float32(cSkip*float64(v) + cOut*dc)
		}
	} else {
		for j, v := range x.Data {
			dc, du := float64(v)-sigma*float64(oc[j]), float64(v)-sigma*float64(ou[j])
			out.Data[j] = float32(cSkip*float64(v) + cOut*(du+s*(dc-du)))
			last[j] = float32(cSkip*float64(v) + cOut*dc)
		}
	}
	g.blend(out.Data, g.initLatent)
	return out, nil
}

// PredictEps returns the CFG-combined noise prediction at UNet timestep t.
// With a mask, the model input is blended first (A1111 blends before
// denoising for timestep samplers); the kept area gets the init latent
// noised to t with the run's initial noise.
func (g *job) PredictEps(ctx context.Context, x sampling.Latent, t float64) (sampling.Latent, error) {
	eps, _, err := g.predictEps(ctx, x, t, 1)
	return eps, err
}

// PredictEpsCFGPP returns the noise prediction at CFG scale·scaleMul and the
// unconditional prediction (DDIM CFG++'s last_noise_uncond).
func (g *job) PredictEpsCFGPP(ctx context.Context, x sampling.Latent, t, scaleMul float64) (sampling.Latent, sampling.Latent, error) {
	return g.predictEps(ctx, x, t, scaleMul)
}

func (g *job) predictEps(ctx context.Context, x sampling.Latent, t, scaleMul float64) (sampling.Latent, sampling.Latent, error) {
	t0 := time.Now()
	defer func() { g.modelWall += time.Since(t0).Nanoseconds() }()
	if err := g.refine(ctx, g.ratioAtT(t)); err != nil {
		return sampling.Latent{}, sampling.Latent{}, err
	}
	g.calls++
	at := g.r.sched.AlphaCumprodAt(t)
	sa, s1 := math.Sqrt(at), math.Sqrt(1-at)
	xin := x.Data
	if g.mask != nil {
		xin = append([]float32(nil), x.Data...)
		noisy := make([]float32, len(xin))
		for j, v := range g.initLatent {
			noisy[j] = float32(sa*float64(v) + s1*float64(g.noise0[j]))
		}
		g.blend(xin, noisy)
	}
	oc, ou, err := g.unetCFG(xin, t)
	if err != nil {
		return sampling.Latent{}, sampling.Latent{}, err
	}
	out := sampling.NewLatent(x.Shape...)
	last := g.lastBuffer(len(x.Data))
	unc := sampling.NewLatent(x.Shape...)
	s := g.req.CFGScale * scaleMul
	for j := range out.Data {
		ec, eu := float64(oc[j]), float64(ou[j])
		if g.r.vpred { // eps = √ᾱ·v + √(1−ᾱ)·x
			xv := float64(xin[j])
			ec, eu = sa*ec+s1*xv, sa*eu+s1*xv
		}
		out.Data[j] = float32(eu + s*(ec-eu))
		// CFGDenoiserTimesteps.get_pred_x0 of the prompt's output.
		last[j] = float32((float64(xin[j]) - s1*ec) / sa)
		unc.Data[j] = float32(eu)
	}
	return out, unc, nil
}

// lastBuffer returns g.last sized to n values, for the model call about to
// overwrite it with its denoised prediction for the prompt (A1111's
// CFGDenoiser sets sampler.last_latent from the cond output, before CFG).
func (g *job) lastBuffer(n int) []float32 {
	if len(g.last) != n {
		g.last = make([]float32, n)
	}
	return g.last
}

// blend sets dst = src·mask + dst·(1−mask) per latent pixel, for every
// image and channel, when a mask is set (mask = 1 keeps src).
func (g *job) blend(dst, src []float32) {
	if g.mask == nil {
		return
	}
	hw := len(g.mask)
	for j := range dst {
		m := g.mask[j%hw]
		dst[j] = src[j]*m + dst[j]*(1-m)
	}
}

// unetCFG runs the UNet on xin (B images, already scaled) for the cond and
// the uncond texts and returns the raw model outputs for each. Its 2·B
// samples (cond, then uncond) go in calls of samples sharing a text length,
// as A1111 batches them (one call of 2·B when the lengths match, otherwise
// one per text, as without pad_cond_uncond), split further to at most
// samplesPerCall samples a call so that the attention maps fit the memory
// budget. Each sample's output depends only on its own inputs, so the
// split changes no result.
func (g *job) unetCFG(xin []float32, t float64) (oc, ou []float32, err error) {
	b := g.b
	per := len(xin) / b
	out := make([]float32, 2*len(xin))
	limit := g.samplesPerCall()
	text := func(s int) textCond {
		if s < b {
			return g.cond
		}
		return g.uncond
	}
	for s0 := 0; s0 < 2*b; {
		seq := text(s0).seq
		s1 := s0 + 1
		for s1 < 2*b && text(s1).seq == seq && (limit == 0 || s1-s0 < limit) {
			s1++
		}
		n := s1 - s0
		sample := make([]float32, 0, n*per)
		ehs := make([]float32, 0, n*seq*g.r.textDim)
		var xl *xlInputs
		if g.r.xl != nil {
			xl = &xlInputs{}
		}
		for s := s0; s < s1; s++ {
			sample = append(sample, xin[(s%b)*per:(s%b+1)*per]...)
			ehs = append(ehs, text(s).image(s%b)...)
			if xl != nil {
				xl.textEmbeds = append(xl.textEmbeds, text(s).pooledRow(s%b)...)
				xl.timeIDs = append(xl.timeIDs, g.timeIDs(s >= b)...)
			}
		}
		res, err := g.runUNet(sample, n, ehs, seq, t, xl)
		if err != nil {
			return nil, nil, err
		}
		copy(out[s0*per:], res)
		s0 = s1
	}
	return out[:len(xin)], out[len(xin):], nil
}

// xlInputs are an SDXL UNet call's extra inputs, one row per sample.
type xlInputs struct {
	textEmbeds, timeIDs []float32
}

// runUNet runs one UNet call on n images and returns a copy of out_sample.
func (g *job) runUNet(sample []float32, n int, ehs []float32, seq int, t float64, xl *xlInputs) ([]float32, error) {
	r := g.r
	shape := onnxruntime.NewShape(int64(n), 4, int64(g.lh), int64(g.lw))
	var vs values
	defer vs.destroy()
	if err := vs.add(floatValue(r.unet.in[0].Elem, shape, sample)); err != nil {
		return nil, fmt.Errorf("unet sample: %w", err)
	}
	if err := vs.add(r.timestep.value(t, n)); err != nil {
		return nil, fmt.Errorf("unet timestep: %w", err)
	}
	if err := vs.add(floatValue(r.unet.in[2].Elem, onnxruntime.NewShape(int64(n), int64(seq), int64(r.textDim)), ehs)); err != nil {
		return nil, fmt.Errorf("unet encoder_hidden_states: %w", err)
	}
	if xl != nil {
		if err := vs.add(floatValue(r.unet.in[3].Elem, onnxruntime.NewShape(int64(n), int64(r.xl.pooledDim)), xl.textEmbeds)); err != nil {
			return nil, fmt.Errorf("unet text_embeds: %w", err)
		}
		if err := vs.add(floatValue(r.unet.in[4].Elem, onnxruntime.NewShape(int64(n), int64(r.xl.timeIDs)), xl.timeIDs)); err != nil {
			return nil, fmt.Errorf("unet time_ids: %w", err)
		}
	}
	nin := len(vs)
	if err := vs.add(outputValue(r.unet.out[0].Elem, shape)); err != nil {
		return nil, fmt.Errorf("unet output: %w", err)
	}
	if err := r.unet.run(g.ro, vs[:nin], vs[nin:], &g.timing.UNet); err != nil {
		return nil, err
	}
	g.timing.UNetRuns++
	out, err := floatsOf(vs[nin])
	if err != nil {
		return nil, err
	}
	return append([]float32(nil), out...), nil
}
