package onnxpb

import (
	"bufio"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"

	"google.golang.org/protobuf/encoding/protowire"
)

// DefaultSizeThreshold is the initializer size in bytes from which
// WriteFile moves data to the external file. Smaller tensors stay inline:
// ONNX Runtime cannot run shape inference on external shape constants.
const DefaultSizeThreshold = 1024

// maxProtoSize is the protobuf message size limit (2 GiB).
const maxProtoSize = math.MaxInt32

// ErrTooLarge is returned when a model does not fit into one protobuf
// message; write it with external data.
var ErrTooLarge = errors.New("onnxpb: model exceeds 2 GiB, use external data")

// WriteOptions controls how WriteFile lays out a model.
type WriteOptions struct {
	// ExternalData is the side file, relative to the model's directory
	// (such as "weights.pb"). Empty keeps every initializer inline.
	ExternalData string
	// SizeThreshold is the smallest initializer (in bytes) moved to
	// ExternalData; zero means DefaultSizeThreshold.
	SizeThreshold int
	// Producer is written as producer_name; empty means "sdapi".
	Producer string
}

// Marshal encodes the graph as a ModelProto with every initializer inline.
func (g *Graph) Marshal() ([]byte, error) {
	return g.marshal(WriteOptions{}, nil)
}

// WriteFile writes the model to path and, with opts.ExternalData set, the
// large initializers to one side file next to it.
func (g *Graph) WriteFile(path string, opts WriteOptions) (err error) {
	var ext *extWriter
	if opts.ExternalData != "" {
		f, err := os.Create(filepath.Join(filepath.Dir(path), opts.ExternalData))
		if err != nil {
			return err
		}
		ext = &extWriter{w: bufio.NewWriterSize(f, 1<<20)}
		defer func() {
			if ferr := ext.w.Flush(); err == nil {
				err = ferr
			}
			if cerr := f.Close(); err == nil {
				err = cerr
			}
		}()
	}
	b, err := g.marshal(opts, ext)
	if err != nil {
		return err
	}
	if ext != nil && ext.err != nil {
		return ext.err
	}
	return os.WriteFile(path, b, 0o644)
}

type extWriter struct {
	w   *bufio.Writer
	off int64
	err error
}

func (e *extWriter) write(p []byte) int64 {
	off := e.off
	if e.err == nil {
		_, e.err = e.w.Write(p)
	}
	e.off += int64(len(p))
	return off
}

func (g *Graph) marshal(opts WriteOptions, ext *extWriter) ([]byte, error) {
	threshold := opts.SizeThreshold
	if threshold <= 0 {
		threshold = DefaultSizeThreshold
	}
	producer := opts.Producer
	if producer == "" {
		producer = "sdapi"
	}

	var gb []byte
	for _, n := range g.nodes {
		gb = protowire.AppendTag(gb, 1, protowire.BytesType)
		gb = protowire.AppendBytes(gb, encodeNode(n))
	}
	gb = AppendString(gb, 2, g.Name)
	for _, t := range g.inits {
		var tb []byte
		if ext != nil && len(t.Raw) >= threshold {
			off := ext.write(t.Raw)
			tb = encodeExternalTensor(t, opts.ExternalData, off)
		} else {
			tb = encodeTensor(t)
		}
		gb = protowire.AppendTag(gb, 5, protowire.BytesType)
		gb = protowire.AppendBytes(gb, tb)
		if len(gb) > maxProtoSize {
			return nil, ErrTooLarge
		}
	}
	if g.Doc != "" {
		gb = AppendString(gb, 10, g.Doc)
	}
	for _, v := range g.inputs {
		gb = protowire.AppendTag(gb, 11, protowire.BytesType)
		gb = protowire.AppendBytes(gb, encodeValueInfo(v))
	}
	for _, v := range g.outputs {
		gb = protowire.AppendTag(gb, 12, protowire.BytesType)
		gb = protowire.AppendBytes(gb, encodeValueInfo(v))
	}

	var mb []byte
	mb = protowire.AppendTag(mb, 1, protowire.VarintType)
	mb = protowire.AppendVarint(mb, IRVersion)
	mb = AppendString(mb, 2, producer)
	if len(gb)+len(mb)+16 > maxProtoSize {
		return nil, ErrTooLarge
	}
	mb = protowire.AppendTag(mb, 7, protowire.BytesType)
	mb = protowire.AppendBytes(mb, gb)
	var ob []byte
	ob = AppendString(ob, 1, "")
	ob = protowire.AppendTag(ob, 2, protowire.VarintType)
	ob = protowire.AppendVarint(ob, OpsetVersion)
	mb = protowire.AppendTag(mb, 8, protowire.BytesType)
	mb = protowire.AppendBytes(mb, ob)
	return mb, nil
}

