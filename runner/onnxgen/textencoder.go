package onnxgen

import (
	"fmt"
	"math"

	"github.com/sdapi/sdapi/runner/onnxgen/onnxpb"
)

// clipSpec is one CLIP text transformer to build.
type clipSpec struct {
	name                   string
	stream                 uint64
	dim, layers, heads, ff int
	// gelu selects the erf GELU (OpenCLIP ViT-bigG, SDXL's second encoder)
	// instead of quick_gelu (OpenAI CLIP-L).
	gelu bool
	// proj, when set, makes it a CLIPTextModelWithProjection: the pooled
	// output goes through text_projection [dim, proj] (no bias) and is
	// named text_embeds, first among the outputs, and pooler_output is not
	// written.
	proj int
	// hidden adds outputs hidden_states.0 … hidden_states.<layers>
	// (embeddings, then every layer's output before the final layer norm),
	// as optimum exports with output_hidden_states (SDXL).
	hidden bool
}

// textEncoder builds SD1's CLIP text transformer: input_ids
// [batch,sequence] → last_hidden_state [batch,sequence,D] and pooler_output
// [batch,D]; for SDXL also the hidden states.
func textEncoder(cfg Config, a arch) *onnxpb.Graph {
	return clipText(cfg, a, clipSpec{name: "text_encoder", stream: streamText,
		dim: a.textDim, layers: a.textLayers, heads: a.textHeads, ff: a.textFF, hidden: cfg.xl()})
}

// textEncoder2 builds SDXL's second encoder (CLIP-G with projection).
func textEncoder2(cfg Config, a arch) *onnxpb.Graph {
	return clipText(cfg, a, clipSpec{name: "text_encoder_2", stream: streamText2,
		dim: a.text2Dim, layers: a.text2Layers, heads: a.text2Heads, ff: a.text2FF,
		gelu: true, proj: a.text2Proj, hidden: true})
}

func clipText(cfg Config, a arch, s clipSpec) *onnxpb.Graph {
	b := newBuilder(s.name, cfg, s.stream)
	d := int64(s.dim)
	idType := onnxpb.Int32
	if cfg.InputIDs == Int64 {
		idType = onnxpb.Int64
	}
	b.g.AddInput("input_ids", idType, onnxpb.Sym("batch"), onnxpb.Sym("sequence"))
	ids := b.op("Cast", []string{"input_ids"}, onnxpb.AttrInt("to", int64(onnxpb.Int64)))

	const p = "text_model"
	tok := b.randn(p+".embeddings.token_embedding.weight", 0.02, int64(a.vocab), d)
	pos := b.randn(p+".embeddings.position_embedding.weight", 0.01, int64(a.maxPos), d)
	seq := b.op("Shape", []string{ids}, onnxpb.AttrInt("start", 1), onnxpb.AttrInt("end", 2))
	posSeq := b.op("Slice", []string{pos, b.ints(0), seq, b.ints(0)})
	x := b.add(b.op("Gather", []string{tok, ids}, onnxpb.AttrInt("axis", 0)), posSeq)
	// The final layer norm's weights are drawn before the layers' so that
	// an encoder with layers dropped keeps them (Config.TextLayersDropped),
	// and they are not the identity, so a reader that gets them wrong
	// shows (trained CLIP's are not the identity either).
	lnW := make([]float32, s.dim)
	lnB := make([]float32, s.dim)
	for i := range lnW {
		lnW[i] = float32(1 + 0.2*b.rng.NormFloat64())
		lnB[i] = float32(0.1 * b.rng.NormFloat64())
	}
	finalW := b.param(p+".final_layer_norm.weight", []int64{d}, lnW)
	finalB := b.param(p+".final_layer_norm.bias", []int64{d}, lnB)

	// Causal mask [maxPos,maxPos] sliced to [seq,seq]; broadcasts over B and heads.
	m := make([]float32, a.maxPos*a.maxPos)
	for i := range a.maxPos {
		for j := i + 1; j < a.maxPos; j++ {
			m[i*a.maxPos+j] = float32(math.Inf(-1))
		}
	}
	mask := b.g.AddFloat32(p+".causal_attention_mask", []int64{int64(a.maxPos), int64(a.maxPos)}, m)
	mask = b.op("Slice", []string{mask, b.ints(0, 0), b.op("Concat", []string{seq, seq}, onnxpb.AttrInt("axis", 0)), b.ints(0, 1)})

	hidden := []string{x}
	for i := range s.layers {
		l := fmt.Sprintf("%s.encoder.layers.%d", p, i)
		h := b.layerNorm(x, l+".layer_norm1", s.dim, 1e-5)
		h = b.attention(h, h, attnSpec{name: l + ".self_attn", dim: s.dim, ctxDim: s.dim,
			heads: s.heads, qkvBias: true, mask: mask})
		x = b.add(x, h)
		h = b.layerNorm(x, l+".layer_norm2", s.dim, 1e-5)
		h = b.linear(h, l+".mlp.fc1", s.dim, s.ff, true)
		if s.gelu {
			h = b.gelu(h)
		} else {
			h = b.mul(h, b.op("Sigmoid", []string{b.mul(h, b.scalar(1.702))})) // quick_gelu
		}
		h = b.linear(h, l+".mlp.fc2", s.ff, s.dim, true)
		x = b.add(x, h)
		hidden = append(hidden, x)
	}
	last := b.layerNormWith(x, finalW, finalB, 1e-5)

	// The pooled output is last[b, argmax(ids[b])]: CLIP pools at the EOS
	// token, which has the largest id.
	am := b.op("ArgMax", []string{b.op("Cast", []string{ids}, onnxpb.AttrInt("to", int64(onnxpb.Float)))},
		onnxpb.AttrInt("axis", 1), onnxpb.AttrInt("keepdims", 1))
	idx := b.op("Expand", []string{b.op("Unsqueeze", []string{am, b.ints(2)}), b.ints(1, 1, d)})
	pooled := b.op("Squeeze", []string{b.op("GatherElements", []string{last, idx}, onnxpb.AttrInt("axis", 1)), b.ints(1)})

	batch, sq := onnxpb.Sym("batch"), onnxpb.Sym("sequence")
	if s.proj > 0 {
		w := b.randn("text_projection.weight", 1/math.Sqrt(float64(s.dim)), d, int64(s.proj))
		b.floatOutput(b.op("MatMul", []string{pooled, w}), "text_embeds", batch, onnxpb.D(int64(s.proj)))
		b.floatOutput(last, "last_hidden_state", batch, sq, onnxpb.D(d))
	} else {
		b.floatOutput(last, "last_hidden_state", batch, sq, onnxpb.D(d))
		b.floatOutput(pooled, "pooler_output", batch, onnxpb.D(d))
	}
	if s.hidden {
		for i, h := range hidden {
			b.floatOutput(h, fmt.Sprintf("hidden_states.%d", i), batch, sq, onnxpb.D(d))
		}
	}
	return b.g
}
