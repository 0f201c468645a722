package ort

// The text-encoder rewrite behind CLIP skip (clipskip.go). A1111 asks
// transformers' CLIPTextModel for hidden_states[-n] and applies the final
// layer norm to it; ONNX exports of the text encoder only output
// last_hidden_state, so the hidden states are intermediate values of the
// graph. They are found by structure, not by name (torch before 1.13
// numbered its values): the residual stream of a pre-LN transformer is
//
//	h_k = r_k + mlp(ln2(r_k)),  r_k = h_{k-1} + attn(ln1(h_{k-1}))
//
// so starting from the final layer norm's input (hidden_states[-1]) each
// residual Add has exactly one operand that a layer norm also reads, and
// following it alternates r_k, h_{k-1} down to the embeddings, whose Add
// has no such operand. Each h_k is then made a graph output (through a
// Cast to float, so its type is known whatever the export computes in).

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"strconv"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/sdapi/sdapi/runner/onnxgen/onnxpb"
)

// finalNorm is the text encoder's final layer norm.
type finalNorm struct {
	input  string // its input: hidden_states[-1]
	weight []float32
	bias   []float32
	eps    float32
}

// clipLayerNormEps is CLIP's layer_norm_eps (SD1 and SD2 text encoders),
// used when a decomposed layer norm's epsilon is not a readable constant.
const clipLayerNormEps = 1e-5

// findFinalNorm finds the layer norm that produces output (looking through
// casts), in either export form: one LayerNormalization node (opset 17 and
// later) or torch's decomposition below opset 17, Add(Mul(Div(Sub(x,
// mean), Sqrt(var + eps)), weight), bias).
func (gi *graphIndex) findFinalNorm(output string, dim int) (finalNorm, error) {
	var fn finalNorm
	v := gi.throughCasts(output)
	n, ok := gi.producerOf(v)
	if !ok {
		return fn, fmt.Errorf("%s is not computed by a node", output)
	}
	switch {
	case n.domain == "" && n.op == "LayerNormalization":
		if len(n.in) < 2 {
			return fn, errors.New("final LayerNormalization has no weight")
		}
		if a, ok, err := nodeAttr(n, "axis"); err != nil {
			return fn, err
		} else if ok && a.i != -1 && a.i != 2 {
			return fn, fmt.Errorf("final LayerNormalization normalises axis %d, want the last", a.i)
		}
		fn.input, fn.eps = n.in[0], clipLayerNormEps
		if a, ok, err := nodeAttr(n, "epsilon"); err != nil {
			return fn, err
		} else if ok {
			fn.eps = a.f
		}
		var err error
		if fn.weight, err = gi.constant(n.in[1], dim, "final layer norm weight"); err != nil {
			return fn, err
		}
		if len(n.in) > 2 && n.in[2] != "" {
			if fn.bias, err = gi.constant(n.in[2], dim, "final layer norm bias"); err != nil {
				return fn, err
			}
		} else {
			fn.bias = make([]float32, dim)
		}
		return fn, nil
	case n.domain == "" && n.op == "Add":
		return gi.decomposedNorm(n, dim)
	case n.domain != "":
		return fn, fmt.Errorf("the final layer norm is a fused %s.%s node (an optimised export); export the text encoder unoptimised for clip skip", n.domain, n.op)
	}
	return fn, fmt.Errorf("%s comes from a %s node, not a layer norm", output, n.op)
}