func encodeNode(n node) []byte {
	var b []byte
	for _, in := range n.inputs {
		b = AppendString(b, 1, in)
	}
	for _, out := range n.outputs {
		b = AppendString(b, 2, out)
	}
	b = AppendString(b, 3, n.name)
	b = AppendString(b, 4, n.op)
	for _, a := range n.attrs {
		b = protowire.AppendTag(b, 5, protowire.BytesType)
		b = protowire.AppendBytes(b, EncodeAttr(a))
	}
	if n.domain != "" {
		b = AppendString(b, 7, n.domain)
	}
	return b
}

// EncodeAttr is a's AttributeProto encoding.
func EncodeAttr(a Attr) []byte {
	var b []byte
	b = AppendString(b, 1, a.name)
	switch a.kind {
	case attrFloat:
		b = protowire.AppendTag(b, 2, protowire.Fixed32Type)
		b = protowire.AppendFixed32(b, math.Float32bits(a.f))
	case attrInt:
		b = protowire.AppendTag(b, 3, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(a.i))
	case attrString:
		b = AppendString(b, 4, a.s)
	case attrTensor:
		b = protowire.AppendTag(b, 5, protowire.BytesType)
		b = protowire.AppendBytes(b, encodeTensor(*a.t))
	case attrFloats:
		for _, f := range a.floats {
			b = protowire.AppendTag(b, 7, protowire.Fixed32Type)
			b = protowire.AppendFixed32(b, math.Float32bits(f))
		}
	case attrInts:
		for _, i := range a.ints {
			b = protowire.AppendTag(b, 8, protowire.VarintType)
			b = protowire.AppendVarint(b, uint64(i))
		}
	case attrStrings:
		for _, s := range a.strings {
			b = AppendString(b, 9, s)
		}
	}
	b = protowire.AppendTag(b, 20, protowire.VarintType)
	return protowire.AppendVarint(b, uint64(a.kind))
}

func appendTensorHeader(b []byte, t Tensor) []byte {
	if len(t.Dims) > 0 {
		var packed []byte
		for _, d := range t.Dims {
			packed = protowire.AppendVarint(packed, uint64(d))
		}
		b = protowire.AppendTag(b, 1, protowire.BytesType)
		b = protowire.AppendBytes(b, packed)
	}
	b = protowire.AppendTag(b, 2, protowire.VarintType)
	b = protowire.AppendVarint(b, uint64(t.Elem))
	return AppendString(b, 8, t.Name)
}

func encodeTensor(t Tensor) []byte {
	b := make([]byte, 0, len(t.Raw)+len(t.Name)+32)
	b = appendTensorHeader(b, t)
	b = protowire.AppendTag(b, 9, protowire.BytesType)
	return protowire.AppendBytes(b, t.Raw)
}

func encodeExternalTensor(t Tensor, location string, offset int64) []byte {
	b := appendTensorHeader(nil, t)
	for _, kv := range [][2]string{
		{"location", location},
		{"offset", strconv.FormatInt(offset, 10)},
		{"length", strconv.Itoa(len(t.Raw))},
	} {
		var e []byte
		e = AppendString(e, 1, kv[0])
		e = AppendString(e, 2, kv[1])
		b = protowire.AppendTag(b, 13, protowire.BytesType)
		b = protowire.AppendBytes(b, e)
	}
	b = protowire.AppendTag(b, 14, protowire.VarintType)
	return protowire.AppendVarint(b, 1) // DataLocation EXTERNAL
}

// EncodeValueInfo encodes a ValueInfoProto, for graph rewrites that add
// inputs or outputs.
func EncodeValueInfo(v ValueInfo) []byte { return encodeValueInfo(v) }

func encodeValueInfo(v ValueInfo) []byte {
	var shape []byte
	for _, d := range v.Dims {
		var db []byte
		if d.Param != "" {
			db = AppendString(db, 2, d.Param)
		} else {
			db = protowire.AppendTag(db, 1, protowire.VarintType)
			db = protowire.AppendVarint(db, uint64(d.Value))
		}
		shape = protowire.AppendTag(shape, 1, protowire.BytesType)
		shape = protowire.AppendBytes(shape, db)
	}
	var tt []byte
	tt = protowire.AppendTag(tt, 1, protowire.VarintType)
	tt = protowire.AppendVarint(tt, uint64(v.Elem))
	if !v.UnknownRank {
		tt = protowire.AppendTag(tt, 2, protowire.BytesType)
		tt = protowire.AppendBytes(tt, shape)
	}
	var tp []byte
	tp = protowire.AppendTag(tp, 1, protowire.BytesType)
	tp = protowire.AppendBytes(tp, tt)

	var b []byte
	b = AppendString(b, 1, v.Name)
	b = protowire.AppendTag(b, 2, protowire.BytesType)
	return protowire.AppendBytes(b, tp)
}

// String describes the graph briefly, for logs and test failures.
func (g *Graph) String() string {
	return fmt.Sprintf("graph %s: %d nodes, %d initializers, %d params",
		g.Name, len(g.nodes), len(g.inits), g.ParamCount())
}
