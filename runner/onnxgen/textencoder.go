package onnxgen

import (
	"fmt"
	"math"

	"github.com/sdapi/sdapi/runner/onnxgen/onnxpb"
)

// textEncoder builds the CLIP text transformer: input_ids [batch,sequence]
// → last_hidden_state [batch,sequence,D] and pooler_output [batch,D].
func textEncoder(cfg Config, a arch) *onnxpb.Graph {
	b := newBuilder("text_encoder", cfg, streamText)
	d := int64(a.textDim)
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
	lnW := make([]float32, a.textDim)
	lnB := make([]float32, a.textDim)
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

	for i := range a.textLayers {
		l := fmt.Sprintf("%s.encoder.layers.%d", p, i)
		h := b.layerNorm(x, l+".layer_norm1", a.textDim, 1e-5)
		h = b.attention(h, h, attnSpec{name: l + ".self_attn", dim: a.textDim, ctxDim: a.textDim,
			heads: a.textHeads, qkvBias: true, mask: mask})
		x = b.add(x, h)
		h = b.layerNorm(x, l+".layer_norm2", a.textDim, 1e-5)
		h = b.linear(h, l+".mlp.fc1", a.textDim, a.textFF, true)
		h = b.mul(h, b.op("Sigmoid", []string{b.mul(h, b.scalar(1.702))})) // quick_gelu
		h = b.linear(h, l+".mlp.fc2", a.textFF, a.textDim, true)
		x = b.add(x, h)
	}
	last := b.layerNormWith(x, finalW, finalB, 1e-5)

	// pooler_output = last[b, argmax(ids[b])]: CLIP pools at the EOS token,
	// which has the largest id.
	am := b.op("ArgMax", []string{b.op("Cast", []string{ids}, onnxpb.AttrInt("to", int64(onnxpb.Float)))},
		onnxpb.AttrInt("axis", 1), onnxpb.AttrInt("keepdims", 1))
	idx := b.op("Expand", []string{b.op("Unsqueeze", []string{am, b.ints(2)}), b.ints(1, 1, d)})
	pooled := b.op("Squeeze", []string{b.op("GatherElements", []string{last, idx}, onnxpb.AttrInt("axis", 1)), b.ints(1)})

	b.floatOutput(last, "last_hidden_state", onnxpb.Sym("batch"), onnxpb.Sym("sequence"), onnxpb.D(d))
	b.floatOutput(pooled, "pooler_output", onnxpb.Sym("batch"), onnxpb.D(d))
	return b.g
}
