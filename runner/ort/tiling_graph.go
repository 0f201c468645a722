package ort

// The graph rewrites behind tiling (tiling.go) and sizes that are not
// multiples of 64 (anysize.go), done on the protobuf wire format so that
// everything they do not touch is copied byte for byte.

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/sdapi/sdapi/runner/onnxgen/onnxpb"
)

// rewriteStats counts what rewriteModel did.
type rewriteStats struct {
	// concats counts two-input channel Concats whose first input is now
	// resized to the second's spatial size (matchSizes).
	concats        int
	convs          int // Conv nodes now padding circularly
	sameSkipped    int // Conv nodes with auto_pad SAME_*, left as they are
	asymmetricKept int // Conv nodes with a fused zero Pad, left as they are
	// contribSkipped counts com.microsoft convolutions (FusedConv,
	// NhwcConv, ...), which offline-optimised exports contain: their
	// padding is not rewritten, so they keep zero padding.
	contribSkipped int
}

// circularModel rewrites a serialized ModelProto: each Conv of the main
// graph (default domain) with non-zero symmetric explicit pads reads its
// input wrapped around along every padded spatial axis and has its pads
// removed, which is torch's padding_mode='circular'. Every other byte is copied as
// it is, so external data references, metadata and unknown fields survive.
// The model is returned unchanged when no Conv needs it.
func circularModel(model []byte) ([]byte, rewriteStats, error) {
	return rewriteModel(model, rewriteOptions{circular: true})
}

// rewriteOptions say which rewrites rewriteModel applies.
type rewriteOptions struct {
	// circular pads the Convs circularly (circularModel).
	circular bool
	// matchSizes resizes the first input of every two-input Concat on
	// axis 1 to the second's spatial size (nearest, as torch's
	// F.interpolate), which is A1111's TorchHijackForUnet.cat: the UNet's
	// skip connections then join when the latent is not a multiple of the
	// UNet's downsampling factor. Where the sizes match it copies.
	matchSizes bool
}

// rewriteModel applies opts to a serialized ModelProto and returns it
// unchanged when nothing needed rewriting.
func rewriteModel(model []byte, opts rewriteOptions) ([]byte, rewriteStats, error) {
	var (
		graph  []byte
		graphs int
		ir     uint64
		opset  int64 = -1
	)
	err := onnxpb.EachField(model, func(f onnxpb.Field) error {
		switch {
		case f.Num == 1 && f.Type == protowire.VarintType:
			ir = f.Varint
		case f.Num == 7 && f.Type == protowire.BytesType:
			graph = f.Bytes
			graphs++
		case f.Num == 8 && f.Type == protowire.BytesType: // OperatorSetIdProto
			var domain string
			var version int64
			if err := onnxpb.EachField(f.Bytes, func(g onnxpb.Field) error {
				switch {
				case g.Num == 1 && g.Type == protowire.BytesType:
					domain = string(g.Bytes)
				case g.Num == 2 && g.Type == protowire.VarintType:
					version = int64(g.Varint)
				}
				return nil
			}); err != nil {
				return err
			}
			if domain == "" || domain == "ai.onnx" {
				opset = version
			}
		}
		return nil
	})
	switch {
	case err != nil:
		return nil, rewriteStats{}, err
	case graphs != 1:
		return nil, rewriteStats{}, fmt.Errorf("model has %d graphs, want 1", graphs)
	case opset < 0:
		return nil, rewriteStats{}, errors.New("model imports no ai.onnx opset")
	case ir < 4:
		// Before IR 4 every initializer also had to be a graph input.
		return nil, rewriteStats{}, fmt.Errorf("IR version %d is too old (want 4 or later)", ir)
	}
	if opts.matchSizes && opset < 11 {
		return nil, rewriteStats{}, fmt.Errorf("opset %d: matching sizes needs Resize with sizes (opset 11)", opset)
	}
	rw := &rewriter{opts: opts, prefix: uniquePrefix(model), sliceInputs: opset >= 10, consts: map[int64]bool{}}
	chunks, err := rw.graph(graph)
	if err != nil || rw.stats.convs+rw.stats.concats == 0 {
		return model, rw.stats, err
	}
	size := 0
	for _, c := range chunks {
		size += len(c)
	}
	out := make([]byte, 0, len(model)-len(graph)+size+protowire.SizeVarint(uint64(size)))
	err = onnxpb.EachField(model, func(f onnxpb.Field) error {
		if f.Num != 7 || f.Type != protowire.BytesType {
			out = append(out, f.Raw...)
			return nil
		}
		out = protowire.AppendTag(out, 7, protowire.BytesType)
		out = protowire.AppendVarint(out, uint64(size))
		for _, c := range chunks {
			out = append(out, c...)
		}
		return nil
	})
	if err != nil {
		return nil, rw.stats, err
	}
	if len(out) > math.MaxInt32 {
		return nil, rw.stats, fmt.Errorf("rewritten model is %d bytes, over protobuf's 2 GiB", len(out))
	}
	return out, rw.stats, nil
}

