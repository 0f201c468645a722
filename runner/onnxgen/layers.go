package onnxgen

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"

	"github.com/sdapi/sdapi/runner/onnxgen/onnxpb"
)

// builder wraps a graph with a seeded random source and the layer helpers
// shared by the three models. Node outputs get unique generated names.
type builder struct {
	g          *onnxpb.Graph
	rng        *rand.Rand
	fp16       bool
	decomposed bool // layer norms as torch exports them below opset 17
	torchNames bool // Config.TorchNames
	n          int
}

// Stream identifiers keep each model's weights independent of the others.
const (
	streamText uint64 = iota + 1
	streamUNet
	streamVAEDecoder
	streamVAEEncoder
	streamText2
)

func newBuilder(name string, cfg Config, stream uint64) *builder {
	g := onnxpb.NewGraph(name)
	g.Doc = Description
	if cfg.xl() {
		g.Doc = DescriptionXL
	}
	return &builder{
		g:          g,
		rng:        rand.New(rand.NewPCG(cfg.Seed, stream)),
		fp16:       cfg.FP16,
		decomposed: cfg.LayerNorm == LayerNormDecomposed,
		torchNames: cfg.TorchNames,
	}
}

func (b *builder) tmp(op string) string {
	b.n++
	return fmt.Sprintf("/%s_%d", op, b.n)
}

// op adds a single-output node and returns the output name.
func (b *builder) op(op string, inputs []string, attrs ...onnxpb.Attr) string {
	out := b.tmp(op)
	b.g.AddNode(op, inputs, []string{out}, attrs...)
	return out
}

// ops adds a node with n outputs.
func (b *builder) ops(op string, n int, inputs []string, attrs ...onnxpb.Attr) []string {
	outs := make([]string, n)
	for i := range outs {
		outs[i] = b.tmp(op)
	}
	b.g.AddNode(op, inputs, outs, attrs...)
	return outs
}

// floatType is the element type of float graph inputs and outputs.
func (b *builder) floatType() onnxpb.DataType {
	if b.fp16 {
		return onnxpb.Float16
	}
	return onnxpb.Float
}

// floatInput declares a float input and returns a float32 view of it.
func (b *builder) floatInput(name string, dims ...onnxpb.Dim) string {
	b.g.AddInput(name, b.floatType(), dims...)
	if b.fp16 {
		return b.op("Cast", []string{name}, onnxpb.AttrInt("to", int64(onnxpb.Float)))
	}
	return name
}

// floatOutput declares x as the float output name.
func (b *builder) floatOutput(x, name string, dims ...onnxpb.Dim) {
	to := onnxpb.Float
	if b.fp16 {
		to = onnxpb.Float16
	}
	b.g.AddNode("Cast", []string{x}, []string{name}, onnxpb.AttrInt("to", int64(to)))
	b.g.AddOutput(name, b.floatType(), dims...)
}

// param adds a float initializer; in fp16 mode it is stored as float16 and
// cast back to float32 for computation.
func (b *builder) param(name string, dims []int64, data []float32) string {
	if !b.fp16 {
		return b.g.AddFloat32(name, dims, data)
	}
	h := b.g.AddFloat16(name, dims, data)
	return b.op("Cast", []string{h}, onnxpb.AttrInt("to", int64(onnxpb.Float)))
}

// randn adds a weight with N(0, std²) entries.
func (b *builder) randn(name string, std float64, dims ...int64) string {
	n := int64(1)
	for _, d := range dims {
		n *= d
	}
	data := make([]float32, n)
	for i := range data {
		data[i] = float32(b.rng.NormFloat64() * std)
	}
	return b.param(name, dims, data)
}

// fill adds a weight with every entry equal to v.
func (b *builder) fill(name string, v float32, dims ...int64) string {
	n := int64(1)
	for _, d := range dims {
		n *= d
	}
	data := make([]float32, n)
	for i := range data {
		data[i] = v
	}
	return b.param(name, dims, data)
}

// ints adds a 1-D int64 constant; it always stays float32-free and inline.
func (b *builder) ints(v ...int64) string {
	b.n++
	return b.g.AddInt64(fmt.Sprintf("const_i64_%d", b.n), []int64{int64(len(v))}, v)
}

// scalar adds a float32 scalar constant (never cast, never external).
func (b *builder) scalar(v float32) string {
	b.n++
	return b.g.AddFloat32(fmt.Sprintf("const_f32_%d", b.n), nil, []float32{v})
}

