// Package onnxpb encodes ONNX models (onnx.proto) with protowire and reads
// the declared inputs and outputs of an existing model.onnx without loading
// its weights.
//
// Only the subset of onnx.proto needed to build inference graphs is
// supported: nodes, attributes, initializers (inline or external data) and
// tensor-typed graph inputs and outputs.
package onnxpb

import (
	"fmt"
	"strings"
)

// Header values written into every model.
const (
	IRVersion    = 8
	OpsetVersion = 17
)

// DataType is onnx.TensorProto.DataType.
type DataType int32

// Element types used by Stable Diffusion exports.
const (
	Undefined DataType = 0
	Float     DataType = 1
	Uint8     DataType = 2
	Int8      DataType = 3
	Int32     DataType = 6
	Int64     DataType = 7
	Bool      DataType = 9
	Float16   DataType = 10
	Double    DataType = 11
)

// String returns the ONNX Runtime spelling of the type, such as "tensor(float)".
func (t DataType) String() string {
	switch t {
	case Float:
		return "tensor(float)"
	case Uint8:
		return "tensor(uint8)"
	case Int8:
		return "tensor(int8)"
	case Int32:
		return "tensor(int32)"
	case Int64:
		return "tensor(int64)"
	case Bool:
		return "tensor(bool)"
	case Float16:
		return "tensor(float16)"
	case Double:
		return "tensor(double)"
	}
	return fmt.Sprintf("tensor(type %d)", int32(t))
}

// Dim is one dimension of a tensor shape: a fixed size, or a symbolic
// name when Param is not empty.
type Dim struct {
	Value int64
	Param string
}

// D returns a fixed dimension.
func D(v int64) Dim { return Dim{Value: v} }

// Sym returns a symbolic dimension.
func Sym(name string) Dim { return Dim{Param: name} }

// IsSymbolic reports whether the dimension has no fixed size.
func (d Dim) IsSymbolic() bool { return d.Param != "" || d.Value <= 0 }

// String returns the size, or the symbolic name.
func (d Dim) String() string {
	if d.Param != "" {
		return d.Param
	}
	if d.Value <= 0 {
		return "?"
	}
	return fmt.Sprint(d.Value)
}

// ValueInfo is a typed graph input or output.
type ValueInfo struct {
	Name string
	Elem DataType
	// Dims is the shape; empty for a scalar.
	Dims []Dim
	// UnknownRank is set by ReadIO when the model declares no shape at all.
	UnknownRank bool
}

// Rank returns the number of dimensions, or -1 when the rank is unknown.
func (v ValueInfo) Rank() int {
	if v.UnknownRank {
		return -1
	}
	return len(v.Dims)
}

// String formats the value as "name tensor(float)[batch,4,height,width]".
func (v ValueInfo) String() string {
	if v.UnknownRank {
		return v.Name + " " + v.Elem.String() + "[...]"
	}
	ds := make([]string, len(v.Dims))
	for i, d := range v.Dims {
		ds[i] = d.String()
	}
	return v.Name + " " + v.Elem.String() + "[" + strings.Join(ds, ",") + "]"
}

// Tensor is an initializer: a named constant with raw little-endian data.
type Tensor struct {
	Name string
	Elem DataType
	Dims []int64
	Raw  []byte
}

type attrKind int32

// AttributeProto.AttributeType values.
const (
	attrFloat   attrKind = 1
	attrInt     attrKind = 2
	attrString  attrKind = 3
	attrTensor  attrKind = 4
	attrFloats  attrKind = 6
	attrInts    attrKind = 7
	attrStrings attrKind = 8
)

// Attr is a node attribute. Build it with AttrInt, AttrFloat, AttrInts,
// AttrFloats, AttrString or AttrTensor.
type Attr struct {
	name    string
	kind    attrKind
	f       float32
	i       int64
	s       string
	floats  []float32
	ints    []int64
	strings []string
	t       *Tensor
}

// AttrInt returns an INT attribute.
func AttrInt(name string, v int64) Attr { return Attr{name: name, kind: attrInt, i: v} }

// AttrFloat returns a FLOAT attribute.
func AttrFloat(name string, v float32) Attr { return Attr{name: name, kind: attrFloat, f: v} }

// AttrString returns a STRING attribute.
func AttrString(name, v string) Attr { return Attr{name: name, kind: attrString, s: v} }

// AttrInts returns an INTS attribute.
func AttrInts(name string, v ...int64) Attr { return Attr{name: name, kind: attrInts, ints: v} }

// AttrFloats returns a FLOATS attribute.
func AttrFloats(name string, v ...float32) Attr {
	return Attr{name: name, kind: attrFloats, floats: v}
}

// AttrStrings returns a STRINGS attribute.
func AttrStrings(name string, v ...string) Attr {
	return Attr{name: name, kind: attrStrings, strings: v}
}

// AttrTensor returns a TENSOR attribute, as used by Constant and
// ConstantOfShape.
func AttrTensor(name string, t Tensor) Attr { return Attr{name: name, kind: attrTensor, t: &t} }
