package ort

import (
	"path/filepath"
	"slices"
	"testing"

	"github.com/sdapi/sdapi/internal/safetensors"
	"github.com/sdapi/sdapi/runner"
)

func TestDiffusersUNetName(t *testing.T) {
	for _, tc := range []struct{ ldm, want string }{
		{"input_blocks_1_1_transformer_blocks_0_attn1_to_q", "down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q"},
		{"input_blocks_2_0_in_layers_2", "down_blocks_0_resnets_1_conv1"},
		{"input_blocks_3_0_op", "down_blocks_0_downsamplers_0_conv"},
		{"input_blocks_4_0_skip_connection", "down_blocks_1_resnets_0_conv_shortcut"},
		{"input_blocks_8_1_proj_in", "down_blocks_2_attentions_1_proj_in"},
		{"middle_block_1_transformer_blocks_0_ff_net_2", "mid_block_attentions_0_transformer_blocks_0_ff_net_2"},
		{"middle_block_2_emb_layers_1", "mid_block_resnets_1_time_emb_proj"},
		{"output_blocks_0_0_out_layers_3", "up_blocks_0_resnets_0_conv2"},
		{"output_blocks_2_1_conv", "up_blocks_0_upsamplers_0_conv"},
		{"output_blocks_5_1_transformer_blocks_0_attn2_to_k", "up_blocks_1_attentions_2_transformer_blocks_0_attn2_to_k"},
		{"output_blocks_5_2_conv", "up_blocks_1_upsamplers_0_conv"},
		{"time_embed_0", "time_embedding_linear_1"},
		{"label_emb_0_2", "add_embedding_linear_2"},
		{"down_blocks_0_attentions_0_proj_in", "down_blocks_0_attentions_0_proj_in"},
	} {
		if got := diffusersUNetName(tc.ldm, 2); got != tc.want {
			t.Errorf("%s → %s, want %s", tc.ldm, got, tc.want)
		}
	}
	// One ResBlock per level (the tiny test UNets): two input blocks and
	// two output blocks a level.
	for _, tc := range []struct{ ldm, want string }{
		{"input_blocks_1_0_in_layers_2", "down_blocks_0_resnets_0_conv1"},
		{"input_blocks_2_0_op", "down_blocks_0_downsamplers_0_conv"},
		{"input_blocks_3_1_proj_in", "down_blocks_1_attentions_0_proj_in"},
		{"output_blocks_1_1_transformer_blocks_1_attn1_to_q", "up_blocks_0_attentions_1_transformer_blocks_1_attn1_to_q"},
		{"output_blocks_1_2_conv", "up_blocks_0_upsamplers_0_conv"},
		{"output_blocks_2_0_skip_connection", "up_blocks_1_resnets_0_conv_shortcut"},
	} {
		if got := diffusersUNetName(tc.ldm, 1); got != tc.want {
			t.Errorf("one ResBlock a level: %s → %s, want %s", tc.ldm, got, tc.want)
		}
	}
}

func TestModulePath(t *testing.T) {
	for _, tc := range []struct{ node, init, want string }{
		{"MatMul_12", "text_model.encoder.layers.0.self_attn.q_proj.weight", "text_model.encoder.layers.0.self_attn.q_proj"},
		{"/down_blocks.0/attentions.0/transformer_blocks.0/attn1/to_out.0/MatMul", "onnx::MatMul_9001", "down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_out.0"},
		{"MatMul_3", "onnx::MatMul_7", ""},
	} {
		if got := modulePath(tc.node, tc.init); got != tc.want {
			t.Errorf("modulePath(%q, %q) = %q, want %q", tc.node, tc.init, got, tc.want)
		}
	}
}

// TestLoraKeyForms: kohya's lora_te1_ text keys on an SD 1.x model and LDM
// UNet names reach their weights; the delta lands transposed for a
// MatMul weight and scaled by alpha/rank·multiplier.
func TestLoraKeyForms(t *testing.T) {
	path := filepath.Join(t.TempDir(), "k.safetensors")
	ts := []safetensors.WriteTensor{
		{Name: "lora_te1_text_model_x.lora_up.weight", Shape: []int64{2, 1}, Data: []float32{1, 2}},
		{Name: "lora_te1_text_model_x.lora_down.weight", Shape: []int64{1, 3}, Data: []float32{1, 10, 100}},
		{Name: "lora_te1_text_model_x.alpha", Shape: []int64{}, Data: []float32{0.5}},
		{Name: "lora_unet_input_blocks_1_1_proj_in.lora_up.weight", Shape: []int64{1, 1}, Data: []float32{3}},
		{Name: "lora_unet_input_blocks_1_1_proj_in.lora_down.weight", Shape: []int64{1, 1}, Data: []float32{2}},
	}
	if err := safetensors.WriteFile(path, ts, nil); err != nil {
		t.Fatal(err)
	}
	loras := []runner.LoRA{{Name: "k", Path: path, TE: 2, UNet: 1}}
	te := map[string]loraTarget{"lora_te_text_model_x": {init: "w", transposed: true, dims: []int64{3, 2}}}
	deltas := map[string][]float32{}
	if rep := addLoraDeltas(deltas, te, loras, teSpec()); rep.applied != 1 || len(rep.errors) != 0 {
		t.Fatalf("text report %+v", rep)
	}
	// updown [2,3] = up·down, scale 0.5 (alpha 0.5 / rank 1) × te 2; stored [3,2].
	if want := []float32{1, 2, 10, 20, 100, 200}; !slices.Equal(deltas["w"], want) {
		t.Errorf("text delta %v, want %v", deltas["w"], want)
	}
	un := map[string]loraTarget{"lora_unet_down_blocks_0_attentions_0_proj_in": {init: "c", dims: []int64{1, 1, 1, 1}}}
	if rep := addLoraDeltas(deltas, un, loras, unetSpec()); rep.applied != 1 || deltas["c"][0] != 6 {
		t.Errorf("LDM UNet key: report %+v, delta %v", rep, deltas["c"])
	}
}

// TestLoraTucker: a LyCORIS lora_mid module rebuilds as
// einsum('n m k l, i n, m j -> i j k l', mid, up, down).
func TestLoraTucker(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cp.safetensors")
	ts := []safetensors.WriteTensor{
		{Name: "lora_unet_conv_in.lora_up.weight", Shape: []int64{2, 1, 1, 1}, Data: []float32{1, 2}},
		{Name: "lora_unet_conv_in.lora_down.weight", Shape: []int64{1, 3, 1, 1}, Data: []float32{1, 10, 100}},
		{Name: "lora_unet_conv_in.lora_mid.weight", Shape: []int64{1, 1, 1, 2}, Data: []float32{1, -1}},
	}
	if err := safetensors.WriteFile(path, ts, nil); err != nil {
		t.Fatal(err)
	}
	deltas := map[string][]float32{}
	un := map[string]loraTarget{"lora_unet_conv_in": {init: "c", dims: []int64{2, 3, 1, 2}}}
	if rep := addLoraDeltas(deltas, un, []runner.LoRA{{Name: "cp", Path: path, UNet: 1}}, unetSpec()); rep.applied != 1 {
		t.Fatalf("report %+v", rep)
	}
	want := []float32{1, -1, 10, -10, 100, -100, 2, -2, 20, -20, 200, -200}
	if !slices.Equal(deltas["c"], want) {
		t.Errorf("delta %v, want %v", deltas["c"], want)
	}
}