func (b *builder) add(x, y string) string { return b.op("Add", []string{x, y}) }
func (b *builder) mul(x, y string) string { return b.op("Mul", []string{x, y}) }

func (b *builder) silu(x string) string {
	return b.mul(x, b.op("Sigmoid", []string{x}))
}

// gelu is the erf form that torch exports below opset 20.
func (b *builder) gelu(x string) string {
	e := b.op("Erf", []string{b.op("Div", []string{x, b.scalar(math.Sqrt2)})})
	return b.mul(b.mul(x, b.add(e, b.scalar(1))), b.scalar(0.5))
}

// linear is x·W (+ bias) with W stored as [in, out], like torch exports.
func (b *builder) linear(x, name string, in, out int, bias bool) string {
	var y string
	if b.torchNames {
		b.n++
		w := b.randn(fmt.Sprintf("onnx::MatMul_%d", b.n), 1/math.Sqrt(float64(in)), int64(in), int64(out))
		y = b.tmp("MatMul")
		b.g.AddNamedNode("/"+strings.ReplaceAll(name, ".", "/")+"/MatMul", "MatMul", []string{x, w}, []string{y})
	} else {
		y = b.op("MatMul", []string{x, b.randn(name+".weight", 1/math.Sqrt(float64(in)), int64(in), int64(out))})
	}
	if bias {
		y = b.add(y, b.randn(name+".bias", 0.02, int64(out)))
	}
	return y
}

// conv is a 2-D convolution with kernel k, stride s and symmetric padding k/2.
func (b *builder) conv(x, name string, cin, cout, k, s int) string {
	p := int64(k / 2)
	return b.convPads(x, name, cin, cout, k, s, []int64{p, p, p, p})
}

func (b *builder) convPads(x, name string, cin, cout, k, s int, pads []int64) string {
	w := b.randn(name+".weight", 1/math.Sqrt(float64(cin*k*k)), int64(cout), int64(cin), int64(k), int64(k))
	bias := b.randn(name+".bias", 0.02, int64(cout))
	return b.op("Conv", []string{x, w, bias},
		onnxpb.AttrInts("kernel_shape", int64(k), int64(k)),
		onnxpb.AttrInts("pads", pads...),
		onnxpb.AttrInts("strides", int64(s), int64(s)),
		onnxpb.AttrInts("dilations", 1, 1),
		onnxpb.AttrInt("group", 1))
}

// groupNorm is torch's GroupNorm export below opset 18:
// Reshape → InstanceNormalization → Reshape → Mul → Add.
func (b *builder) groupNorm(x, name string, c, groups int, eps float32) string {
	g := int64(groups)
	r := b.op("Reshape", []string{x, b.ints(0, g, -1)})
	n := b.op("InstanceNormalization", []string{r, b.fill(name+".in_scale", 1, g), b.fill(name+".in_bias", 0, g)},
		onnxpb.AttrFloat("epsilon", eps))
	y := b.op("Reshape", []string{n, b.op("Shape", []string{x})})
	y = b.mul(y, b.fill(name+".weight", 1, int64(c), 1, 1))
	return b.add(y, b.fill(name+".bias", 0, int64(c), 1, 1))
}

// layerNorm normalises over the last axis with unit weight and zero bias.
func (b *builder) layerNorm(x, name string, d int, eps float32) string {
	return b.layerNormWith(x, b.fill(name+".weight", 1, int64(d)), b.fill(name+".bias", 0, int64(d)), eps)
}

// layerNormWith normalises x over its last axis with the given weight and
// bias, as one node or in torch's decomposed form.
func (b *builder) layerNormWith(x, w, bias string, eps float32) string {
	if !b.decomposed {
		return b.op("LayerNormalization", []string{x, w, bias}, onnxpb.AttrInt("axis", -1), onnxpb.AttrFloat("epsilon", eps))
	}
	mean := b.op("ReduceMean", []string{x}, onnxpb.AttrInts("axes", -1), onnxpb.AttrInt("keepdims", 1))
	d := b.op("Sub", []string{x, mean})
	v := b.op("ReduceMean", []string{b.op("Pow", []string{d, b.scalar(2)})}, onnxpb.AttrInts("axes", -1), onnxpb.AttrInt("keepdims", 1))
	y := b.op("Div", []string{d, b.op("Sqrt", []string{b.add(v, b.scalar(eps))})})
	return b.add(b.mul(y, w), bias)
}