// uniquePrefix returns a name prefix for the added values that occurs
// nowhere in the model, so no added name can collide with an existing one.
func uniquePrefix(model []byte) string {
	p := "sdapi_circular_pad"
	for i := 1; bytes.Contains(model, []byte(p)); i++ {
		p = "sdapi_circular_pad" + strconv.Itoa(i)
	}
	return p
}

type rewriter struct {
	opts        rewriteOptions
	prefix      string
	sliceInputs bool           // opset ≥ 10: Slice takes starts/ends/axes as inputs
	consts      map[int64]bool // int64 initializers added, by value
	inits       [][]byte       // encoded TensorProtos
	n           int            // counter for unique names
	stats       rewriteStats
}

// graph returns the GraphProto's new encoding as chunks: untouched fields
// are sub-slices of g, so large inline weights are not copied twice.
func (rw *rewriter) graph(g []byte) ([][]byte, error) {
	var chunks [][]byte
	err := onnxpb.EachField(g, func(f onnxpb.Field) error {
		if f.Num != 1 || f.Type != protowire.BytesType { // not a node
			chunks = append(chunks, f.Raw)
			return nil
		}
		nodes, err := rw.node(f.Bytes)
		if err != nil {
			return err
		}
		if nodes == nil {
			chunks = append(chunks, f.Raw)
		}
		for _, n := range nodes {
			chunks = append(chunks, protowire.AppendBytes(protowire.AppendTag(nil, 1, protowire.BytesType), n))
		}
		return nil
	})
	for _, t := range rw.inits {
		chunks = append(chunks, protowire.AppendBytes(protowire.AppendTag(nil, 5, protowire.BytesType), t))
	}
	return chunks, err
}

