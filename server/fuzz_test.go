package server

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"image"
	"image/png"
	"net/http"
	"strings"
	"testing"

	"github.com/sdapi/sdapi/processing"
	"github.com/sdapi/sdapi/processing/scripts"
	"github.com/sdapi/sdapi/processing/upscale"
)

// fuzzLimits keep each input cheap: an image over 64×64 is refused from
// its header, so the fuzzer cannot make the decoder allocate much.
var fuzzLimits = Limits{MaxBodyBytes: 1 << 20, MaxPixels: 64 * 64, MaxSteps: 150, MaxPromptChars: 1000, MaxBatchImages: 4}

// fuzzPNG is a w×h PNG as a data: URI.
func fuzzPNG(f *testing.F, w, h int) string {
	var buf bytes.Buffer
	if err := png.Encode(&buf, image.NewNRGBA(image.Rect(0, 0, w, h))); err != nil {
		f.Fatal(err)
	}
	return "data:image/png;base64," + base64.StdEncoding.EncodeToString(buf.Bytes())
}

// FuzzDecodeGeneration sends raw bodies through the request decoding and
// validation path of txt2img and img2img (decodeGeneration: pydantic's
// coercions and refusals; prepare: apply_infotext, limits, image
// decoding), as the routes do. It must never panic; it either refuses the
// body with an error the one error table maps to a client answer, or
// returns parameters within every limit whose echo encodes.
func FuzzDecodeGeneration(f *testing.F) {
	small, big := fuzzPNG(f, 8, 8), fuzzPNG(f, 65, 64)
	seeds := []struct {
		body    string
		img2img bool
	}{
		{`{}`, false},
		{`{"prompt":"a (cat:1.2)","negative_prompt":"blurry","steps":20,"width":64,"height":64,"seed":-1}`, false},
		{`{"infotext":"a cat\nSteps: 20, Sampler: Euler a, Size: 64x64, Seed: 1","steps":null}`, false},
		{`{"enable_hr":true,"denoising_strength":0.5,"hr_scale":1e308,"width":64,"height":64}`, false},
		{`{"enable_hr":true,"hr_resize_x":-64,"hr_resize_y":64,"width":0,"height":64,"firstphase_width":64}`, false},
		{`{"steps":"20","width":1e30,"height":-1e30,"batch_size":true,"styles":[1,null],"override_settings":[]}`, false},
		{`{"script_name":"x/y/z plot","script_args":[1,"Steps","1,2"]}`, false},
		{`{"latent_mask":"x","init_images":[]}`, true},
		{`{"init_images":["` + small + `"],"mask":"` + small + `","steps":10,"width":8,"height":8}`, true},
		{`{"init_images":["` + small + `","` + big + `"],"batch_size":2}`, true},
		{`{"init_images":[1,null,"http://example.com/a.png"]}`, true},
		{`{"init_images":["` + small + `"],"firstpass_image":"not base64"}`, true},
	}
	for _, s := range seeds {
		f.Add([]byte(s.body), s.img2img)
	}
	// A Processor without models: Prepare decides scripts and limits; no
	// job runs.
	pr := &processing.Processor{Limits: fuzzLimits.WithDefaults().Processing(),
		Scripts: processing.NewScripts(scripts.Builtin(upscale.NewRegistry(), nil)...)}
	srv := New(Config{Limits: fuzzLimits}, Deps{Processor: pr})
	f.Fuzz(func(t *testing.T, body []byte, img2img bool) {
		mode := processing.Txt2Img
		if img2img {
			mode = processing.Img2Img
		}
		req, err := decodeGeneration(mode, "application/json", body)
		var job *processing.Job
		if err == nil {
			job, err = srv.prepare(t.Context(), req)
		}
		if err != nil {
			status, out := errorResponse(err, redactor{})
			if status < 400 || status > 599 {
				t.Fatalf("status %d for %v", status, err)
			}
			if m, ok := out.(pyObject); ok && m.Get("error") == "Exception" {
				t.Fatalf("unclassified error reaches the client as a 500: %v", err)
			}
			if _, jerr := json.Marshal(out); jerr != nil {
				t.Fatalf("error body does not encode: %v", jerr)
			}
			return
		}
		p := job.Params
		if echo, err := marshalPy(req.params); err != nil || !json.Valid(echo) {
			t.Fatalf("parameters echo does not encode: %v %s", err, echo)
		}
		if err := srv.cfg.Limits.Processing().Check(p); err != nil {
			t.Fatalf("accepted parameters over a limit: %v", err)
		}
		for _, img := range append(append([]image.Image{}, p.InitImages...), p.Mask, p.FirstpassImage) {
			if img != nil && int64(img.Bounds().Dx())*int64(img.Bounds().Dy()) > fuzzLimits.MaxPixels {
				t.Fatalf("decoded a %v image over the pixel limit", img.Bounds())
			}
		}
		if img2img {
			if len(p.InitImages) != len(req.initImages) || len(req.initImages) > fuzzLimits.MaxBatchImages {
				t.Fatalf("%d init images decoded from %d sent (limit %d)", len(p.InitImages), len(req.initImages), fuzzLimits.MaxBatchImages)
			}
		}
	})
}

