package onnxpb

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/sdapi/sdapi/internal/half"
)

// Graph is an ONNX graph under construction. The zero value is not usable;
// call NewGraph.
type Graph struct {
	Name string
	Doc  string

	nodes   []node
	inits   []Tensor
	inputs  []ValueInfo
	outputs []ValueInfo
	names   map[string]bool
}

type node struct {
	name    string
	domain  string // "" is ai.onnx
	op      string
	inputs  []string
	outputs []string
	attrs   []Attr
}

// NewGraph returns an empty graph.
func NewGraph(name string) *Graph {
	return &Graph{Name: name, names: map[string]bool{}}
}

// AddInput declares a graph input.
func (g *Graph) AddInput(name string, elem DataType, dims ...Dim) {
	g.inputs = append(g.inputs, ValueInfo{Name: name, Elem: elem, Dims: dims})
}

// AddOutput declares a graph output.
func (g *Graph) AddOutput(name string, elem DataType, dims ...Dim) {
	g.outputs = append(g.outputs, ValueInfo{Name: name, Elem: elem, Dims: dims})
}

// Inputs returns the declared graph inputs.
func (g *Graph) Inputs() []ValueInfo { return g.inputs }

// Outputs returns the declared graph outputs.
func (g *Graph) Outputs() []ValueInfo { return g.outputs }

// AddNode appends a node in the default ("") domain. An empty input name
// marks an omitted optional input. Nodes must be added in topological order.
func (g *Graph) AddNode(op string, inputs, outputs []string, attrs ...Attr) {
	g.nodes = append(g.nodes, node{
		name:    fmt.Sprintf("%s_%d", op, len(g.nodes)),
		op:      op,
		inputs:  inputs,
		outputs: outputs,
		attrs:   attrs,
	})
}

// AddNamedNode is AddNode with the node's name given, as exporters name
// nodes after their module path.
func (g *Graph) AddNamedNode(name, op string, inputs, outputs []string, attrs ...Attr) {
	g.AddNode(op, inputs, outputs, attrs...)
	g.nodes[len(g.nodes)-1].name = name
}

// AddDomainNode appends a node of another operator domain, such as ONNX
// Runtime's com.microsoft contrib operators. The model does not import
// the domain's opset: graphs built with it are for rewriting, not running.
func (g *Graph) AddDomainNode(domain, op string, inputs, outputs []string, attrs ...Attr) {
	g.AddNode(op, inputs, outputs, attrs...)
	g.nodes[len(g.nodes)-1].domain = domain
}

// NodeCount returns the number of nodes added so far.
func (g *Graph) NodeCount() int { return len(g.nodes) }

// AddTensor adds an initializer. It panics if the name is already used,
// which is a bug in the graph builder.
func (g *Graph) AddTensor(t Tensor) string {
	if g.names[t.Name] {
		panic("onnxpb: duplicate initializer " + t.Name)
	}
	g.names[t.Name] = true
	g.inits = append(g.inits, t)
	return t.Name
}

// AddFloat32 adds a float initializer and returns its name.
func (g *Graph) AddFloat32(name string, dims []int64, data []float32) string {
	checkLen(name, dims, len(data))
	raw := make([]byte, 4*len(data))
	for i, v := range data {
		binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(v))
	}
	return g.AddTensor(Tensor{Name: name, Elem: Float, Dims: dims, Raw: raw})
}

// AddFloat16 adds a float16 initializer converted from data and returns
// its name.
func (g *Graph) AddFloat16(name string, dims []int64, data []float32) string {
	checkLen(name, dims, len(data))
	raw := make([]byte, 2*len(data))
	for i, v := range data {
		binary.LittleEndian.PutUint16(raw[2*i:], half.Bits(v))
	}
	return g.AddTensor(Tensor{Name: name, Elem: Float16, Dims: dims, Raw: raw})
}

// AddInt64 adds an int64 initializer and returns its name.
func (g *Graph) AddInt64(name string, dims []int64, data []int64) string {
	checkLen(name, dims, len(data))
	raw := make([]byte, 8*len(data))
	for i, v := range data {
		binary.LittleEndian.PutUint64(raw[8*i:], uint64(v))
	}
	return g.AddTensor(Tensor{Name: name, Elem: Int64, Dims: dims, Raw: raw})
}

// HasName reports whether an initializer with this name exists.
func (g *Graph) HasName(name string) bool { return g.names[name] }

// ParamCount returns the number of elements over all initializers.
func (g *Graph) ParamCount() int64 {
	var n int64
	for _, t := range g.inits {
		n += numElems(t.Dims)
	}
	return n
}

func numElems(dims []int64) int64 {
	n := int64(1)
	for _, d := range dims {
		n *= d
	}
	return n
}

func checkLen(name string, dims []int64, n int) {
	if numElems(dims) != int64(n) {
		panic(fmt.Sprintf("onnxpb: initializer %s has %d values for dims %v", name, n, dims))
	}
}
