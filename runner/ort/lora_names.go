package ort

// Where a LoRA's deltas go in an ONNX graph. kohya-ss names a module by
// its path in the diffusers (or, for SDXL UNets, the original LDM) model
// with dots as underscores: lora_unet_down_blocks_0_attentions_0_
// transformer_blocks_0_attn1_to_q, lora_te_text_model_encoder_layers_0_
// self_attn_q_proj. A1111 (networks.py assign_network_names_to_compvis_
// modules) maps every module of the loaded model to that form and looks
// the LoRA's keys up; this does the same with the ONNX graph: every
// MatMul, Gemm and Conv whose weight is an initializer gets the module
// path from the initializer's name (text_model.….q_proj.weight) or, when
// the exporter renamed it (onnx::MatMul_123, stored transposed), from the
// node's name (/text_model/encoder/layers.0/self_attn/q_proj/MatMul).

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/sdapi/sdapi/runner/onnxgen/onnxpb"
)

// loraTarget is a weight initializer a LoRA module can patch.
type loraTarget struct {
	init string
	// transposed: the weight is stored [in, out] (MatMul, Gemm without
	// transB), torch's Linear weight transposed.
	transposed bool
	dims       []int64
	elem       onnxpb.DataType
}

// loraTargets maps kohya module names (prefix + path with '_') to the
// graph's weights.
func (gi *graphIndex) loraTargets(prefix string) (map[string]loraTarget, error) {
	out := map[string]loraTarget{}
	for _, n := range gi.nodes {
		if n.domain != "" || len(n.in) < 2 {
			continue
		}
		transposed := false
		switch n.op {
		case "MatMul":
			transposed = true
		case "Gemm":
			a, ok, err := nodeAttr(n, "transB")
			if err != nil {
				return nil, err
			}
			transposed = !ok || a.i == 0
		case "Conv":
		default:
			continue
		}
		init := gi.throughCasts(n.in[1])
		t, ok := gi.inits[init]
		if !ok {
			continue
		}
		path := modulePath(n.name, init)
		if path == "" {
			continue
		}
		dims, elem, err := tensorHeader(t)
		if err != nil {
			return nil, fmt.Errorf("initializer %q: %w", init, err)
		}
		if elem != onnxpb.Float && elem != onnxpb.Float16 {
			continue
		}
		if (n.op != "Conv" && len(dims) != 2) || (n.op == "Conv" && len(dims) != 4) {
			continue
		}
		out[prefix+strings.ReplaceAll(path, ".", "_")] = loraTarget{init: init, transposed: transposed, dims: dims, elem: elem}
	}
	return out, nil
}

// modulePath is the torch module path of a node's weight: the
// initializer's name without ".weight", else the node's name without its
// last segment ("/a/b.0/c/MatMul" is a.b.0.c).
func modulePath(node, init string) string {
	if p, ok := strings.CutSuffix(init, ".weight"); ok && !strings.Contains(p, "::") {
		return p
	}
	node = strings.TrimPrefix(node, "/")
	i := strings.LastIndex(node, "/")
	if i <= 0 {
		return ""
	}
	return strings.ReplaceAll(node[:i], "/", ".")
}

// tensorHeader reads a TensorProto's dims and data type.
func tensorHeader(b []byte) ([]int64, onnxpb.DataType, error) {
	var dims []int64
	var elem onnxpb.DataType
	err := onnxpb.EachField(b, func(f onnxpb.Field) error {
		switch {
		case f.Num == 1 && f.Type == protowire.VarintType:
			dims = append(dims, int64(f.Varint))
		case f.Num == 1 && f.Type == protowire.BytesType:
			for p := f.Bytes; len(p) > 0; {
				v, n := protowire.ConsumeVarint(p)
				if n < 0 {
					return protowire.ParseError(n)
				}
				dims = append(dims, int64(v))
				p = p[n:]
			}
		case f.Num == 2 && f.Type == protowire.VarintType:
			elem = onnxpb.DataType(f.Varint)
		}
		return nil
	})
	return dims, elem, err
}

