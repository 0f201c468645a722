package ort

// LoRA deltas as A1111's network_lora computes them: for a module with
// lora_up [out, r(,1,1)] and lora_down [r, in(,kh,kw)],
// updown = up·down reshaped to the weight, scaled by alpha/r (1 without
// alpha) and the te or unet multiplier; dyn keeps the first ranks
// (lyco_helpers.rebuild_conventional). Conv LoRAs (LoCon, a kh×kw down
// and 1×1 up) take the same path; LyCORIS's Tucker form (lora_mid
// [r, r, kh, kw]) is rebuilt as rebuild_cp_decomposition. Modules A1111
// would load with another network type (LoHa, LoKr, IA3, OFT, full, norm)
// are not applied and are counted as unsupported.

import (
	"fmt"
	"math"
	"strings"

	"github.com/sdapi/sdapi/internal/safetensors"
	"github.com/sdapi/sdapi/runner"
	"github.com/sdapi/sdapi/runner/onnxgen/onnxpb"
)

// loraReport counts what a LoRA set did to one part, for the log.
type loraReport struct {
	applied, unmatched, unsupported, mismatched int
	// errors are the files or modules that could not be read: A1111
	// reports a network that fails to load and runs without it.
	errors []error
}

// loraModule is one kohya module of a file: its tensors by suffix.
type loraModule map[string]string // "lora_up.weight" → full tensor name

// addLoraDeltas adds the deltas of every LoRA in loras whose modules start
// with spec's prefix (or an alias of it) to deltas (initializer → values
// in the target's layout), scaled by spec's multiplier.
func addLoraDeltas(deltas map[string][]float32, targets map[string]loraTarget, loras []runner.LoRA, spec loraSpec) loraReport {
	prefix, unet, mult := spec.prefix, spec.unet, spec.mult
	var rep loraReport
	lpb := ldmLayersPerBlock
	if unet {
		lpb = layersPerBlock(targets, prefix)
	}
	for _, l := range loras {
		m := mult(l)
		if m == 0 {
			continue
		}
		f, err := safetensors.Open(l.Path)
		if err != nil {
			rep.errors = append(rep.errors, fmt.Errorf("lora %s: %w", l.Name, err))
			continue
		}
		modules := map[string]loraModule{}
		for name := range f.Tensors {
			mod, suffix, ok := strings.Cut(name, ".")
			if !ok {
				continue
			}
			if modules[mod] == nil {
				modules[mod] = loraModule{}
			}
			modules[mod][suffix] = name
		}
		for mod, ts := range modules {
			rest, ok := strings.CutPrefix(mod, prefix)
			for _, alias := range spec.aliases {
				if !ok {
					rest, ok = strings.CutPrefix(mod, alias)
				}
			}
			if !ok {
				continue
			}
			if unet {
				rest = diffusersUNetName(rest, lpb)
			}
			t, ok := targets[prefix+rest]
			if !ok {
				rep.unmatched++
				continue
			}
			upName, downName := ts["lora_up.weight"], ts["lora_down.weight"]
			if upName == "" || downName == "" {
				upName, downName = ts["lora_B.weight"], ts["lora_A.weight"]
			}
			if upName == "" || downName == "" {
				rep.unsupported++
				continue
			}
			d, err := moduleDelta(f, upName, downName, ts["lora_mid.weight"], ts["alpha"], l.DynDim)
			if err != nil {
				rep.errors = append(rep.errors, fmt.Errorf("lora %s: %s: %w", l.Name, mod, err))
				continue
			}
			if d.out*d.in != numel(t.dims) {
				rep.mismatched++
				continue
			}
			acc := deltas[t.init]
			if acc == nil {
				acc = make([]float32, numel(t.dims))
				deltas[t.init] = acc
			}
			s := float32(d.scale * m)
			if t.transposed {
				// Stored [in, out]: element (i, o) is updown[o, i].
				for o := range d.out {
					row := d.v[o*d.in : (o+1)*d.in]
					for i, v := range row {
						acc[i*d.out+o] += v * s
					}
				}
			} else {
				for i, v := range d.v {
					acc[i] += v * s
				}
			}
			rep.applied++
		}
	}
	return rep
}

