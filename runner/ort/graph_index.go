package ort

// A read-only index of a model's main graph (nodes, edges, initializers),
// built from the protobuf wire format, for rewrites that must find values
// by structure rather than by name (clipskip_graph.go).

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/sdapi/sdapi/internal/half"
	"github.com/sdapi/sdapi/runner/onnxgen/onnxpb"
)

// gnode is one NodeProto of the main graph.
type gnode struct {
	name       string
	op, domain string
	in, out    []string
	attrs      [][]byte // encoded AttributeProtos
}

// graphIndex indexes a ModelProto's main graph.
type graphIndex struct {
	dir       string // the model's directory, for external data
	graph     []byte // the GraphProto's encoding, a sub-slice of the model
	nodes     []gnode
	producer  map[string]int   // value name → index of the node that outputs it
	consumers map[string][]int // value name → nodes that read it
	inits     map[string][]byte
}

// indexGraph reads model's main graph; dir is where its external data lives.
func indexGraph(model []byte, dir string) (*graphIndex, error) {
	gi := &graphIndex{dir: dir, producer: map[string]int{}, consumers: map[string][]int{}, inits: map[string][]byte{}}
	graphs := 0
	err := onnxpb.EachField(model, func(f onnxpb.Field) error {
		if f.Num == 7 && f.Type == protowire.BytesType {
			gi.graph = f.Bytes
			graphs++
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if graphs != 1 {
		return nil, fmt.Errorf("model has %d graphs, want 1", graphs)
	}
	err = onnxpb.EachField(gi.graph, func(f onnxpb.Field) error {
		if f.Type != protowire.BytesType {
			return nil
		}
		switch f.Num {
		case 1:
			n, err := parseNode(f.Bytes)
			if err != nil {
				return err
			}
			i := len(gi.nodes)
			gi.nodes = append(gi.nodes, n)
			for _, o := range n.out {
				if o != "" {
					gi.producer[o] = i
				}
			}
			for _, in := range n.in {
				if in != "" {
					gi.consumers[in] = append(gi.consumers[in], i)
				}
			}
		case 5:
			name, err := tensorName(f.Bytes)
			if err != nil {
				return err
			}
			gi.inits[name] = f.Bytes
		}
		return nil
	})
	return gi, err
}

func parseNode(b []byte) (gnode, error) {
	var n gnode
	err := onnxpb.EachField(b, func(f onnxpb.Field) error {
		if f.Type != protowire.BytesType {
			return nil
		}
		switch f.Num {
		case 1:
			n.in = append(n.in, string(f.Bytes))
		case 2:
			n.out = append(n.out, string(f.Bytes))
		case 3:
			n.name = string(f.Bytes)
		case 4:
			n.op = string(f.Bytes)
		case 5:
			n.attrs = append(n.attrs, f.Bytes)
		case 7:
			n.domain = string(f.Bytes)
		}
		return nil
	})
	if n.domain == "ai.onnx" {
		n.domain = ""
	}
	return n, err
}

func tensorName(b []byte) (string, error) {
	var name string
	err := onnxpb.EachField(b, func(f onnxpb.Field) error {
		if f.Num == 8 && f.Type == protowire.BytesType {
			name = string(f.Bytes)
		}
		return nil
	})
	return name, err
}

// producerOf returns the default-domain node that outputs v.
func (gi *graphIndex) producerOf(v string) (gnode, bool) {
	i, ok := gi.producer[v]
	if !ok {
		return gnode{}, false
	}
	return gi.nodes[i], true
}

// throughCasts follows v back through Cast and Identity nodes, which an
// fp16 export puts around float32 computations.
func (gi *graphIndex) throughCasts(v string) string {
	for range len(gi.nodes) + 1 {
		n, ok := gi.producerOf(v)
		if !ok || n.domain != "" || (n.op != "Cast" && n.op != "Identity") || len(n.in) == 0 {
			return v
		}
		v = n.in[0]
	}
	return v
}

// readers returns the nodes reading v, looking through Cast and Identity.
func (gi *graphIndex) readers(v string) []gnode {
	var out []gnode
	seen := map[string]bool{}
	var walk func(string)
	walk = func(v string) {
		if seen[v] {
			return
		}
		seen[v] = true
		for _, i := range gi.consumers[v] {
			n := gi.nodes[i]
			if n.domain == "" && (n.op == "Cast" || n.op == "Identity") {
				for _, o := range n.out {
					walk(o)
				}
				continue
			}
			out = append(out, n)
		}
	}
	walk(v)
	return out
}

// floats returns the value of a constant as float32: an initializer, a
// Constant node, or either behind Cast/Identity nodes. ok is false when v
// is computed at run time.
func (gi *graphIndex) floats(v string) (vals []float32, ok bool, err error) {
	v = gi.throughCasts(v)
	if t, found := gi.inits[v]; found {
		vals, err = gi.tensorFloats(t)
		return vals, true, err
	}
	n, found := gi.producerOf(v)
	if !found || n.domain != "" || n.op != "Constant" {
		return nil, false, nil
	}
	for _, a := range n.attrs {
		name, val, err := constantAttr(a)
		if err != nil {
			return nil, true, err
		}
		switch name {
		case "value":
			vals, err = gi.tensorFloats(val.tensor)
			return vals, true, err
		case "value_float", "value_floats":
			return val.floats, true, nil
		}
	}
	return nil, true, fmt.Errorf("constant %q has no float value", v)
}

// attrValue holds the AttributeProto fields Constant nodes use.
type attrValue struct {
	f      float32
	i      int64
	tensor []byte
	floats []float32
}

func constantAttr(b []byte) (string, attrValue, error) {
	var name string
	var a attrValue
	err := onnxpb.EachField(b, func(f onnxpb.Field) error {
		switch {
		case f.Num == 1 && f.Type == protowire.BytesType:
			name = string(f.Bytes)
		case f.Num == 2 && f.Type == protowire.Fixed32Type:
			v, _ := protowire.ConsumeFixed32(f.Raw[protowire.SizeTag(2):])
			a.f = math.Float32frombits(v)
			a.floats = []float32{a.f}
		case f.Num == 3 && f.Type == protowire.VarintType:
			a.i = int64(f.Varint)
		case f.Num == 5 && f.Type == protowire.BytesType:
			a.tensor = f.Bytes
		case f.Num == 7 && f.Type == protowire.BytesType:
			for p := f.Bytes; len(p) >= 4; p = p[4:] {
				a.floats = append(a.floats, math.Float32frombits(binary.LittleEndian.Uint32(p)))
			}
		case f.Num == 7 && f.Type == protowire.Fixed32Type:
			v, _ := protowire.ConsumeFixed32(f.Raw[protowire.SizeTag(7):])
			a.floats = append(a.floats, math.Float32frombits(v))
		}
		return nil
	})
	return name, a, err
}

// nodeAttr returns the named attribute of n.
func nodeAttr(n gnode, want string) (attrValue, bool, error) {
	for _, b := range n.attrs {
		name, v, err := constantAttr(b)
		if err != nil {
			return v, false, err
		}
		if name == want {
			return v, true, nil
		}
	}
	return attrValue{}, false, nil
}

// tensorFloats decodes a float, float16 or double TensorProto, inline or
// in external data, as float32.
func (gi *graphIndex) tensorFloats(b []byte) ([]float32, error) {
	var (
		elem     onnxpb.DataType
		raw      []byte
		ints     []uint64 // int32_data: float16 bit patterns
		fl       []float32
		dbl      []float64
		ext      = map[string]string{}
		external bool
		numel    = int64(1)
	)
	err := onnxpb.EachField(b, func(f onnxpb.Field) error {
		switch {
		case f.Num == 1 && f.Type == protowire.VarintType:
			numel *= int64(f.Varint)
		case f.Num == 1 && f.Type == protowire.BytesType:
			for p := f.Bytes; len(p) > 0; {
				v, n := protowire.ConsumeVarint(p)
				if n < 0 {
					return protowire.ParseError(n)
				}
				numel *= int64(v)
				p = p[n:]
			}
		case f.Num == 2 && f.Type == protowire.VarintType:
			elem = onnxpb.DataType(f.Varint)
		case f.Num == 4 && f.Type == protowire.BytesType:
			for p := f.Bytes; len(p) >= 4; p = p[4:] {
				fl = append(fl, math.Float32frombits(binary.LittleEndian.Uint32(p)))
			}
		case f.Num == 4 && f.Type == protowire.Fixed32Type:
			v, _ := protowire.ConsumeFixed32(f.Raw[protowire.SizeTag(4):])
			fl = append(fl, math.Float32frombits(v))
		case f.Num == 5 && f.Type == protowire.BytesType:
			for p := f.Bytes; len(p) > 0; {
				v, n := protowire.ConsumeVarint(p)
				if n < 0 {
					return protowire.ParseError(n)
				}
				ints = append(ints, v)
				p = p[n:]
			}
		case f.Num == 5 && f.Type == protowire.VarintType:
			ints = append(ints, f.Varint)
		case f.Num == 9 && f.Type == protowire.BytesType:
			raw = f.Bytes
		case f.Num == 10 && f.Type == protowire.BytesType:
			for p := f.Bytes; len(p) >= 8; p = p[8:] {
				dbl = append(dbl, math.Float64frombits(binary.LittleEndian.Uint64(p)))
			}
		case f.Num == 13 && f.Type == protowire.BytesType:
			var k, v string
			if err := onnxpb.EachField(f.Bytes, func(e onnxpb.Field) error {
				switch {
				case e.Num == 1 && e.Type == protowire.BytesType:
					k = string(e.Bytes)
				case e.Num == 2 && e.Type == protowire.BytesType:
					v = string(e.Bytes)
				}
				return nil
			}); err != nil {
				return err
			}
			ext[k] = v
		case f.Num == 14 && f.Type == protowire.VarintType:
			external = f.Varint == 1
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if numel < 0 || numel > 1<<26 {
		return nil, fmt.Errorf("tensor of %d elements", numel)
	}
	if external {
		if raw, err = gi.externalData(ext); err != nil {
			return nil, err
		}
	}
	out := make([]float32, 0, numel)
	switch {
	case raw != nil:
		switch elem {
		case onnxpb.Float:
			for p := raw; len(p) >= 4; p = p[4:] {
				out = append(out, math.Float32frombits(binary.LittleEndian.Uint32(p)))
			}
		case onnxpb.Float16:
			for p := raw; len(p) >= 2; p = p[2:] {
				out = append(out, half.Float32(binary.LittleEndian.Uint16(p)))
			}
		case onnxpb.Double:
			for p := raw; len(p) >= 8; p = p[8:] {
				out = append(out, float32(math.Float64frombits(binary.LittleEndian.Uint64(p))))
			}
		default:
			return nil, fmt.Errorf("tensor type %v is not a float type", elem)
		}
	case elem == onnxpb.Float:
		out = fl
	case elem == onnxpb.Float16:
		for _, v := range ints {
			out = append(out, half.Float32(uint16(v)))
		}
	case elem == onnxpb.Double:
		for _, v := range dbl {
			out = append(out, float32(v))
		}
	default:
		return nil, fmt.Errorf("tensor type %v is not a float type", elem)
	}
	if int64(len(out)) != numel {
		return nil, fmt.Errorf("tensor holds %d values for %d elements", len(out), numel)
	}
	return out, nil
}

// externalData reads an initializer's bytes from its external data file,
// which must lie in the model's directory tree.
func (gi *graphIndex) externalData(ext map[string]string) ([]byte, error) {
	loc := ext["location"]
	if !filepath.IsLocal(loc) {
		return nil, fmt.Errorf("external data location %q is outside the model directory", loc)
	}
	var off, n int64
	var err error
	if s := ext["offset"]; s != "" {
		if off, err = strconv.ParseInt(s, 10, 64); err != nil || off < 0 {
			return nil, fmt.Errorf("external data offset %q", s)
		}
	}
	if s := ext["length"]; s != "" {
		if n, err = strconv.ParseInt(s, 10, 64); err != nil || n < 0 || n > 1<<28 {
			return nil, fmt.Errorf("external data length %q", s)
		}
	} else {
		return nil, errors.New("external data without a length")
	}
	f, err := os.Open(filepath.Join(gi.dir, loc))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	buf := make([]byte, n)
	if _, err := f.ReadAt(buf, off); err != nil && !(errors.Is(err, io.EOF) && len(buf) == 0) {
		return nil, fmt.Errorf("external data %s: %w", loc, err)
	}
	return buf, nil
}
