package ort

import (
	"errors"
	"image"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"testing"

	onnxruntime "github.com/yalue/onnxruntime_go"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/sdapi/sdapi/runner"
	"github.com/sdapi/sdapi/runner/onnxgen"
	"github.com/sdapi/sdapi/runner/onnxgen/onnxpb"
)

// convCase is a single-Conv graph: x [1,c,h,w] → y [1,o,·,·].
type convCase struct {
	name       string
	input      string // the graph input's name
	c, o, k    int
	s, d       int
	pads       [4]int // top, left, bottom, right (ONNX order)
	h, w       int
	opset      int64 // 0: onnxpb's default
	wantConvs  int
	xs, ws, bs []float32
}

func (cc *convCase) model(t *testing.T) []byte {
	t.Helper()
	rng := rand.New(rand.NewPCG(7, uint64(len(cc.name))))
	randn := func(n int) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(rng.NormFloat64())
		}
		return v
	}
	cc.xs, cc.ws, cc.bs = randn(cc.c*cc.h*cc.w), randn(cc.o*cc.c*cc.k*cc.k), randn(cc.o)
	g := onnxpb.NewGraph("conv")
	g.AddInput(cc.input, onnxpb.Float, onnxpb.D(1), onnxpb.D(int64(cc.c)), onnxpb.Sym("h"), onnxpb.Sym("w"))
	k := int64(cc.k)
	w := g.AddFloat32("w", []int64{int64(cc.o), int64(cc.c), k, k}, cc.ws)
	b := g.AddFloat32("b", []int64{int64(cc.o)}, cc.bs)
	p := cc.pads
	g.AddNode("Conv", []string{cc.input, w, b}, []string{"y"},
		onnxpb.AttrInts("kernel_shape", k, k),
		onnxpb.AttrInts("pads", int64(p[0]), int64(p[1]), int64(p[2]), int64(p[3])),
		onnxpb.AttrInts("strides", int64(cc.s), int64(cc.s)),
		onnxpb.AttrInts("dilations", int64(cc.d), int64(cc.d)))
	g.AddOutput("y", onnxpb.Float, onnxpb.D(1), onnxpb.D(int64(cc.o)), onnxpb.Sym("oh"), onnxpb.Sym("ow"))
	m, err := g.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if cc.opset != 0 {
		m = setOpset(t, m, cc.opset)
	}
	return m
}

// circularConv is the reference: torch's Conv2d with padding_mode='circular'
// (input indices wrap modulo the size), for one image.
func (cc *convCase) circularConv() (y []float32, oh, ow int) {
	p := cc.pads
	oh = (cc.h+p[0]+p[2]-cc.d*(cc.k-1)-1)/cc.s + 1
	ow = (cc.w+p[1]+p[3]-cc.d*(cc.k-1)-1)/cc.s + 1
	mod := func(a, n int) int { return (a%n + n) % n }
	y = make([]float32, cc.o*oh*ow)
	for oc := range cc.o {
		for i := range oh {
			for j := range ow {
				sum := float64(cc.bs[oc])
				for ic := range cc.c {
					for ky := range cc.k {
						yy := mod(i*cc.s+ky*cc.d-p[0], cc.h)
						for kx := range cc.k {
							xx := mod(j*cc.s+kx*cc.d-p[1], cc.w)
							sum += float64(cc.ws[((oc*cc.c+ic)*cc.k+ky)*cc.k+kx]) * float64(cc.xs[(ic*cc.h+yy)*cc.w+xx])
						}
					}
				}
				y[(oc*oh+i)*ow+j] = float32(sum)
			}
		}
	}
	return y, oh, ow
}

