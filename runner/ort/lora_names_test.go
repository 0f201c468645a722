package ort

import "testing"

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
		if got := diffusersUNetName(tc.ldm); got != tc.want {
			t.Errorf("%s → %s, want %s", tc.ldm, got, tc.want)
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
