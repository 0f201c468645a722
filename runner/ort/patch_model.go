package ort

// Building a model with some initializers replaced: the LoRA-patched
// weights, the token-embedding table with textual-inversion rows
// appended. The replaced tensors are written inline; every other
// initializer keeps its bytes, external data included, so a session
// built from the result reads those from the part's directory
// (externalFolderKey). The original model file is never changed.

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"strconv"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/sdapi/sdapi/internal/half"
	"github.com/sdapi/sdapi/runner/onnxgen/onnxpb"
)

// graphEdits are nodes a patched model gains: before[i] are written in
// front of node i (so the node list stays topologically sorted), whose
// first input becomes input0[i]; inits are added initializers.
type graphEdits struct {
	before map[int][][]byte
	input0 map[int]string
	inits  [][]byte
}

// patchedModel returns model with the initializers named in patches
// replaced by their new values and the edits (nil for none) made.
func patchedModel(model []byte, gi *graphIndex, patches map[string]patch, edits *graphEdits) ([]byte, error) {
	var graph []byte
	node := 0
	err := onnxpb.EachField(gi.graph, func(f onnxpb.Field) error {
		if f.Num == 1 && f.Type == protowire.BytesType && edits != nil {
			i := node
			node++
			for _, b := range edits.before[i] {
				graph = protowire.AppendTag(graph, 1, protowire.BytesType)
				graph = protowire.AppendBytes(graph, b)
			}
			in, ok := edits.input0[i]
			if !ok {
				graph = append(graph, f.Raw...)
				return nil
			}
			b, err := replaceInput0(f.Bytes, in, "")
			if err != nil {
				return err
			}
			graph = protowire.AppendTag(graph, 1, protowire.BytesType)
			graph = protowire.AppendBytes(graph, b)
			return nil
		}
		if f.Num != 5 || f.Type != protowire.BytesType {
			graph = append(graph, f.Raw...)
			return nil
		}
		name, err := tensorName(f.Bytes)
		if err != nil {
			return err
		}
		p, ok := patches[name]
		if !ok {
			graph = append(graph, f.Raw...)
			return nil
		}
		graph = protowire.AppendTag(graph, 5, protowire.BytesType)
		graph = protowire.AppendBytes(graph, encodeFloatTensor(name, p.dims, p.elem, p.data))
		return nil
	})
	if err != nil {
		return nil, err
	}
	if edits != nil {
		for _, t := range edits.inits {
			graph = protowire.AppendTag(graph, 5, protowire.BytesType)
			graph = protowire.AppendBytes(graph, t)
		}
	}
	out := make([]byte, 0, len(model)-len(gi.graph)+len(graph)+16)
	err = onnxpb.EachField(model, func(f onnxpb.Field) error {
		if f.Num != 7 || f.Type != protowire.BytesType {
			out = append(out, f.Raw...)
			return nil
		}
		out = protowire.AppendTag(out, 7, protowire.BytesType)
		out = protowire.AppendBytes(out, graph)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(out) > math.MaxInt32 {
		return nil, fmt.Errorf("patched model is %d bytes, over protobuf's 2 GiB", len(out))
	}
	return out, nil
}

// addDeltas turns deltas into patches: original value + delta, in the
// initializer's own type.
func addDeltas(gi *graphIndex, targets map[string]loraTarget, deltas map[string][]float32, patches map[string]patch) error {
	byInit := map[string]loraTarget{}
	for _, t := range targets {
		byInit[t.init] = t
	}
	for init, d := range deltas {
		t := byInit[init]
		orig, err := gi.tensorFloats(gi.inits[init])
		if err != nil {
			return fmt.Errorf("initializer %q: %w", init, err)
		}
		if len(orig) != len(d) {
			return fmt.Errorf("initializer %q has %d values, delta %d", init, len(orig), len(d))
		}
		for i := range orig {
			orig[i] += d[i]
		}
		patches[init] = patch{dims: t.dims, elem: t.elem, data: orig}
	}
	return nil
}

// encodeFloatTensor is a TensorProto with raw float or float16 data.
func encodeFloatTensor(name string, dims []int64, elem onnxpb.DataType, data []float32) []byte {
	var b []byte
	var packed []byte
	for _, d := range dims {
		packed = protowire.AppendVarint(packed, uint64(d))
	}
	if len(dims) > 0 {
		b = protowire.AppendTag(b, 1, protowire.BytesType)
		b = protowire.AppendBytes(b, packed)
	}
	b = protowire.AppendTag(b, 2, protowire.VarintType)
	b = protowire.AppendVarint(b, uint64(elem))
	b = onnxpb.AppendString(b, 8, name)
	var raw []byte
	if elem == onnxpb.Float16 {
		raw = make([]byte, 2*len(data))
		for i, v := range data {
			binary.LittleEndian.PutUint16(raw[2*i:], half.Bits(v))
		}
	} else {
		raw = make([]byte, 4*len(data))
		for i, v := range data {
			binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(v))
		}
	}
	b = protowire.AppendTag(b, 9, protowire.BytesType)
	b = protowire.AppendBytes(b, raw)
	return b
}

// tokenTable finds the text encoder's token-embedding table: the
// initializer a Gather reads with the ids from input ids (through Casts)
// as indices, [vocab, dim].
func (gi *graphIndex) tokenTable(ids string, dim int) (loraTarget, error) {
	for _, n := range gi.nodes {
		if n.domain != "" || n.op != "Gather" || len(n.in) < 2 || gi.throughCasts(n.in[1]) != ids {
			continue
		}
		init := gi.throughCasts(n.in[0])
		t, ok := gi.inits[init]
		if !ok {
			continue
		}
		dims, elem, err := tensorHeader(t)
		if err != nil {
			return loraTarget{}, err
		}
		if len(dims) == 2 && int(dims[1]) == dim && (elem == onnxpb.Float || elem == onnxpb.Float16) {
			return loraTarget{init: init, dims: dims, elem: elem}, nil
		}
	}
	return loraTarget{}, fmt.Errorf("no Gather of a [vocab, %d] token table by %s", dim, ids)
}

// poolAtEOS returns the edits that keep CLIP's pooling at the EOS token
// when ids at or past vocab (embedding rows appended to the token table)
// are fed: transformers pools at argmax(input_ids) (the legacy form
// optimum's SDXL text_encoder_2 exports, eos_token_id 2 in its config),
// and A1111 feeds id 0 at an embedding's positions, so each ArgMax that
// reads the ids (through Casts) reads them with those ids as 0. The
// other form, argmax(input_ids == eos_token_id), is left as it is: the
// appended ids never equal EOS. nil when the graph has no such ArgMax.
func poolAtEOS(model []byte, gi *graphIndex, ids string, vocab int64) *graphEdits {
	prefix := "sdapi_pool_eos"
	for i := 1; bytes.Contains(model, []byte(prefix)); i++ {
		prefix = "sdapi_pool_eos" + strconv.Itoa(i)
	}
	rw := &rewriter{prefix: prefix, consts: map[int64]bool{}}
	var e *graphEdits
	for i, n := range gi.nodes {
		if n.domain != "" || n.op != "ArgMax" || len(n.in) == 0 || gi.throughCasts(n.in[0]) != ids {
			continue
		}
		if e == nil {
			e = &graphEdits{before: map[int][][]byte{}, input0: map[int]string{}}
		}
		var out [][]byte
		x := n.in[0]
		id64 := rw.add(&out, "Cast", []string{ids}, onnxpb.AttrInt("to", int64(onnxpb.Int64)))
		keep := rw.add(&out, "Less", []string{id64, rw.int64Const(vocab)})
		zero := rw.add(&out, "Sub", []string{x, x})
		e.input0[i] = rw.add(&out, "Where", []string{keep, x, zero})
		e.before[i] = out
	}
	if e != nil {
		e.inits = rw.inits
	}
	return e
}
