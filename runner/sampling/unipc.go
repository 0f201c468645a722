package sampling

import (
	"context"
	"fmt"
	"math"
)

// UniPC as A1111 runs it (modules/models/diffusion/uni_pc/uni_pc.py, called
// from sd_samplers_timesteps_impl.unipc): multistep, data prediction
// (predict_x0), no thresholding, skip_type "time_uniform", variant bh1 or bh2,
// on the discrete VP schedule with log √ᾱ interpolated linearly in
// continuous time t ∈ [1/N, 1]. steps = len(ts); only the count of ts is used.
// Simplifications: only time_uniform spacing (A1111's default
// opts.uni_pc_skip_type); the order is clamped to steps where A1111 asserts
// steps ≥ order; no img2img t_start.

type vpSchedule struct {
	s *Schedule
	n float64 // total_N
}

func (v vpSchedule) logAlpha(t float64) float64 { return v.s.logAlphaAtIndex(t*v.n - 1) }
func (v vpSchedule) std(t float64) float64      { return math.Sqrt(-math.Expm1(2 * v.logAlpha(t))) }
func (v vpSchedule) lambda(t float64) float64 {
	la := v.logAlpha(t)
	return la - 0.5*math.Log(-math.Expm1(2*la))
}

type uniPC struct {
	ctx context.Context
	m   EpsPredictor
	vp  vpSchedule
	bh2 bool
}

// dataPred is model_fn with predict_x0: x0 = (x − σ_t·ε)/α_t, ε at UNet time (t − 1/N)·1000.
func (u *uniPC) dataPred(x Latent, t float64) ([]float64, error) {
	eps, err := predictEps(u.ctx, u.m, x, (t-1/u.vp.n)*1000)
	if err != nil {
		return nil, err
	}
	alpha, sigma := math.Exp(u.vp.logAlpha(t)), u.vp.std(t)
	out := make([]float64, len(x.Data))
	for j, v := range x.Data {
		out[j] = (float64(v) - sigma*float64(eps.Data[j])) / alpha
	}
	return out, nil
}

// update is multistep_uni_pc_bh_update with predict_x0. It returns the new x
// and, when the corrector ran, the model value at the predicted x (UniPC
// reuses it as the next step's model value).
func (u *uniPC) update(x Latent, models [][]float64, times []float64, t float64, order int, useCorrector bool) (Latent, []float64, error) {
	vp := u.vp
	tPrev0 := times[len(times)-1]
	model0 := models[len(models)-1]
	lPrev0, lT := vp.lambda(tPrev0), vp.lambda(t)
	sigPrev0, sigT := vp.std(tPrev0), vp.std(t)
	alphaT := math.Exp(vp.logAlpha(t))
	h := lT - lPrev0

	var rks []float64
	var d1s [][]float64
	for i := 1; i < order; i++ {
		rk := (vp.lambda(times[len(times)-1-i]) - lPrev0) / h
		mi := models[len(models)-1-i]
		d := make([]float64, len(mi))
		for j := range d {
			d[j] = (mi[j] - model0[j]) / rk
		}
		rks = append(rks, rk)
		d1s = append(d1s, d)
	}
	rks = append(rks, 1)

	hh := -h
	hPhi1 := math.Expm1(hh)
	hPhiK := hPhi1/hh - 1
	fact := 1.0
	bh := hh
	if u.bh2 {
		bh = math.Expm1(hh)
	}
	R := make([][]float64, order)
	b := make([]float64, order)
	for i := 1; i <= order; i++ {
		row := make([]float64, order)
		for k := range row {
			row[k] = math.Pow(rks[k], float64(i-1))
		}
		R[i-1] = row
		b[i-1] = hPhiK * fact / bh
		fact *= float64(i + 1)
		hPhiK = hPhiK/hh - 1/fact
	}

	var rhosP, rhosC []float64
	var err error
	if len(d1s) > 0 {
		if order == 2 {
			rhosP = []float64{0.5}
		} else {
			sub := make([][]float64, order-1)
			for i := range sub {
				sub[i] = R[i][:order-1]
			}
			if rhosP, err = solve(sub, b[:order-1]); err != nil {
				return Latent{}, nil, err
			}
		}
	}
	if useCorrector {
		if order == 1 {
			rhosC = []float64{0.5}
		} else if rhosC, err = solve(R, b); err != nil {
			return Latent{}, nil, err
		}
	}

	base := make([]float64, len(x.Data))
	xt := NewLatent(x.Shape...)
	for j, v := range x.Data {
		base[j] = sigT/sigPrev0*float64(v) - alphaT*hPhi1*model0[j]
		res := 0.0
		for k, d := range d1s {
			res += rhosP[k] * d[j]
		}
		xt.Data[j] = float32(base[j] - alphaT*bh*res)
	}
	if !useCorrector {
		return xt, nil, nil
	}
	modelT, err := u.dataPred(xt, t)
	if err != nil {
		return Latent{}, nil, err
	}
	last := rhosC[len(rhosC)-1]
	for j := range xt.Data {
		res := 0.0
		for k, d := range d1s {
			res += rhosC[k] * d[j]
		}
		res += last * (modelT[j] - model0[j])
		xt.Data[j] = float32(base[j] - alphaT*bh*res)
	}
	return xt, modelT, nil
}

