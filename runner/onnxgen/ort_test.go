package onnxgen

import (
	"encoding/binary"
	"errors"
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"

	ort "github.com/yalue/onnxruntime_go"

	"github.com/sdapi/sdapi/internal/half"
	"github.com/sdapi/sdapi/runner/onnxgen/onnxpb"
)

// feed is one named model input.
type feed struct {
	name  string
	shape ort.Shape
	f32   []float32 // float inputs (converted for fp16 models)
	i64   []int64   // integer inputs (converted for int32 models)
	elem  onnxpb.DataType
}

// fetch is one expected model output.
type fetch struct {
	name  string
	shape ort.Shape
}

// runPart loads dir/part/model.onnx from its path, runs it once and checks
// the output shapes and that every output value is finite.
func runPart(t *testing.T, dir, part string, in []feed, out []fetch) [][]float32 {
	t.Helper()
	path := filepath.Join(dir, part, "model.onnx")
	ins, outs, err := onnxpb.ReadIO(path)
	if err != nil {
		t.Fatal(err)
	}
	elemOf := map[string]onnxpb.DataType{}
	for _, v := range slices.Concat(ins, outs) {
		elemOf[v.Name] = v.Elem
	}
	opts, err := ort.NewSessionOptions()
	if err != nil {
		t.Fatal(err)
	}
	defer opts.Destroy()
	if err := opts.SetIntraOpNumThreads(2); err != nil {
		t.Fatal(err)
	}
	var inNames, outNames []string
	for _, f := range in {
		inNames = append(inNames, f.name)
	}
	for _, f := range out {
		outNames = append(outNames, f.name)
	}
	s, err := ort.NewDynamicAdvancedSession(path, inNames, outNames, opts)
	if err != nil {
		t.Fatalf("%s: load: %v", part, err)
	}
	defer s.Destroy()

	var values []ort.Value
	defer func() {
		for _, v := range values {
			v.Destroy()
		}
	}()
	for _, f := range in {
		v, err := newValue(f, elemOf[f.name])
		if err != nil {
			t.Fatalf("%s: input %s: %v", part, f.name, err)
		}
		values = append(values, v)
	}
	outVals := make([]ort.Value, len(out))
	for i, f := range out {
		if elemOf[f.name] == onnxpb.Float16 { // onnxruntime_go cannot allocate fp16 outputs itself
			v, err := ort.NewCustomDataTensor(f.shape, make([]byte, 2*f.shape.FlattenedSize()), ort.TensorElementDataTypeFloat16)
			if err != nil {
				t.Fatal(err)
			}
			outVals[i] = v
		}
	}
	if err := s.Run(values[:len(in)], outVals); err != nil {
		t.Fatalf("%s: run: %v", part, err)
	}
	values = append(values, outVals...)

	var res [][]float32
	for i, f := range out {
		if got := outVals[i].GetShape(); !slices.Equal(got, f.shape) {
			t.Errorf("%s: output %s shape = %v, want %v", part, f.name, got, f.shape)
		}
		data := floats(t, outVals[i])
		for j, x := range data {
			if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
				t.Fatalf("%s: output %s[%d] = %v", part, f.name, j, x)
			}
		}
		res = append(res, data)
	}
	return res
}

func newValue(f feed, elem onnxpb.DataType) (ort.Value, error) {
	switch elem {
	case onnxpb.Int32:
		d := make([]int32, len(f.i64))
		for i, v := range f.i64 {
			d[i] = int32(v)
		}
		return ort.NewTensor(f.shape, d)
	case onnxpb.Int64:
		return ort.NewTensor(f.shape, slices.Clone(f.i64))
	case onnxpb.Float16:
		if len(f.shape) == 0 {
			return nil, errors.New("onnxruntime_go has no float16 scalars")
		}
		raw := make([]byte, 2*len(f.f32))
		for i, v := range f.f32 {
			binary.LittleEndian.PutUint16(raw[2*i:], half.Bits(v))
		}
		return ort.NewCustomDataTensor(f.shape, raw, ort.TensorElementDataTypeFloat16)
	}
	if len(f.shape) == 0 {
		return ort.NewScalar(f.f32[0])
	}
	return ort.NewTensor(f.shape, slices.Clone(f.f32))
}