// updown is up·down as [out, in] (in covering a conv's kh·kw) and its
// alpha/rank scale.
type updown struct {
	v       []float32
	out, in int
	scale   float64
}

func moduleDelta(f *safetensors.File, upName, downName, midName, alphaName string, dyn int) (updown, error) {
	upT, downT := f.Tensors[upName], f.Tensors[downName]
	if len(upT.Shape) < 2 || len(downT.Shape) < 2 {
		return updown{}, fmt.Errorf("up %v and down %v are not matrices", upT.Shape, downT.Shape)
	}
	out, rank := int(upT.Shape[0]), int(upT.Numel()/upT.Shape[0])
	if int(downT.Shape[0]) != rank {
		return updown{}, fmt.Errorf("up %v and down %v ranks differ", upT.Shape, downT.Shape)
	}
	in := int(downT.Numel() / downT.Shape[0])
	up, err := f.Floats(upName)
	if err != nil {
		return updown{}, err
	}
	down, err := f.Floats(downName)
	if err != nil {
		return updown{}, err
	}
	scale := 1.0
	if alphaName != "" {
		a, err := f.Floats(alphaName)
		if err != nil || len(a) != 1 {
			return updown{}, fmt.Errorf("alpha: %v", err)
		}
		scale = float64(a[0]) / float64(rank)
	}
	if math.IsNaN(scale) || math.IsInf(scale, 0) {
		return updown{}, fmt.Errorf("alpha/rank is %v", scale)
	}
	if midName != "" {
		v, inK, err := cpDelta(f, midName, up, down, out, rank, in)
		if err != nil {
			return updown{}, err
		}
		return updown{v: v, out: out, in: inK, scale: scale}, nil
	}
	r := rank
	if dyn > 0 && dyn < r {
		r = dyn
	}
	v := make([]float32, out*in)
	for o := range out {
		dst := v[o*in : (o+1)*in]
		for k := range r {
			u := up[o*rank+k]
			if u == 0 {
				continue
			}
			src := down[k*in : (k+1)*in]
			for i, d := range src {
				dst[i] += u * d
			}
		}
	}
	return updown{v: v, out: out, in: in, scale: scale}, nil
}

// cpDelta is lyco_helpers.rebuild_cp_decomposition: W[i, j, k, l] =
// Σ_{n,m} mid[n, m, k, l]·up[i, n]·down[m, j], with up [out, r] and down
// [r, in] (1×1 convolutions flattened). It returns W as [out, in·kh·kw].
func cpDelta(f *safetensors.File, midName string, up, down []float32, out, rank, in int) ([]float32, int, error) {
	midT := f.Tensors[midName]
	if len(midT.Shape) != 4 || int(midT.Shape[0]) != rank || int(midT.Shape[1]) != rank {
		return nil, 0, fmt.Errorf("lora_mid %v does not match rank %d", midT.Shape, rank)
	}
	mid, err := f.Floats(midName)
	if err != nil {
		return nil, 0, err
	}
	kk := int(midT.Shape[2] * midT.Shape[3])
	// t[i, m, kl] = Σ_n up[i, n]·mid[n, m, kl]
	t := make([]float32, out*rank*kk)
	for i := range out {
		for n := range rank {
			u := up[i*rank+n]
			for m := range rank {
				src := mid[(n*rank+m)*kk : (n*rank+m+1)*kk]
				dst := t[(i*rank+m)*kk : (i*rank+m+1)*kk]
				for x, v := range src {
					dst[x] += u * v
				}
			}
		}
	}
	w := make([]float32, out*in*kk)
	for i := range out {
		for m := range rank {
			tv := t[(i*rank+m)*kk : (i*rank+m+1)*kk]
			for j := range in {
				d := down[m*in+j]
				dst := w[(i*in+j)*kk : (i*in+j+1)*kk]
				for x, v := range tv {
					dst[x] += d * v
				}
			}
		}
	}
	return w, in * kk, nil
}

func numel(dims []int64) int {
	n := 1
	for _, d := range dims {
		n *= int(d)
	}
	return n
}

// patch is the new value of one initializer.
type patch struct {
	dims []int64
	elem onnxpb.DataType
	data []float32
}