// The LDM UNet layout kohya-ss writes for SDXL (and some SD 1.x tools):
// input_blocks.N.M, middle_block.M, output_blocks.N.M, with
// layers_per_block ResBlocks per level (2 in SD 1.x, 2.x and SDXL, which
// networks.py's "* 3" assumes; the graph's own count is used, so a
// reduced test UNet maps too).
var (
	reLDMInput  = regexp.MustCompile(`^input_blocks_(\d+)_(\d+)_(.+)$`)
	reLDMMiddle = regexp.MustCompile(`^middle_block_(\d+)_(.+)$`)
	reLDMOutput = regexp.MustCompile(`^output_blocks_(\d+)_(\d+)_(.+)$`)
	ldmResnet   = strings.NewReplacer("in_layers_2", "conv1", "out_layers_3", "conv2", "emb_layers_1", "time_emb_proj", "skip_connection", "conv_shortcut")
	ldmTop      = map[string]string{
		"time_embed_0": "time_embedding_linear_1", "time_embed_2": "time_embedding_linear_2",
		"label_emb_0_0": "add_embedding_linear_1", "label_emb_0_2": "add_embedding_linear_2",
		"input_blocks_0_0": "conv_in", "out_2": "conv_out",
	}
)

const ldmLayersPerBlock = 2

// layersPerBlock counts the ResBlocks of the UNet's first down block among
// the LoRA targets (prefix lora_unet_); ldmLayersPerBlock when it has none.
func layersPerBlock(targets map[string]loraTarget, prefix string) int {
	n := 0
	for n < 64 {
		if _, ok := targets[fmt.Sprintf("%sdown_blocks_0_resnets_%d_conv1", prefix, n)]; !ok {
			break
		}
		n++
	}
	if n == 0 {
		return ldmLayersPerBlock
	}
	return n
}

// diffusersUNetName turns a kohya UNet module name in LDM form (after the
// lora_unet_ prefix) into its diffusers form for a UNet of lpb ResBlocks
// per level; other names are returned unchanged. It is the inverse of
// A1111's convert_diffusers_name_to_compvis.
func diffusersUNetName(name string, lpb int) string {
	if d, ok := ldmTop[name]; ok {
		return d
	}
	atoi := func(s string) int { v, _ := strconv.Atoi(s); return v }
	if m := reLDMInput.FindStringSubmatch(name); m != nil {
		n, j, rest := atoi(m[1]), atoi(m[2]), m[3]
		if n == 0 {
			return name
		}
		level, idx := (n-1)/(lpb+1), (n-1)%(lpb+1)
		switch {
		case idx == lpb && strings.HasPrefix(rest, "op"):
			return fmt.Sprintf("down_blocks_%d_downsamplers_0_conv%s", level, strings.TrimPrefix(rest, "op"))
		case j == 0:
			return fmt.Sprintf("down_blocks_%d_resnets_%d_%s", level, idx, ldmResnet.Replace(rest))
		case j == 1:
			return fmt.Sprintf("down_blocks_%d_attentions_%d_%s", level, idx, rest)
		}
		return name
	}
	if m := reLDMMiddle.FindStringSubmatch(name); m != nil {
		switch m[1] {
		case "0":
			return "mid_block_resnets_0_" + ldmResnet.Replace(m[2])
		case "1":
			return "mid_block_attentions_0_" + m[2]
		case "2":
			return "mid_block_resnets_1_" + ldmResnet.Replace(m[2])
		}
		return name
	}
	if m := reLDMOutput.FindStringSubmatch(name); m != nil {
		n, j, rest := atoi(m[1]), atoi(m[2]), m[3]
		level, idx := n/(lpb+1), n%(lpb+1)
		switch {
		case j == 0:
			return fmt.Sprintf("up_blocks_%d_resnets_%d_%s", level, idx, ldmResnet.Replace(rest))
		case strings.HasPrefix(rest, "conv"):
			// The upsampler follows the last ResBlock, at M 1 without
			// attention and M 2 with it.
			return fmt.Sprintf("up_blocks_%d_upsamplers_0_%s", level, rest)
		case j == 1:
			return fmt.Sprintf("up_blocks_%d_attentions_%d_%s", level, idx, rest)
		}
		return name
	}
	return name
}