func floats(t *testing.T, v ort.Value) []float32 {
	t.Helper()
	switch v := v.(type) {
	case *ort.Tensor[float32]:
		return v.GetData()
	case *ort.CustomDataTensor:
		raw := v.GetData()
		out := make([]float32, len(raw)/2)
		for i := range out {
			out[i] = half.Float32(binary.LittleEndian.Uint16(raw[2*i:]))
		}
		return out
	}
	t.Fatalf("unexpected output value %T", v)
	return nil
}

func randFloats(r *rand.Rand, n int) []float32 {
	d := make([]float32, n)
	for i := range d {
		d[i] = float32(r.NormFloat64())
	}
	return d
}

// promptIDs returns batch×77 ids: BOS, a few tokens, EOS padding.
func promptIDs(batch, chunks int) []int64 {
	ids := make([]int64, 0, batch*77*chunks)
	for b := range batch {
		for range chunks {
			ids = append(ids, StartOfText)
			for i := range 76 {
				switch {
				case i < 3+b:
					ids = append(ids, int64(40+i))
				default:
					ids = append(ids, EndOfText)
				}
			}
		}
	}
	return ids
}

// Ensure every emitted part loads in ONNX Runtime and runs on small inputs
// for every exporter variant.
func TestEmitRunsInONNXRuntime(t *testing.T) {
	requireORT(t)
	cases := []struct {
		name string
		cfg  Config
	}{
		{"default", Config{Seed: 1}},
		{"int64_ids_float_timestep_external", Config{Seed: 2, InputIDs: Int64, Timestep: FloatBatch, ExternalData: true}},
		{"scalar_timestep_latent_sample", Config{Seed: 3, Timestep: FloatScalar, VAEEncoderOutput: LatentSample}},
		{"fp16", Config{Seed: 4, FP16: true, Timestep: FloatBatch, ExternalData: true}},
	}
	const d = 32 // tiny text width
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := Emit(dir, tc.cfg); err != nil {
				t.Fatal(err)
			}
			r := rand.New(rand.NewPCG(9, 9))

			te := runPart(t, dir, "text_encoder",
				[]feed{{name: "input_ids", shape: ort.Shape{2, 77}, i64: promptIDs(2, 1)}},
				[]fetch{{"last_hidden_state", ort.Shape{2, 77, d}}, {"pooler_output", ort.Shape{2, d}}})
			// pooler_output is last_hidden_state at the EOS (first argmax) position.
			eos := 4
			if got, want := te[1][:d], te[0][eos*d:(eos+1)*d]; !slices.Equal(got, want) {
				t.Errorf("pooler_output[0] = %v, want last_hidden_state[0,%d] = %v", got[:4], eos, want[:4])
			}

			for _, sc := range []struct {
				name      string
				h, w, seq int64
			}{{"8x8_seq77", 8, 8, 77}, {"16x8_seq154", 16, 8, 154}} {
				t.Run("unet_"+sc.name, func(t *testing.T) {
					ts := feed{name: "timestep", shape: ort.Shape{2}, i64: []int64{999, 500}, f32: []float32{999, 500.5}}
					if tc.cfg.Timestep == FloatScalar {
						ts = feed{name: "timestep", shape: ort.Shape{}, f32: []float32{999}}
					}
					runPart(t, dir, "unet", []feed{
						{name: "sample", shape: ort.Shape{2, 4, sc.h, sc.w}, f32: randFloats(r, int(8*sc.h*sc.w))},
						ts,
						{name: "encoder_hidden_states", shape: ort.Shape{2, sc.seq, d}, f32: randFloats(r, int(2*sc.seq*d))},
					}, []fetch{{"out_sample", ort.Shape{2, 4, sc.h, sc.w}}})
				})
			}

			runPart(t, dir, "vae_decoder",
				[]feed{{name: "latent_sample", shape: ort.Shape{1, 4, 8, 8}, f32: randFloats(r, 256)}},
				[]fetch{{"sample", ort.Shape{1, 3, 64, 64}}})
			encOut := fetch{"latent_parameters", ort.Shape{1, 8, 8, 8}}
			if tc.cfg.VAEEncoderOutput == LatentSample {
				encOut = fetch{"latent_sample", ort.Shape{1, 4, 8, 8}}
			}
			runPart(t, dir, "vae_encoder",
				[]feed{{name: "sample", shape: ort.Shape{1, 3, 64, 64}, f32: randFloats(r, 3*64*64)}},
				[]fetch{encOut})
		})
	}
}

