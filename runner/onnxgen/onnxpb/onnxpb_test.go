package onnxpb

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
)

// Ensure ReadIO returns exactly the inputs and outputs the encoder wrote,
// for each exporter variant the runner must detect.
func TestReadIORoundTrip(t *testing.T) {
	batch, h, w := Sym("batch"), Sym("height"), Sym("width")
	cases := []struct {
		name    string
		inputs  []ValueInfo
		outputs []ValueInfo
	}{
		{"input_ids_int32",
			[]ValueInfo{{Name: "input_ids", Elem: Int32, Dims: []Dim{batch, Sym("sequence")}}},
			[]ValueInfo{{Name: "last_hidden_state", Elem: Float, Dims: []Dim{batch, Sym("sequence"), D(768)}},
				{Name: "pooler_output", Elem: Float, Dims: []Dim{batch, D(768)}}}},
		{"input_ids_int64",
			[]ValueInfo{{Name: "input_ids", Elem: Int64, Dims: []Dim{batch, D(77)}}},
			[]ValueInfo{{Name: "last_hidden_state", Elem: Float, Dims: []Dim{batch, D(77), D(768)}}}},
		{"timestep_int64_batch",
			[]ValueInfo{{Name: "sample", Elem: Float, Dims: []Dim{batch, D(4), h, w}},
				{Name: "timestep", Elem: Int64, Dims: []Dim{batch}},
				{Name: "encoder_hidden_states", Elem: Float, Dims: []Dim{batch, Sym("sequence"), D(768)}}},
			[]ValueInfo{{Name: "out_sample", Elem: Float, Dims: []Dim{batch, D(4), h, w}}}},
		{"timestep_float_batch",
			[]ValueInfo{{Name: "timestep", Elem: Float, Dims: []Dim{D(1)}}},
			[]ValueInfo{{Name: "out_sample", Elem: Float, Dims: []Dim{batch, D(4), h, w}}}},
		{"timestep_float_scalar",
			[]ValueInfo{{Name: "timestep", Elem: Float, Dims: []Dim{}}},
			[]ValueInfo{{Name: "out_sample", Elem: Float, Dims: []Dim{batch, D(4), h, w}}}},
		{"fp16",
			[]ValueInfo{{Name: "sample", Elem: Float16, Dims: []Dim{batch, D(4), h, w}},
				{Name: "timestep", Elem: Float16, Dims: []Dim{D(1)}}},
			[]ValueInfo{{Name: "out_sample", Elem: Float16, Dims: []Dim{batch, D(4), h, w}}}},
		{"latent_parameters",
			[]ValueInfo{{Name: "sample", Elem: Float, Dims: []Dim{batch, D(3), h, w}}},
			[]ValueInfo{{Name: "latent_parameters", Elem: Float, Dims: []Dim{batch, D(8), Sym("h/8"), Sym("w/8")}}}},
		{"latent_sample_unknown_rank",
			[]ValueInfo{{Name: "sample", Elem: Float, Dims: []Dim{batch, D(3), h, w}}},
			[]ValueInfo{{Name: "latent_sample", Elem: Float, UnknownRank: true}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := NewGraph(tc.name)
			g.inputs = tc.inputs
			g.outputs = tc.outputs
			// A large inline initializer that ReadIO must seek over.
			g.AddFloat32("big", []int64{300_000}, make([]float32, 300_000))
			g.AddNode("Identity", []string{tc.inputs[0].Name}, []string{tc.outputs[0].Name})
			path := filepath.Join(t.TempDir(), "model.onnx")
			if err := g.WriteFile(path, WriteOptions{}); err != nil {
				t.Fatal(err)
			}
			in, out, err := ReadIO(path)
			if err != nil {
				t.Fatal(err)
			}
			if !equalInfos(in, tc.inputs) {
				t.Errorf("inputs = %v, want %v", in, tc.inputs)
			}
			if !equalInfos(out, tc.outputs) {
				t.Errorf("outputs = %v, want %v", out, tc.outputs)
			}
		})
	}
}

