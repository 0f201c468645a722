package scripts

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/sdapi/sdapi/processing"
	"github.com/sdapi/sdapi/processing/upscale"
)

// Ensure each script reads its script_args in the order of A1111's
// Script.run, converts them as the API sends them (numbers as float64,
// names or indices for radios), and names the argument that fails.
func TestParseScriptArgs(t *testing.T) {
	sdUp := SDUpscale{Upscalers: upscale.NewRegistry()}
	tests := []struct {
		name    string
		parse   func([]any) (any, error)
		args    []any
		want    any
		wantErr string // the argument an error names
	}{
		{"loopback", func(a []any) (any, error) { return parseLoopbackArgs(a) },
			[]any{4.0, 0.5, "Lazy", "None"},
			loopbackArgs{loops: 4, final: 0.5, curve: "Lazy", interrogate: "None"}, ""},
		{"loopback bad final", func(a []any) (any, error) { return parseLoopbackArgs(a) },
			[]any{4.0, "x", "Lazy", "None"}, nil, "final_denoising_strength"},
		{"outpainting mk2", func(a []any) (any, error) { return parseOutpaintingMk2Args(a) },
			[]any{"<p>info</p>", 64.0, 8.0, []any{"left", "up"}, 1.0, 0.05},
			outpaintingMk2Args{pixels: 64, maskBlur: 8, dirs: []string{"left", "up"}, noiseQ: 1, colorVariation: 0.05}, ""},
		{"outpainting mk2 missing color variation", func(a []any) (any, error) { return parseOutpaintingMk2Args(a) },
			[]any{"", 64.0, 8.0, []any{"left"}, 1.0}, nil, "color_variation"},
		{"poor man's", func(a []any) (any, error) { return parsePoorMansArgs(a) },
			[]any{128.0, 4.0, "latent noise", []any{"down"}},
			poorMansArgs{pixels: 128, maskBlur: 4, fill: 2, dirs: []string{"down"}}, ""},
		{"poor man's fill by index", func(a []any) (any, error) { return parsePoorMansArgs(a) },
			[]any{8.0, 0.0, 1.0, []any{}},
			poorMansArgs{pixels: 8, fill: 1, dirs: []string{}}, ""},
		{"poor man's bad mask blur", func(a []any) (any, error) { return parsePoorMansArgs(a) },
			[]any{8.0, "wide", 1.0, []any{}}, nil, "mask_blur"},
		{"prompt matrix", func(a []any) (any, error) { return parsePromptMatrixArgs(a), nil },
			[]any{true, false, "negative", "space", 0.0},
			promptMatrixArgs{putAtStart: true, promptType: "negative", delimiterName: "space"}, ""},
		{"prompts from file", func(a []any) (any, error) { return parsePromptsFromFileArgs(a), nil },
			[]any{false, true, "end", "a\nb"},
			promptsFromFileArgs{iterateBatch: true, position: "end", text: "a\nb"}, ""},
		{"sd upscale by name", func(a []any) (any, error) { return sdUp.parseArgs(a) },
			[]any{nil, 32.0, "lanczos", 2.5},
			sdUpscaleArgs{overlap: 32, up: sdUp.upscalers()[1], scale: 2.5}, ""},
		{"sd upscale by index", func(a []any) (any, error) { return sdUp.parseArgs(a) },
			[]any{nil, 0.0, 2.0, 2.0},
			sdUpscaleArgs{up: sdUp.upscalers()[2], scale: 2}, ""},
		{"sd upscale bad scale", func(a []any) (any, error) { return sdUp.parseArgs(a) },
			[]any{nil, 0.0, "None", "big"}, nil, "scale_factor"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.parse(tc.args)
			if tc.wantErr != "" {
				if !errors.Is(err, processing.ErrInvalid) || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want ErrInvalid naming %s", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}