// FuzzDecodeImage checks decode_base64_to_image's port: base64 or a data:
// URI, refused URLs, the pixel limit read from the header. Never a panic;
// errors are the 500 "Invalid encoded image" or "Requests not allowed", or
// the limit's 422; a decoded image is within the limit.
func FuzzDecodeImage(f *testing.F) {
	f.Add(fuzzPNG(f, 1, 1))
	f.Add(fuzzPNG(f, 64, 64))
	f.Add(fuzzPNG(f, 65, 65))
	f.Add("data:image/jpeg;base64,/9j/4AAQSkZJRgABAQ")
	f.Add("R0lGODlhAQABAAAAACw=")
	f.Add("https://example.com/cat.png")
	f.Add("data:image/png;base64,")
	f.Add("")
	// A Processor without models: Prepare decides scripts and limits; no
	// job runs.
	pr := &processing.Processor{Limits: fuzzLimits.WithDefaults().Processing(),
		Scripts: processing.NewScripts(scripts.Builtin(upscale.NewRegistry(), nil)...)}
	srv := New(Config{Limits: fuzzLimits}, Deps{Processor: pr})
	f.Fuzz(func(t *testing.T, s string) {
		img, err := srv.decodeInput(t.Context(), s, "image")
		if err != nil {
			var ae *apiError
			var le *processing.LimitError
			switch {
			case errors.As(err, &ae) && ae.Status == http.StatusInternalServerError:
			case errors.As(err, &le) && le.Limit == fuzzLimits.MaxPixels:
			default:
				t.Fatalf("unexpected error %T %v", err, err)
			}
			return
		}
		if b := img.Bounds(); int64(b.Dx())*int64(b.Dy()) > fuzzLimits.MaxPixels {
			t.Fatalf("decoded %v, over the limit", b)
		}
	})
}

// FuzzRedactPaths: a path under a configured directory, put anywhere a
// message may hold one, never reaches the client in any part; with no
// other "/" in the message, none is left at all.
func FuzzRedactPaths(f *testing.F) {
	red := newRedactor([]string{"/srv/sd data", "/home/u"})
	f.Add("open ", false, true, "x.onnx: no such file")
	f.Add(`{"path":"`, true, true, `m.onnx"}`)
	f.Add("file://", false, true, "a b")
	f.Add("load=", true, false, "")
	f.Add("`", false, false, "`")
	f.Fuzz(func(t *testing.T, before string, home, file bool, after string) {
		if strings.Contains(before+after, "/") {
			t.Skip("another path in the message")
		}
		dir := "/srv/sd data"
		if home {
			dir = "/home/u"
		}
		if file {
			dir += "/"
		}
		// A path starts after a delimiter, as every message writes one.
		msg := before + " " + dir + after
		if out := red.paths(msg); strings.Contains(out, "/") {
			t.Fatalf("paths(%q) = %q: a path is left", msg, out)
		}
	})
}
