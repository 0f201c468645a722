// Package sampling holds AUTOMATIC1111's (v1.10) noise schedules, schedulers and
// samplers in pure Go: the math of k-diffusion's k_diffusion/sampling.py and
// external.py, and of A1111's modules/sd_schedulers.py, sd_samplers_kdiffusion.py,
// sd_samplers_timesteps.py, sd_samplers_timesteps_impl.py and
// modules/models/diffusion/uni_pc. It knows nothing about ONNX: the runner
// supplies the model through Denoiser (k-diffusion samplers) or EpsPredictor
// (timestep samplers) and the per-image noise through Noise.
//
// A typical k-diffusion run:
//
//	smp, _ := sampling.FindSampler("DPM++ 2M")
//	sigmas, _ := smp.Sigmas(steps, "Automatic", sched, sampling.SigmaParams{})
//	x := sampling.InitialLatent(noise0, sigmas[0]) // randn · σ[0]
//	out, err := smp.SampleK(ctx, denoiser, x, sigmas, noise, smp.DefaultOptions())
//
// DPM fast and DPM adaptive integrate between two sigmas instead
// (UsesSigmaRange): txt2img runs them as A1111 does, on the model's σmin/σmax:
//
//	out, err := smp.SampleRange(ctx, denoiser, x, sched.SigmaMin(), sched.SigmaMax(), steps, noise, opts)
//
// LCM needs opts.Schedule and a denoiser with DenoiseAt (LCMDenoiser); DDIM
// CFG++ an eps model with PredictEpsCFGPP (CFGPPPredictor). Schedules are
// float32 values computed as torch computes them (torch32.go).
//
// A timestep sampler (DDIM, DDIM CFG++, PLMS, UniPC):
//
//	ts := sampling.DDIMTimesteps(steps, false)
//	out, err := smp.SampleT(ctx, epsModel, noise0, ts, sched, noise, smp.DefaultOptions())
package sampling