// sampleUniPC is UniPC.sample(method="multistep") with A1111's arguments.
func sampleUniPC(ctx context.Context, m EpsPredictor, x Latent, ts []int, s *Schedule, _ Noise, o Options) (Latent, error) {
	steps := len(ts)
	order := o.UniPCOrder
	if order <= 0 {
		order = 3
	}
	order = min(order, steps)
	switch o.UniPCVariant {
	case "", "bh1", "bh2":
	default:
		return Latent{}, fmt.Errorf("sampling: unsupported UniPC variant %q", o.UniPCVariant)
	}
	u := &uniPC{ctx: ctx, m: m, vp: vpSchedule{s: s, n: float64(len(s.AlphasCumprod))}, bh2: o.UniPCVariant == "bh2"}
	times := linspace(1, 1/u.vp.n, steps+1)

	x = x.Clone()
	m0, err := u.dataPred(x, times[0])
	if err != nil {
		return Latent{}, err
	}
	models := [][]float64{m0}
	tprev := []float64{times[0]}
	report := func(i int, t float64, x Latent, model []float64) {
		if o.Callback == nil {
			return
		}
		den := NewLatent(x.Shape...)
		for j, v := range model {
			den.Data[j] = float32(v)
		}
		o.report(i, (t-1/u.vp.n)*1000, x, den)
	}
	for initOrder := 1; initOrder < order; initOrder++ {
		t := times[initOrder]
		var mx []float64
		if x, mx, err = u.update(x, models, tprev, t, initOrder, true); err != nil {
			return Latent{}, err
		}
		report(initOrder-1, t, x, mx)
		models = append(models, mx)
		tprev = append(tprev, t)
	}
	for step := order; step <= steps; step++ {
		t := times[step]
		stepOrder := order
		if o.UniPCLowerOrderFinal {
			stepOrder = min(order, steps+1-step)
		}
		var mx []float64
		if x, mx, err = u.update(x, models, tprev, t, stepOrder, step != steps); err != nil {
			return Latent{}, err
		}
		if mx != nil {
			report(step-1, t, x, mx)
		} else {
			report(step-1, t, x, models[len(models)-1])
		}
		copy(models, models[1:])
		copy(tprev, tprev[1:])
		tprev[len(tprev)-1] = t
		if step < steps {
			models[len(models)-1] = mx
		}
	}
	return x, nil
}

// solve solves A·x = b by Gaussian elimination with partial pivoting (n ≤ 3 here).
func solve(A [][]float64, b []float64) ([]float64, error) {
	n := len(b)
	m := make([][]float64, n)
	for i := range m {
		m[i] = append(append([]float64(nil), A[i][:n]...), b[i])
	}
	for c := range n {
		p := c
		for r := c + 1; r < n; r++ {
			if math.Abs(m[r][c]) > math.Abs(m[p][c]) {
				p = r
			}
		}
		if m[p][c] == 0 {
			return nil, fmt.Errorf("sampling: singular UniPC system")
		}
		m[c], m[p] = m[p], m[c]
		for r := c + 1; r < n; r++ {
			f := m[r][c] / m[c][c]
			for k := c; k <= n; k++ {
				m[r][k] -= f * m[c][k]
			}
		}
	}
	x := make([]float64, n)
	for r := n - 1; r >= 0; r-- {
		s := m[r][n]
		for k := r + 1; k < n; k++ {
			s -= m[r][k] * x[k]
		}
		x[r] = s / m[r][r]
	}
	return x, nil
}
