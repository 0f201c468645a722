package upscale

import (
	"context"
	"errors"
	"image"
	"image/color"
	"testing"
)

// fakeModel is a ModelUpscaler that enlarges with Nearest and counts calls.
type fakeModel struct {
	scale int
	calls int
	err   error
}

var _ ModelUpscaler = (*fakeModel)(nil)

func (m *fakeModel) Scale() int { return m.scale }

func (m *fakeModel) Upscale(_ context.Context, img image.Image) (image.Image, error) {
	m.calls++
	if m.err != nil {
		return nil, m.err
	}
	b := img.Bounds()
	return Resize(img, b.Dx()*m.scale, b.Dy()*m.scale, Nearest), nil
}

func TestRegistryOrderAndFields(t *testing.T) {
	r := NewRegistry(
		NewModelUpscaler("SwinIR 4x", "SwinIR", "/m/swinir.onnx", &fakeModel{scale: 4}),
		NewModelUpscaler("ESRGAN_4x", "ESRGAN", "/m/esrgan.onnx", &fakeModel{scale: 4}),
		NewModelUpscaler("2x-anime", "ESRGAN", "/m/anime.onnx", &fakeModel{scale: 2}),
	)
	var names []string
	for _, u := range r.List() {
		names = append(names, u.Name)
	}
	want := []string{"None", "Lanczos", "Nearest", "2x-anime", "ESRGAN_4x", "SwinIR 4x"}
	if len(names) != len(want) {
		t.Fatalf("names = %q, want %q", names, want)
	}
	for i := range want {
		if names[i] != want[i] {
			t.Fatalf("names = %q, want %q", names, want)
		}
	}
	for _, u := range r.List()[:3] {
		if u.ModelName != nil || u.ModelPath != nil || u.ModelURL != nil || u.Scale != 4 {
			t.Errorf("%s = %+v, want null model fields and scale 4", u.Name, u)
		}
	}
	u, err := r.Lookup("2x-anime")
	if err != nil {
		t.Fatal(err)
	}
	if u.Scale != 2 || *u.ModelName != "ESRGAN" || *u.ModelPath != "/m/anime.onnx" || u.ModelURL != nil {
		t.Errorf("2x-anime = %+v", u)
	}
	if _, err := r.Lookup("nearest"); !errors.Is(err, ErrUpscalerNotFound) {
		t.Errorf("Lookup is exact: err = %v", err)
	}
}

// Ensure Upscale follows A1111's loop: a 2x model reaching scale 6 runs
// three times, a failing one reports its error, and the result is cut to a
// multiple of 8.
func TestUpscalerLoop(t *testing.T) {
	src := solid(10, 6, color.NRGBA{1, 2, 3, 255})
	tests := []struct {
		name      string
		src       image.Point
		scale     float64
		model     *fakeModel
		wantCalls int
		wantSize  image.Point
	}{
		{"one step", image.Pt(10, 6), 2, &fakeModel{scale: 4}, 1, image.Pt(16, 8)},
		{"three steps at most", image.Pt(10, 6), 20, &fakeModel{scale: 2}, 3, image.Pt(200, 120)},
		{"scale 1 still runs once", image.Pt(16, 8), 1, &fakeModel{scale: 2}, 1, image.Pt(16, 8)},
		{"stops when it stops growing", image.Pt(10, 6), 4, &fakeModel{scale: 1}, 1, image.Pt(40, 24)},
		{"empty target", image.Pt(10, 6), 1, &fakeModel{scale: 2}, 0, image.Point{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			u := NewModelUpscaler("m", "ESRGAN", "/m", tc.model)
			got, err := u.Upscale(t.Context(), solid(tc.src.X, tc.src.Y, color.NRGBA{1, 2, 3, 255}), tc.scale)
			if tc.wantSize == (image.Point{}) {
				if !errors.Is(err, ErrInvalid) {
					t.Fatalf("err = %v, want ErrInvalid for an empty target", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tc.model.calls != tc.wantCalls {
				t.Errorf("model ran %d times, want %d", tc.model.calls, tc.wantCalls)
			}
			if got.Rect.Size() != tc.wantSize {
				t.Errorf("size = %v, want %v", got.Rect.Size(), tc.wantSize)
			}
		})
	}
	boom := errors.New("boom")
	u := NewModelUpscaler("m", "ESRGAN", "/m", &fakeModel{scale: 2, err: boom})
	if _, err := u.Upscale(t.Context(), src, 2); !errors.Is(err, boom) {
		t.Errorf("err = %v, want the model's error", err)
	}
}

func TestNoneUpscalerIsLanczosToTarget(t *testing.T) {
	src := loadPNG(t, "src_64.png")
	got, err := Upscaler{}.Upscale(t.Context(), src, 1.5)
	if err != nil {
		t.Fatal(err)
	}
	compareImages(t, got, Resize(src, 96, 96, Lanczos), 0)
}