// attnSpec describes a multi-head attention block.
type attnSpec struct {
	name    string
	dim     int    // query and output width
	ctxDim  int    // key/value input width
	heads   int    //
	qkvBias bool   // CLIP and the VAE have q/k/v biases, the UNet does not
	mask    string // optional additive mask, broadcast to [B,H,S,T]
	// diffusers names the projections as diffusers' Attention does
	// (to_q, to_k, to_v, to_out.0) instead of CLIP's (q_proj … out_proj).
	diffusers bool
}

// attention computes softmax(QKᵀ/√d + mask)·V over x [B,S,dim] and
// ctx [B,T,ctxDim] and returns [B,S,dim].
func (b *builder) attention(x, ctx string, a attnSpec) string {
	dh := int64(a.dim / a.heads)
	h := int64(a.heads)
	proj := [4]string{".q_proj", ".k_proj", ".v_proj", ".out_proj"}
	if a.diffusers {
		proj = [4]string{".to_q", ".to_k", ".to_v", ".to_out.0"}
	}
	q := b.linear(x, a.name+proj[0], a.dim, a.dim, a.qkvBias)
	k := b.linear(ctx, a.name+proj[1], a.ctxDim, a.dim, a.qkvBias)
	v := b.linear(ctx, a.name+proj[2], a.ctxDim, a.dim, a.qkvBias)
	split := b.ints(0, 0, h, dh)
	q = b.op("Transpose", []string{b.op("Reshape", []string{q, split})}, onnxpb.AttrInts("perm", 0, 2, 1, 3))
	k = b.op("Transpose", []string{b.op("Reshape", []string{k, split})}, onnxpb.AttrInts("perm", 0, 2, 3, 1))
	v = b.op("Transpose", []string{b.op("Reshape", []string{v, split})}, onnxpb.AttrInts("perm", 0, 2, 1, 3))
	s := b.mul(b.op("MatMul", []string{q, k}), b.scalar(float32(1/math.Sqrt(float64(dh)))))
	if a.mask != "" {
		s = b.add(s, a.mask)
	}
	p := b.op("Softmax", []string{s}, onnxpb.AttrInt("axis", -1))
	o := b.op("Transpose", []string{b.op("MatMul", []string{p, v})}, onnxpb.AttrInts("perm", 0, 2, 1, 3))
	o = b.op("Reshape", []string{o, b.ints(0, 0, int64(a.dim))})
	return b.linear(o, a.name+proj[3], a.dim, a.dim, true)
}

// tokens turns [B,C,H,W] into [B,H·W,C].
func (b *builder) tokens(x string) string {
	r := b.op("Reshape", []string{x, b.ints(0, 0, -1)})
	return b.op("Transpose", []string{r}, onnxpb.AttrInts("perm", 0, 2, 1))
}

// untokens turns [B,H·W,C] back into the shape of ref [B,C,H,W].
func (b *builder) untokens(x, ref string) string {
	t := b.op("Transpose", []string{x}, onnxpb.AttrInts("perm", 0, 2, 1))
	return b.op("Reshape", []string{t, b.op("Shape", []string{ref})})
}

// upsample is nearest-neighbour Resize ×2 followed by a 3×3 conv.
func (b *builder) upsample(x, name string, c int) string {
	b.n++
	scales := b.g.AddFloat32(fmt.Sprintf("const_scales_%d", b.n), []int64{4}, []float32{1, 1, 2, 2})
	r := b.op("Resize", []string{x, "", scales},
		onnxpb.AttrString("mode", "nearest"),
		onnxpb.AttrString("coordinate_transformation_mode", "asymmetric"),
		onnxpb.AttrString("nearest_mode", "floor"))
	return b.conv(r, name+".conv", c, c, 3, 1)
}

// resBlock is a diffusers ResnetBlock2D; temb is the [B,E] time embedding
// or "" (VAE).
func (b *builder) resBlock(x, temb, name string, cin, cout, groups, tembDim int, eps float32) string {
	h := b.silu(b.groupNorm(x, name+".norm1", cin, groups, eps))
	h = b.conv(h, name+".conv1", cin, cout, 3, 1)
	if temb != "" {
		t := b.linear(b.silu(temb), name+".time_emb_proj", tembDim, cout, true)
		h = b.add(h, b.op("Unsqueeze", []string{t, b.ints(2, 3)}))
	}
	h = b.silu(b.groupNorm(h, name+".norm2", cout, groups, eps))
	h = b.conv(h, name+".conv2", cout, cout, 3, 1)
	skip := x
	if cin != cout {
		skip = b.conv(x, name+".conv_shortcut", cin, cout, 1, 1)
	}
	return b.add(skip, h)
}