// Ensure moving the UNet weights to weights.pb does not change its output,
// and that the largest latent the tiny UNet must take (512×512 images) runs.
func TestExternalDataMatchesInline(t *testing.T) {
	requireORT(t)
	unetFeeds := func(size int64) []feed {
		r := rand.New(rand.NewPCG(1, 2))
		return []feed{
			{name: "sample", shape: ort.Shape{1, 4, size, size}, f32: randFloats(r, int(4*size*size))},
			{name: "timestep", shape: ort.Shape{1}, i64: []int64{10}},
			{name: "encoder_hidden_states", shape: ort.Shape{1, 77, 32}, f32: randFloats(r, 77*32)},
		}
	}
	dirs := map[bool]string{}
	out := map[bool][]float32{}
	for _, ext := range []bool{false, true} {
		dirs[ext] = t.TempDir()
		if err := Emit(dirs[ext], Config{Seed: 5, ExternalData: ext}); err != nil {
			t.Fatal(err)
		}
		out[ext] = runPart(t, dirs[ext], "unet", unetFeeds(8), []fetch{{"out_sample", ort.Shape{1, 4, 8, 8}}})[0]
	}
	if !slices.Equal(out[false], out[true]) {
		t.Error("unet output differs between inline weights and weights.pb")
	}
	if testing.Short() {
		t.Skip("skipping the 64×64 latent run (seconds of CPU) in short mode")
	}
	runPart(t, dirs[true], "unet", unetFeeds(64), []fetch{{"out_sample", ort.Shape{1, 4, 64, 64}}})
}

// Ensure torch's decomposed layer norm (opset < 17 exports) computes what
// the LayerNormalization node does, in the text encoder and the UNet.
func TestDecomposedLayerNormMatches(t *testing.T) {
	requireORT(t)
	r := rand.New(rand.NewPCG(3, 4))
	unetFeeds := []feed{
		{name: "sample", shape: ort.Shape{1, 4, 8, 8}, f32: randFloats(r, 4*8*8)},
		{name: "timestep", shape: ort.Shape{1}, i64: []int64{10}},
		{name: "encoder_hidden_states", shape: ort.Shape{1, 77, 32}, f32: randFloats(r, 77*32)},
	}
	out := map[LayerNorm][2][]float32{}
	for _, ln := range []LayerNorm{LayerNormOp, LayerNormDecomposed} {
		dir := t.TempDir()
		if err := Emit(dir, Config{Seed: 6, LayerNorm: ln}); err != nil {
			t.Fatal(err)
		}
		te := runPart(t, dir, "text_encoder",
			[]feed{{name: "input_ids", shape: ort.Shape{1, 77}, i64: promptIDs(1, 1)}},
			[]fetch{{"last_hidden_state", ort.Shape{1, 77, 32}}})[0]
		un := runPart(t, dir, "unet", unetFeeds, []fetch{{"out_sample", ort.Shape{1, 4, 8, 8}}})[0]
		out[ln] = [2][]float32{te, un}
	}
	for i, part := range []string{"text_encoder", "unet"} {
		a, b := out[LayerNormOp][i], out[LayerNormDecomposed][i]
		worst := 0.0
		for j := range a {
			worst = max(worst, math.Abs(float64(a[j])-float64(b[j])))
		}
		if worst > 1e-4 || slices.Equal(a, make([]float32, len(a))) {
			t.Errorf("%s: max |diff| between the layer-norm forms = %g", part, worst)
		}
	}
}