// node returns the encoded nodes replacing the NodeProto b, or nil to keep
// it. The padding nodes come right before the Conv, keeping the graph
// topologically sorted.
func (rw *rewriter) node(b []byte) ([][]byte, error) {
	var (
		op, domain, name, autoPad string
		input0, input1            string
		inputs                    int
		pads                      []int64
		axis                      int64
		hasAxis                   bool
	)
	err := onnxpb.EachField(b, func(f onnxpb.Field) error {
		if f.Type != protowire.BytesType {
			return nil
		}
		switch f.Num {
		case 1:
			switch inputs {
			case 0:
				input0 = string(f.Bytes)
			case 1:
				input1 = string(f.Bytes)
			}
			inputs++
		case 3:
			name = string(f.Bytes)
		case 4:
			op = string(f.Bytes)
		case 7:
			domain = string(f.Bytes)
		case 5:
			an, a, err := parseAttr(f.Bytes)
			switch {
			case err != nil:
				return err
			case an == "pads":
				pads = a.ints
			case an == "auto_pad":
				autoPad = a.s
			case an == "axis":
				axis, hasAxis = a.i, a.hasI
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	defaultDomain := domain == "" || domain == "ai.onnx"
	if op == "Concat" && defaultDomain && rw.opts.matchSizes && inputs == 2 && hasAxis && axis == 1 {
		return rw.matchSizes(b, input0, input1)
	}
	if !rw.opts.circular {
		return nil, nil
	}
	if domain == "com.microsoft" && strings.Contains(op, "Conv") {
		// Only a padded one loses the wrap-around (1×1 ones are common).
		if strings.HasPrefix(autoPad, "SAME") || slices.ContainsFunc(pads, func(v int64) bool { return v != 0 }) {
			rw.stats.contribSkipped++
		}
		return nil, nil
	}
	if op != "Conv" || !defaultDomain {
		return nil, nil
	}
	switch autoPad {
	case "", "NOTSET":
	case "VALID":
		return nil, nil
	default: // SAME_UPPER, SAME_LOWER: the pads depend on the input size
		rw.stats.sameSkipped++
		return nil, nil
	}
	if len(pads)%2 != 0 || inputs < 2 {
		return nil, fmt.Errorf("conv node %q: %d pads, %d inputs", name, len(pads), inputs)
	}
	k := len(pads) / 2
	for i := range k {
		if pads[i] < 0 || pads[k+i] < 0 {
			return nil, fmt.Errorf("conv node %q: negative pads %v", name, pads)
		}
		if pads[i] != pads[k+i] {
			// torch's Conv2d pads symmetrically; asymmetric pads are an
			// explicit zero Pad fused into the Conv, such as the VAE
			// encoder's F.pad(x, (0, 1, 0, 1)) before its stride-2
			// downsampling conv, which A1111's tiling leaves zero.
			rw.stats.asymmetricKept++
			return nil, nil
		}
	}
	var out [][]byte
	x := input0
	for i := range k {
		begin, end := pads[i], pads[k+i]
		if begin == 0 && end == 0 {
			continue
		}
		axis := int64(2 + i) // pads cover the spatial axes after N and C
		parts := make([]string, 0, 3)
		if begin > 0 { // the last `begin` rows go before the first
			parts = append(parts, rw.slice(&out, x, -begin, math.MaxInt64, axis))
		}
		parts = append(parts, x)
		if end > 0 { // the first `end` rows go after the last
			parts = append(parts, rw.slice(&out, x, 0, end, axis))
		}
		x = rw.add(&out, "Concat", parts, onnxpb.AttrInt("axis", axis))
	}
	if len(out) == 0 {
		return nil, nil
	}
	// The Conv itself: input 0 replaced, pads dropped (they default to 0).
	conv, err := replaceInput0(b, x, "pads")
	rw.stats.convs++
	return append(out, conv), err
}

// matchSizes returns the nodes that resize the Concat b's first input a to
// the spatial size of its second input c (rank-generic: the sizes are a's
// first two dimensions and c's others, so a Concat of 2-D tensors resizes
// nothing), followed by the Concat reading the resized a.
func (rw *rewriter) matchSizes(b []byte, a, c string) ([][]byte, error) {
	var out [][]byte
	head := rw.slice(&out, rw.add(&out, "Shape", []string{a}), 0, 2, 0)
	tail := rw.slice(&out, rw.add(&out, "Shape", []string{c}), 2, math.MaxInt64, 0)
	sizes := rw.add(&out, "Concat", []string{head, tail}, onnxpb.AttrInt("axis", 0))
	resized := rw.add(&out, "Resize", []string{a, "", "", sizes},
		onnxpb.AttrString("mode", "nearest"),
		onnxpb.AttrString("coordinate_transformation_mode", "asymmetric"),
		onnxpb.AttrString("nearest_mode", "floor"))
	concat, err := replaceInput0(b, resized, "")
	rw.stats.concats++
	return append(out, concat), err
}

// replaceInput0 re-encodes the NodeProto b with its first input replaced
// by x and the attribute named drop ("" none) removed.
func replaceInput0(b []byte, x, drop string) ([]byte, error) {
	var node []byte
	first := true
	err := onnxpb.EachField(b, func(f onnxpb.Field) error {
		switch {
		case f.Num == 1 && f.Type == protowire.BytesType && first:
			node = onnxpb.AppendString(node, 1, x)
			first = false
		case f.Num == 5 && f.Type == protowire.BytesType && drop != "":
			if an, _, _ := parseAttr(f.Bytes); an != drop {
				node = append(node, f.Raw...)
			}
		default:
			node = append(node, f.Raw...)
		}
		return nil
	})
	return node, err
}

// slice adds x[start:end] along axis and returns its name.
func (rw *rewriter) slice(out *[][]byte, x string, start, end, axis int64) string {
	if rw.sliceInputs {
		return rw.add(out, "Slice", []string{x, rw.int64Const(start), rw.int64Const(end), rw.int64Const(axis)})
	}
	return rw.add(out, "Slice", []string{x}, onnxpb.AttrInts("starts", start), onnxpb.AttrInts("ends", end), onnxpb.AttrInts("axes", axis))
}

// add appends a single-output node and returns its output's name.
func (rw *rewriter) add(out *[][]byte, op string, inputs []string, attrs ...onnxpb.Attr) string {
	rw.n++
	y := rw.prefix + "/" + strconv.Itoa(rw.n)
	var b []byte
	for _, in := range inputs {
		b = onnxpb.AppendString(b, 1, in)
	}
	b = onnxpb.AppendString(b, 2, y)
	b = onnxpb.AppendString(b, 3, rw.prefix+"/"+op+"_"+strconv.Itoa(rw.n))
	b = onnxpb.AppendString(b, 4, op)
	for _, a := range attrs {
		b = protowire.AppendTag(b, 5, protowire.BytesType)
		b = protowire.AppendBytes(b, onnxpb.EncodeAttr(a))
	}
	*out = append(*out, b)
	return y
}

// int64Const returns the name of a shared int64[1] initializer holding v.
func (rw *rewriter) int64Const(v int64) string {
	name := rw.prefix + "/i64_" + strconv.FormatInt(v, 10)
	if !rw.consts[v] {
		rw.consts[v] = true
		var t []byte
		t = protowire.AppendTag(t, 1, protowire.VarintType) // dims: [1]
		t = protowire.AppendVarint(t, 1)
		t = protowire.AppendTag(t, 2, protowire.VarintType) // data_type
		t = protowire.AppendVarint(t, uint64(onnxpb.Int64))
		t = onnxpb.AppendString(t, 8, name)
		t = protowire.AppendTag(t, 9, protowire.BytesType) // raw_data, little-endian
		t = protowire.AppendBytes(t, binary.LittleEndian.AppendUint64(nil, uint64(v)))
		rw.inits = append(rw.inits, t)
	}
	return name
}

// attr holds the AttributeProto values the rewrite reads.
type attr struct {
	s    string
	ints []int64
	i    int64
	hasI bool
}

// parseAttr reads an AttributeProto's name, string and ints (packed or not).
func parseAttr(b []byte) (string, attr, error) {
	var name string
	var a attr
	err := onnxpb.EachField(b, func(f onnxpb.Field) error {
		switch {
		case f.Num == 1 && f.Type == protowire.BytesType:
			name = string(f.Bytes)
		case f.Num == 4 && f.Type == protowire.BytesType:
			a.s = string(f.Bytes)
		case f.Num == 3 && f.Type == protowire.VarintType:
			a.i, a.hasI = int64(f.Varint), true
		case f.Num == 8 && f.Type == protowire.VarintType:
			a.ints = append(a.ints, int64(f.Varint))
		case f.Num == 8 && f.Type == protowire.BytesType:
			for p := f.Bytes; len(p) > 0; {
				v, n := protowire.ConsumeVarint(p)
				if n < 0 {
					return fmt.Errorf("malformed packed ints: %w", protowire.ParseError(n))
				}
				a.ints = append(a.ints, int64(v))
				p = p[n:]
			}
		}
		return nil
	})
	return name, a, err
}