// decomposedNorm reads torch's opset<17 layer norm ending in add.
func (gi *graphIndex) decomposedNorm(add gnode, dim int) (finalNorm, error) {
	fn := finalNorm{eps: clipLayerNormEps}
	mulOut, bias, err := gi.splitConst(add, dim)
	if err != nil {
		return fn, fmt.Errorf("final layer norm bias: %w", err)
	}
	mul, ok := gi.producerOf(gi.throughCasts(mulOut))
	if !ok || mul.domain != "" || mul.op != "Mul" {
		return fn, errors.New("final layer norm: no Mul by the weight before the bias")
	}
	divOut, weight, err := gi.splitConst(mul, dim)
	if err != nil {
		return fn, fmt.Errorf("final layer norm weight: %w", err)
	}
	div, ok := gi.producerOf(gi.throughCasts(divOut))
	if !ok || div.domain != "" || div.op != "Div" || len(div.in) != 2 {
		return fn, errors.New("final layer norm: no Div by the standard deviation")
	}
	sub, ok := gi.producerOf(gi.throughCasts(div.in[0]))
	if !ok || sub.domain != "" || sub.op != "Sub" || len(sub.in) != 2 {
		return fn, errors.New("final layer norm: no Sub of the mean")
	}
	fn.input, fn.weight, fn.bias = gi.throughCasts(sub.in[0]), weight, bias
	// eps: Div's divisor is Sqrt(Add(variance, eps)).
	if sq, ok := gi.producerOf(gi.throughCasts(div.in[1])); ok && sq.op == "Sqrt" && len(sq.in) == 1 {
		if ea, ok := gi.producerOf(gi.throughCasts(sq.in[0])); ok && ea.op == "Add" {
			for _, in := range ea.in {
				if vals, isConst, err := gi.floats(in); isConst && err == nil && len(vals) == 1 {
					fn.eps = vals[0]
				}
			}
		}
	}
	return fn, nil
}

// splitConst splits a binary node's inputs into the computed one and a
// constant of dim values.
func (gi *graphIndex) splitConst(n gnode, dim int) (string, []float32, error) {
	if len(n.in) != 2 {
		return "", nil, fmt.Errorf("%s has %d inputs", n.op, len(n.in))
	}
	for i, in := range n.in {
		vals, isConst, err := gi.floats(in)
		if !isConst {
			continue
		}
		if err != nil {
			return "", nil, err
		}
		if len(vals) != dim {
			return "", nil, fmt.Errorf("%d values, want %d", len(vals), dim)
		}
		return n.in[1-i], vals, nil
	}
	return "", nil, fmt.Errorf("%s has no constant operand", n.op)
}

// constant reads v as a constant of dim floats.
func (gi *graphIndex) constant(v string, dim int, what string) ([]float32, error) {
	vals, isConst, err := gi.floats(v)
	switch {
	case !isConst:
		return nil, fmt.Errorf("%s is computed, not a constant", what)
	case err != nil:
		return nil, fmt.Errorf("%s: %w", what, err)
	case len(vals) != dim:
		return nil, fmt.Errorf("%s has %d values, want %d", what, len(vals), dim)
	}
	return vals, nil
}

// readByNorm reports whether a layer norm reads v: a LayerNormalization
// node or the ReduceMean that starts torch's decomposition.
func (gi *graphIndex) readByNorm(v string) bool {
	for _, n := range gi.readers(v) {
		if n.domain == "" && len(n.in) > 0 && (n.op == "LayerNormalization" || n.op == "ReduceMean") {
			return true
		}
	}
	return false
}

// hiddenStates walks the residual stream down from hidden_states[-1] and
// returns hs with hs[k] = hidden_states[-(k+1)]; the last is the
// embeddings, so len(hs) is the layer count + 1.
func (gi *graphIndex) hiddenStates(last string) ([]string, error) {
	chain := []string{last}
	cur := last
	for range len(gi.nodes) {
		n, ok := gi.producerOf(cur)
		if !ok || n.domain != "" || n.op != "Add" || len(n.in) != 2 {
			break
		}
		next := ""
		for _, in := range n.in {
			if in := gi.throughCasts(in); in != cur && gi.readByNorm(in) {
				if next != "" && next != in {
					return nil, fmt.Errorf("residual Add %v: both operands feed a layer norm", n.in)
				}
				next = in
			}
		}
		if next == "" {
			break
		}
		chain = append(chain, next)
		cur = next
	}
	if len(chain) < 3 || len(chain)%2 == 0 {
		return nil, fmt.Errorf("no pre-LN residual stream below the final layer norm (%d residual values)", len(chain))
	}
	hs := make([]string, 0, len(chain)/2+1)
	for i := 0; i < len(chain); i += 2 {
		hs = append(hs, chain[i])
	}
	return hs, nil
}