// setOpset replaces the model's default-domain opset import.
func setOpset(t *testing.T, m []byte, v int64) []byte {
	t.Helper()
	var out []byte
	err := onnxpb.EachField(m, func(f onnxpb.Field) error {
		if f.Num != 8 {
			out = append(out, f.Raw...)
			return nil
		}
		op := onnxpb.AppendString(nil, 1, "")
		op = protowire.AppendTag(op, 2, protowire.VarintType)
		op = protowire.AppendVarint(op, uint64(v))
		out = protowire.AppendTag(out, 8, protowire.BytesType)
		out = protowire.AppendBytes(out, op)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// runBytes runs a model with one float input and one float output.
func runBytes(t *testing.T, m []byte, in, out string, shape onnxruntime.Shape, x []float32) ([]float32, onnxruntime.Shape) {
	t.Helper()
	s, err := onnxruntime.NewDynamicAdvancedSessionWithONNXData(m, []string{in}, []string{out}, nil)
	if err != nil {
		t.Fatalf("session: %v", err)
	}
	defer s.Destroy()
	xv, err := onnxruntime.NewTensor(shape, x)
	if err != nil {
		t.Fatal(err)
	}
	defer xv.Destroy()
	outs := []onnxruntime.Value{nil}
	if err := s.Run([]onnxruntime.Value{xv}, outs); err != nil {
		t.Fatalf("run: %v", err)
	}
	defer outs[0].Destroy()
	y, err := floatsOf(outs[0])
	if err != nil {
		t.Fatal(err)
	}
	return y, outs[0].GetShape()
}

func TestCircularConvMatchesReference(t *testing.T) {
	requireORT(t)
	cases := []convCase{
		{name: "3x3 pad 1", input: "x", c: 3, o: 4, k: 3, s: 1, d: 1, pads: [4]int{1, 1, 1, 1}, h: 6, w: 7, wantConvs: 1},
		{name: "stride 2", input: "x", c: 2, o: 3, k: 3, s: 2, d: 1, pads: [4]int{1, 1, 1, 1}, h: 8, w: 6, wantConvs: 1},
		{name: "dilated, pads differ per axis", input: "x", c: 2, o: 2, k: 3, s: 1, d: 2, pads: [4]int{2, 1, 2, 1}, h: 7, w: 5, wantConvs: 1},
		{name: "pad height only", input: "x", c: 2, o: 2, k: 3, s: 1, d: 1, pads: [4]int{1, 0, 1, 0}, h: 5, w: 6, wantConvs: 1},
		{name: "opset 9 slice attributes", input: "x", c: 2, o: 2, k: 3, s: 1, d: 1, pads: [4]int{1, 1, 1, 1}, h: 5, w: 5, opset: 9, wantConvs: 1},
		// An input named like the first added value: the prefix must move.
		{name: "name collision", input: "sdapi_circular_pad/1", c: 2, o: 2, k: 3, s: 1, d: 1, pads: [4]int{1, 1, 1, 1}, h: 4, w: 4, wantConvs: 1},
		{name: "no padding", input: "x", c: 2, o: 2, k: 1, s: 1, d: 1, h: 4, w: 4},
		// A fused zero Pad (the VAE encoder's downsampling) stays zero, as
		// A1111's tiling leaves F.pad alone.
		{name: "asymmetric pads kept", input: "x", c: 2, o: 2, k: 3, s: 2, d: 1, pads: [4]int{0, 0, 1, 1}, h: 6, w: 6},
	}
	for _, cc := range cases {
		t.Run(cc.name, func(t *testing.T) {
			m := cc.model(t)
			rm, st, err := circularModel(m)
			if err != nil {
				t.Fatal(err)
			}
			if st.convs != cc.wantConvs {
				t.Fatalf("rewrote %d convs, want %d", st.convs, cc.wantConvs)
			}
			if cc.wantConvs == 0 && !slices.Equal(rm, m) {
				t.Errorf("a model without padded convs changed")
			}
			shape := onnxruntime.NewShape(1, int64(cc.c), int64(cc.h), int64(cc.w))
			if cc.wantConvs == 0 {
				return
			}
			got, gotShape := runBytes(t, rm, cc.input, "y", shape, cc.xs)
			want, oh, ow := cc.circularConv()
			if !slices.Equal(gotShape, onnxruntime.NewShape(1, int64(cc.o), int64(oh), int64(ow))) {
				t.Fatalf("shape %v, want [1 %d %d %d]", gotShape, cc.o, oh, ow)
			}
			if d := maxAbsDiff(got, want); d > 1e-4 {
				t.Errorf("max diff from the circular reference %g", d)
			}
			// The zero-padded original must differ, or the test proves nothing.
			orig, _ := runBytes(t, m, cc.input, "y", shape, cc.xs)
			if d := maxAbsDiff(orig, want); d < 1e-2 {
				t.Errorf("zero padding matches the circular reference (diff %g)", d)
			}
		})
	}
}

// Offline-optimised exports fuse Conv into com.microsoft operators, whose
// padding the rewrite leaves alone: they are counted, for a warning, and
// the default-domain Conv beside them is still rewritten.
func TestCircularModelCountsContribConvs(t *testing.T) {
	g := onnxpb.NewGraph("fused")
	g.AddInput("x", onnxpb.Float, onnxpb.D(1), onnxpb.D(1), onnxpb.D(4), onnxpb.D(4))
	w := g.AddFloat32("w", []int64{1, 1, 3, 3}, make([]float32, 9))
	pads := onnxpb.AttrInts("pads", 1, 1, 1, 1)
	g.AddDomainNode("com.microsoft", "FusedConv", []string{"x", w}, []string{"f"}, pads)
	g.AddDomainNode("com.microsoft", "NhwcConv", []string{"f", w}, []string{"n"}, onnxpb.AttrString("auto_pad", "SAME_UPPER"))
	// Unpadded: nothing to lose, not counted.
	g.AddDomainNode("com.microsoft", "FusedConv", []string{"n", w}, []string{"u"}, onnxpb.AttrInts("pads", 0, 0, 0, 0))
	g.AddNode("Conv", []string{"u", w}, []string{"y"}, pads)
	g.AddOutput("y", onnxpb.Float, onnxpb.D(1), onnxpb.D(1), onnxpb.D(4), onnxpb.D(4))
	m, err := g.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	_, st, err := circularModel(m)
	if err != nil {
		t.Fatal(err)
	}
	if st.contribSkipped != 2 || st.convs != 1 {
		t.Errorf("stats %+v, want 2 contrib convolutions skipped and 1 Conv rewritten", st)
	}
}

func TestCircularModelErrors(t *testing.T) {
	cc := convCase{name: "x", input: "x", c: 1, o: 1, k: 3, s: 1, d: 1, pads: [4]int{1, 1, 1, 1}, h: 4, w: 4}
	m := cc.model(t)
	if _, _, err := circularModel(m[:len(m)-3]); err == nil {
		t.Error("truncated model: no error")
	}
	if _, _, err := circularModel(nil); err == nil {
		t.Error("empty model: no error")
	}
}

func maxAbsDiff(a, b []float32) float64 {
	if len(a) != len(b) {
		return math.Inf(1)
	}
	d := 0.0
	for i := range a {
		d = max(d, math.Abs(float64(a[i])-float64(b[i])))
	}
	return d
}

// roll shifts a [c,h,w] tensor by dy rows and dx columns, wrapping.
func roll(x []float32, c, h, w, dy, dx int) []float32 {
	out := make([]float32, len(x))
	for ch := range c {
		for y := range h {
			for xx := range w {
				out[(ch*h+(y+dy)%h)*w+(xx+dx)%w] = x[(ch*h+y)*w+xx]
			}
		}
	}
	return out
}

// runPart runs one part of the runner, plain or tiled, on inputs made by
// mk (destroyed here) and returns its first output as float32.
func runPart(t *testing.T, r *Runner, p *part, tiled bool, out onnxruntime.Shape, mk func(vs *values) error) []float32 {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if tiled {
		restore, err := r.useTiling(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		defer restore()
	}
	var vs values
	defer vs.destroy()
	err := mk(&vs)
	if err == nil {
		err = vs.add(outputValue(p.out[0].Elem, out))
	}
	var acc int64
	if err == nil {
		err = p.run(nil, vs[:len(p.in)], vs[len(p.in):], &acc)
	}
	if err != nil {
		t.Fatal(err)
	}
	y, err := floatsOf(vs[len(p.in)])
	if err != nil {
		t.Fatal(err)
	}
	return y
}

// decodeLatent runs the runner's VAE decoder, plain or tiled, on one latent.
func decodeLatent(t *testing.T, r *Runner, tiled bool, lat []float32, lh, lw int) []float32 {
	t.Helper()
	return runPart(t, r, r.vaeDec, tiled, onnxruntime.NewShape(1, 3, int64(8*lh), int64(8*lw)), func(vs *values) error {
		return vs.add(floatValue(r.vaeDec.in[0].Elem, onnxruntime.NewShape(1, 4, int64(lh), int64(lw)), lat))
	})
}

// predictEps runs the runner's UNet, plain or tiled, on one latent at
// timestep 500 with fixed random conditioning.
func predictEps(t *testing.T, r *Runner, tiled bool, lat []float32, lh, lw int) []float32 {
	t.Helper()
	shape := onnxruntime.NewShape(1, 4, int64(lh), int64(lw))
	rng := rand.New(rand.NewPCG(5, 6))
	ehs := make([]float32, 77*r.textDim)
	for i := range ehs {
		ehs[i] = float32(rng.NormFloat64())
	}
	return runPart(t, r, r.unet, tiled, shape, func(vs *values) error {
		err := vs.add(floatValue(r.unet.in[0].Elem, shape, lat))
		if err == nil {
			err = vs.add(r.timestep.value(500, 1))
		}
		if err == nil {
			err = vs.add(floatValue(r.unet.in[2].Elem, onnxruntime.NewShape(1, 77, int64(r.textDim)), ehs))
		}
		return err
	})
}

// TestTiledPartsAreCircular is the seamlessness property: with circular
// padding every layer commutes with a wrap-around shift, so rolling the
// latent by (dy, dx) rolls the decoded image by (8dy, 8dx) and the UNet's
// prediction by (dy, dx) (even shifts: the UNet downsamples by 2). Zero
// padding breaks it at the borders, which the plain sessions must show.
func TestTiledPartsAreCircular(t *testing.T) {
	for _, cfg := range []onnxgen.Config{{}, {FP16: true}} {
		t.Run(map[bool]string{false: "fp32", true: "fp16"}[cfg.FP16], func(t *testing.T) {
			r := openShared(t, cfg)
			const lh, lw, dy, dx = 8, 10, 2, 4
			rng := rand.New(rand.NewPCG(3, 4))
			lat := make([]float32, 4*lh*lw)
			for i := range lat {
				lat[i] = float32(rng.NormFloat64())
			}
			rolled := roll(lat, 4, lh, lw, dy, dx)
			tol := 1e-3
			if cfg.FP16 {
				tol = 2e-2 // float16 outputs round differently at each position
			}
			for _, pc := range []struct {
				name  string
				run   func(t *testing.T, r *Runner, tiled bool, lat []float32, lh, lw int) []float32
				c, up int
			}{{"vae_decoder", decodeLatent, 3, 8}, {"unet", predictEps, 4, 1}} {
				equivariance := func(tiled bool) float64 {
					a := roll(pc.run(t, r, tiled, lat, lh, lw), pc.c, pc.up*lh, pc.up*lw, pc.up*dy, pc.up*dx)
					return maxAbsDiff(a, pc.run(t, r, tiled, rolled, lh, lw))
				}
				tiled, plain := equivariance(true), equivariance(false)
				t.Logf("%s: |f(roll(z)) - roll(f(z))| tiled %.3g, plain %.3g", pc.name, tiled, plain)
				if tiled > tol {
					t.Errorf("%s tiled: f(roll(z)) differs from roll(f(z)) by %g, want ≤ %g", pc.name, tiled, tol)
				}
				if plain < 10*tol {
					t.Errorf("%s plain: differs by only %g; the property does not discriminate", pc.name, plain)
				}
			}
		})
	}
}

func generateOne(t *testing.T, r *Runner, req runner.Request) image.Image {
	t.Helper()
	res, err := r.Generate(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	return res.Images[0]
}

func TestTilingTxt2Img(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  onnxgen.Config
	}{{"inline", onnxgen.Config{}}, {"external data", onnxgen.Config{ExternalData: true}}, {"fp16", onnxgen.Config{FP16: true}}} {
		t.Run(tc.name, func(t *testing.T) {
			r := openShared(t, tc.cfg)
			req := baseRequest("Euler a", 1)
			plain := generateOne(t, r, req)
			req.Tiling = true
			tiled := generateOne(t, r, req)
			if d, _ := maxDiff(t, tiled, generateOne(t, r, req)); d != 0 {
				t.Errorf("tiled twice: max diff %d, want 0", d)
			}
			if _, mean := maxDiff(t, plain, tiled); mean < 0.5 {
				t.Errorf("tiled vs plain: mean diff %.3f, want the images to differ", mean)
			}
			req.Tiling = false
			if d, _ := maxDiff(t, plain, generateOne(t, r, req)); d != 0 {
				t.Errorf("plain after tiled: max diff %d, want 0 (sessions not restored)", d)
			}
			if tc.cfg.ExternalData { // same weights as the inline model, stored elsewhere
				req.Tiling = true
				inline := generateOne(t, openShared(t, onnxgen.Config{}), req)
				if d, _ := maxDiff(t, tiled, inline); d > 1 {
					t.Errorf("external vs inline weights, tiled: max diff %d, want ≤ 1", d)
				}
			}
		})
	}
}

func TestTilingImg2Img(t *testing.T) {
	r := openShared(t, onnxgen.Config{})
	req := img2imgRequest(t, "Euler", 1)
	plain := generateOne(t, r, req)
	req.Tiling = true
	if _, mean := maxDiff(t, plain, generateOne(t, r, req)); mean < 0.5 {
		t.Errorf("tiled vs plain img2img: mean diff %.3f, want the images to differ", mean)
	}
}

func TestTilingSessionsFreedOnClose(t *testing.T) {
	r, err := Open(t.Context(), emit(t, onnxgen.Config{}), Config{Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	req := baseRequest("Euler", 1)
	req.Tiling = true
	generateOne(t, r, req)
	if n := len(r.tiled); n != 3 {
		t.Errorf("%d tiled sessions, want 3 (unet, vae_decoder, vae_encoder)", n)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if r.tiled != nil {
		t.Errorf("tiled sessions kept after Close")
	}
	if _, err := r.Generate(t.Context(), req); err == nil || errors.Is(err, runner.ErrInvalidRequest) {
		t.Errorf("Generate after Close: err = %v, want a closed-runner error", err)
	}
}

// A tiling session that cannot be built is an error naming the part. A
// graph that cannot be read or rewritten fails every later tiling request
// with the same error, without reading the weights again; a session that
// failed to load (the graph rewrote fine) is tried again. Plain requests
// run throughout, on the sessions loaded at Open.
func TestTilingBuildErrors(t *testing.T) {
	// A padded Conv followed by an operator ONNX Runtime does not know.
	g := onnxpb.NewGraph("unknown-op")
	g.AddInput("x", onnxpb.Float, onnxpb.D(1), onnxpb.D(1), onnxpb.D(4), onnxpb.D(4))
	w := g.AddFloat32("w", []int64{1, 1, 3, 3}, make([]float32, 9))
	g.AddNode("Conv", []string{"x", w}, []string{"c"}, onnxpb.AttrInts("pads", 1, 1, 1, 1))
	g.AddNode("NoSuchOperator", []string{"c"}, []string{"y"})
	g.AddOutput("y", onnxpb.Float, onnxpb.D(1), onnxpb.D(1), onnxpb.D(4), onnxpb.D(4))
	unknownOp, err := g.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		file  []byte
		stage string // in the error
		kept  bool
	}{
		{"not a model: rewrite", []byte("not a model"), "rewrite", true},
		{"unknown operator: load", unknownOp, "load", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := Open(t.Context(), emit(t, onnxgen.Config{}), Config{Threads: 2})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { r.Close() })
			good, err := os.ReadFile(r.unet.path)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(r.unet.path, tc.file, 0o644); err != nil {
				t.Fatal(err)
			}
			req := baseRequest("Euler", 1)
			req.Tiling = true
			_, first := r.Generate(t.Context(), req)
			if !errors.Is(first, runner.ErrModel) || !strings.Contains(first.Error(), "unet/model.onnx: tiling: "+tc.stage) {
				t.Fatalf("err = %v, want ErrModel naming unet/model.onnx and %s", first, tc.stage)
			}
			if err := os.WriteFile(r.unet.path, good, 0o644); err != nil {
				t.Fatal(err)
			}
			_, again := r.Generate(t.Context(), req)
			switch {
			case tc.kept && !errors.Is(again, first):
				t.Errorf("second tiling request: err = %v, want the first error kept (%v)", again, first)
			case !tc.kept && again != nil:
				t.Errorf("second tiling request: err = %v, want a retry that succeeds", again)
			}
			req.Tiling = false
			generateOne(t, r, req)
		})
	}
}