func equalInfos(a, b []ValueInfo) bool {
	return slices.EqualFunc(a, b, func(x, y ValueInfo) bool {
		return x.Name == y.Name && x.Elem == y.Elem && x.UnknownRank == y.UnknownRank &&
			slices.Equal(x.Dims, y.Dims) && x.Rank() == y.Rank()
	})
}

// Ensure external data holds exactly the initializers of at least the
// threshold, back to back, and that small ones (shape constants) stay inline.
func TestWriteFileExternalData(t *testing.T) {
	g := NewGraph("ext")
	g.AddInput("x", Float, Sym("n"))
	g.AddOutput("y", Float, Sym("n"))
	g.AddFloat32("w1", []int64{256}, make([]float32, 256)) // exactly 1 KiB: external
	g.AddInt64("shape", []int64{2}, []int64{0, -1})        // inline
	g.AddFloat32("w2", []int64{1000}, make([]float32, 1000))
	g.AddNode("Identity", []string{"x"}, []string{"y"})
	dir := t.TempDir()
	if err := g.WriteFile(filepath.Join(dir, "model.onnx"), WriteOptions{ExternalData: "weights.pb"}); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, "weights.pb"))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := fi.Size(), int64(1024+4000); got != want {
		t.Errorf("weights.pb size = %d, want %d", got, want)
	}
	b, err := os.ReadFile(filepath.Join(dir, "model.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	got := initializers(t, b)
	want := map[string]string{
		"w1":    "external weights.pb@0+1024",
		"shape": "inline 16",
		"w2":    "external weights.pb@1024+4000",
	}
	for name, w := range want {
		if got[name] != w {
			t.Errorf("initializer %s = %q, want %q", name, got[name], w)
		}
	}
}

// initializers summarizes graph.initializer entries of an encoded model.
func initializers(t *testing.T, model []byte) map[string]string {
	t.Helper()
	res := map[string]string{}
	err := fields(model, func(num protowire.Number, _ protowire.Type, _ uint64, graph []byte) error {
		if num != 7 {
			return nil
		}
		return fields(graph, func(num protowire.Number, _ protowire.Type, _ uint64, tb []byte) error {
			if num != 5 {
				return nil
			}
			var name, desc string
			ext := map[string]string{}
			var loc uint64
			err := fields(tb, func(num protowire.Number, _ protowire.Type, v uint64, sub []byte) error {
				switch num {
				case 8:
					name = string(sub)
				case 9:
					desc = "inline " + strconv.Itoa(len(sub))
				case 13:
					var k, val string
					err := fields(sub, func(num protowire.Number, _ protowire.Type, _ uint64, s []byte) error {
						if num == 1 {
							k = string(s)
						} else {
							val = string(s)
						}
						return nil
					})
					ext[k] = val
					return err
				case 14:
					loc = v
				}
				return nil
			})
			if loc == 1 {
				desc = "external " + ext["location"] + "@" + ext["offset"] + "+" + ext["length"]
			}
			res[name] = desc
			return err
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// Ensure ReadIO rejects files that are not ONNX models.
func TestReadIOMalformed(t *testing.T) {
	g := NewGraph("g")
	g.AddInput("x", Float, D(1))
	g.AddOutput("y", Float, D(1))
	g.AddFloat32("w", []int64{1000}, make([]float32, 1000))
	good, err := g.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string][]byte{
		"empty":     {},
		"truncated": good[:len(good)/2],
		"no_graph":  protowire.AppendVarint(protowire.AppendTag(nil, 1, protowire.VarintType), 8),
		"bad_wire":  {0x0f},
	}
	for name, b := range cases {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "model.onnx")
			if err := os.WriteFile(path, b, 0o644); err != nil {
				t.Fatal(err)
			}
			_, _, err := ReadIO(path)
			if err == nil {
				t.Fatal("ReadIO succeeded")
			}
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Errorf("err = %v, want ErrMalformed or io.ErrUnexpectedEOF", err)
			}
		})
	}
	if _, _, err := ReadIO(filepath.Join(t.TempDir(), "missing.onnx")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: err = %v, want os.ErrNotExist", err)
	}
}