// hiddenStatesModel is the text encoder with hidden states as outputs.
type hiddenStatesModel struct {
	model   []byte
	outputs []string // outputs[k] is hidden_states[-(k+1)] as float32
	norm    finalNorm
}

// clipSkipModel finds the hidden states and the final layer norm of a
// serialized text encoder and returns the model with every hidden state
// added as a float32 output [batch, sequence, dim]. dir is the model's
// directory (external data); outName is its last_hidden_state output.
func clipSkipModel(model []byte, dir, outName string, dim int) (hiddenStatesModel, error) {
	var res hiddenStatesModel
	gi, err := indexGraph(model, dir)
	if err != nil {
		return res, err
	}
	if res.norm, err = gi.findFinalNorm(outName, dim); err != nil {
		return res, err
	}
	for _, w := range res.norm.weight {
		if math.IsNaN(float64(w)) || math.IsInf(float64(w), 0) {
			return res, errors.New("final layer norm weight is not finite")
		}
	}
	hs, err := gi.hiddenStates(res.norm.input)
	if err != nil {
		return res, err
	}
	prefix := "sdapi_clip_skip"
	for i := 1; bytes.Contains(model, []byte(prefix)); i++ {
		prefix = "sdapi_clip_skip" + strconv.Itoa(i)
	}
	var add []byte
	n := len(hs) - 1 // layers
	for k, h := range hs {
		out := fmt.Sprintf("%s/hidden_states.%d", prefix, n-k) // transformers' index
		var node []byte
		node = onnxpb.AppendString(node, 1, h)
		node = onnxpb.AppendString(node, 2, out)
		node = onnxpb.AppendString(node, 3, out+"/Cast")
		node = onnxpb.AppendString(node, 4, "Cast")
		node = protowire.AppendTag(node, 5, protowire.BytesType)
		node = protowire.AppendBytes(node, onnxpb.EncodeAttr(onnxpb.AttrInt("to", int64(onnxpb.Float))))
		add = protowire.AppendTag(add, 1, protowire.BytesType)
		add = protowire.AppendBytes(add, node)
		res.outputs = append(res.outputs, out)
	}
	for _, out := range res.outputs {
		vi := onnxpb.ValueInfo{Name: out, Elem: onnxpb.Float, Dims: []onnxpb.Dim{onnxpb.Sym("batch"), onnxpb.Sym("sequence"), onnxpb.D(int64(dim))}}
		add = protowire.AppendTag(add, 12, protowire.BytesType)
		add = protowire.AppendBytes(add, onnxpb.EncodeValueInfo(vi))
	}
	// Nodes and outputs are repeated fields, so appending them after the
	// graph's other fields adds them; the Casts read values computed
	// earlier, keeping the node list topologically sorted.
	size := len(gi.graph) + len(add)
	out := make([]byte, 0, len(model)+len(add)+protowire.SizeVarint(uint64(size)))
	err = onnxpb.EachField(model, func(f onnxpb.Field) error {
		if f.Num != 7 || f.Type != protowire.BytesType {
			out = append(out, f.Raw...)
			return nil
		}
		out = protowire.AppendTag(out, 7, protowire.BytesType)
		out = protowire.AppendVarint(out, uint64(size))
		out = append(out, gi.graph...)
		out = append(out, add...)
		return nil
	})
	if err != nil {
		return res, err
	}
	if len(out) > math.MaxInt32 {
		return res, fmt.Errorf("rewritten model is %d bytes, over protobuf's 2 GiB", len(out))
	}
	res.model = out
	return res, nil
}
