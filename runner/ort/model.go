package ort

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	onnxruntime "github.com/yalue/onnxruntime_go"

	"github.com/sdapi/sdapi/internal/apierr"
	"github.com/sdapi/sdapi/runner/onnxgen/onnxpb"
)

// part is one model of the pipeline (text_encoder, unet, vae_decoder,
// vae_encoder) with its session and the declared types of the values the
// runner feeds and fetches.
type part struct {
	name string // the directory name, e.g. "unet"
	path string
	sess *onnxruntime.DynamicAdvancedSession
	in   []onnxpb.ValueInfo // in the order Run takes them
	out  []onnxpb.ValueInfo
}

// partSpec says which inputs a part must have (in feeding order) and which
// outputs to fetch: the first present name of each alternative list.
type partSpec struct {
	inputs []string
	// optional inputs are taken, after inputs, when the model has them
	// (SDXL's text_embeds and time_ids).
	optional []string
	outputs  [][]string
}

// modelErr is an apierr.KindModel error naming the part's relative path.
func modelErr(part, format string, args ...any) error {
	return apierr.Model("%s: %s", part, fmt.Sprintf(format, args...))
}

// readPart checks dir/name/model.onnx against spec from its declared
// inputs and outputs, without building a session.
func readPart(dir, name string, spec partSpec) (*part, error) {
	rel := name + "/model.onnx"
	path := filepath.Join(dir, name, "model.onnx")
	if _, err := os.Stat(path); err != nil {
		return nil, modelErr(rel, "missing (%v)", err)
	}
	ins, outs, err := onnxpb.ReadIO(path)
	if err != nil {
		return nil, modelErr(rel, "unreadable: %v", err)
	}
	p := &part{name: name, path: path}
	for _, want := range spec.inputs {
		i := slices.IndexFunc(ins, func(v onnxpb.ValueInfo) bool { return v.Name == want })
		if i < 0 {
			return nil, modelErr(rel, "no input %q (inputs: %s)", want, names(ins))
		}
		p.in = append(p.in, ins[i])
	}
	for _, want := range spec.optional {
		if i := slices.IndexFunc(ins, func(v onnxpb.ValueInfo) bool { return v.Name == want }); i >= 0 {
			p.in = append(p.in, ins[i])
		}
	}
	for _, v := range ins {
		if !slices.Contains(spec.inputs, v.Name) && !slices.Contains(spec.optional, v.Name) {
			return nil, modelErr(rel, "unsupported extra input %s (LCM and inpainting UNets are not supported)", v)
		}
	}
	for _, alts := range spec.outputs {
		i := slices.IndexFunc(outs, func(v onnxpb.ValueInfo) bool { return slices.Contains(alts, v.Name) })
		if i < 0 {
			return nil, modelErr(rel, "no output %s (outputs: %s)", strings.Join(alts, " or "), names(outs))
		}
		p.out = append(p.out, outs[i])
	}
	return p, nil
}

func names(vs []onnxpb.ValueInfo) string {
	s := make([]string, len(vs))
	for i, v := range vs {
		s[i] = v.String()
	}
	return strings.Join(s, ", ")
}

// ioNames are the names of the part's inputs and outputs, as a session
// is built with them.
func (p *part) ioNames() (in, out []string) {
	for _, v := range p.in {
		in = append(in, v.Name)
	}
	for _, v := range p.out {
		out = append(out, v.Name)
	}
	return in, out
}

// open builds the part's session from its path, so external data resolves.
func (p *part) open(opts *onnxruntime.SessionOptions) error {
	in, out := p.ioNames()
	s, err := onnxruntime.NewDynamicAdvancedSession(p.path, in, out, opts)
	if err != nil {
		return modelErr(p.name+"/model.onnx", "load: %v", err)
	}
	p.sess = s
	return nil
}

func (p *part) close() {
	if p != nil && p.sess != nil {
		p.sess.Destroy()
		p.sess = nil
	}
}

// run runs the part once and adds the time spent inside ONNX Runtime to
// *acc.
func (p *part) run(ro *onnxruntime.RunOptions, in, out []onnxruntime.Value, acc *int64) error {
	t0 := time.Now()
	err := p.sess.RunWithOptions(in, out, ro)
	*acc += time.Since(t0).Nanoseconds()
	if err != nil {
		return fmt.Errorf("%s: %w", p.name, err)
	}
	return nil
}

// checkFloat reports whether v is a float or float16 value.
func checkFloat(rel string, v onnxpb.ValueInfo) error {
	if v.Elem != onnxpb.Float && v.Elem != onnxpb.Float16 {
		return modelErr(rel, "%s has type %v, want float or float16", v.Name, v.Elem)
	}
	return nil
}

// timestepKind is how the UNet takes its timestep.
type timestepKind struct {
	elem   onnxpb.DataType // Int64, Int32, Float, Float16, Double
	scalar bool            // rank 0
	one    bool            // rank 1 with a fixed size of 1
}

// detectTimestep reads the UNet's timestep type and rank.
func detectTimestep(v onnxpb.ValueInfo) (timestepKind, error) {
	const rel = "unet/model.onnx"
	k := timestepKind{elem: v.Elem}
	switch v.Elem {
	case onnxpb.Int64, onnxpb.Int32, onnxpb.Float, onnxpb.Double:
	case onnxpb.Float16:
	default:
		return k, modelErr(rel, "timestep has type %v", v.Elem)
	}
	switch v.Rank() {
	case 0:
		k.scalar = true
		if v.Elem == onnxpb.Float16 {
			return k, modelErr(rel, "a float16 scalar timestep is not supported (onnxruntime_go has no float16 scalars)")
		}
	case 1, -1:
		k.one = v.Rank() == 1 && !v.Dims[0].IsSymbolic() && v.Dims[0].Value == 1
	default:
		return k, modelErr(rel, "timestep has rank %d, want 0 or 1", v.Rank())
	}
	return k, nil
}

// timestepValue makes the timestep input for a UNet batch of n images.
func (k timestepKind) value(t float64, n int) (onnxruntime.Value, error) {
	count := n
	if k.one {
		count = 1
	}
	shape := onnxruntime.NewShape(int64(count))
	if k.scalar {
		shape = onnxruntime.Shape{}
		count = 1
	}
	switch k.elem {
	case onnxpb.Int64, onnxpb.Int32:
		ts := make([]int64, count)
		for i := range ts {
			ts[i] = int64(roundHalfEven(t))
		}
		return intValue(k.elem, shape, ts)
	}
	ts := make([]float32, count)
	for i := range ts {
		ts[i] = float32(t)
	}
	return floatValue(k.elem, shape, ts)
}
