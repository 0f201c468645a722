package infotext

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current Parse output")

// goldenCases are whole infotexts whose full Parse result is pinned in
// testdata/<name>.golden (regenerate with go test ./processing/infotext -update).
var goldenCases = []struct {
	name string
	text string
}{
	{"empty", ""},
	{"a1111_example", "a cat\nNegative prompt: blurry\nSteps: 20, Sampler: Euler a, Schedule type: Automatic, CFG scale: 7, Seed: 123, Size: 512x512, Model hash: 6ce0161689, Model: v1-5-pruned-emaonly, Version: v1.10.1"},
	{"quoted_values", `portrait
Steps: 30, Sampler: DPM++ 2M, Lora hashes: "add_detail: 7c6bad76eb54, more_art: 1c9a1d6a8f49", Note: "say \"hi\", then\nleave", Empty quotes: "", Size: 768x512`},
	{"multiline", "line one,\n  line two\n\nline four\nNegative prompt: bad hands,\nworst quality\n  second neg line  \nSteps: 20, Seed: 1, CFG scale: 7.5, Clip skip: 2, RNG: CPU, Schedule type: Karras"},
	{"too_few_params", "just a prompt\nSteps: 20, Seed: 5"},
	{"hires", "city at night\nSteps: 25, Sampler: Euler, Seed: 9, Size: 512x512, Denoising strength: 0.5, Hires upscale: 2, Hires resize: 1024x1024, Hires upscaler: Latent, FP8 weight: Enable for SDXL"},
	{"old_hires_first_pass", "old\nSteps: 20, Seed: 3, Size: 1024x768, First pass size: 0x0"},
	{"backcompat_v150", "a [cat:dog:0.5]\nSteps: 20, Sampler: DDIM, Seed: 7, Refiner: sdxl_refiner, Version: v1.5.1-12-gabcdef0"},
	{"hypernet", "anime girl\nSteps: 20, Seed: 2, Hypernet: anime, Hypernet strength: 0.7"},
}

func TestParseGolden(t *testing.T) {
	for _, tc := range goldenCases {
		t.Run(tc.name, func(t *testing.T) {
			p := Parse(tc.text)
			raw, err := p.MarshalJSON() // json.Marshal would re-escape <, > and &
			if err != nil {
				t.Fatalf("marshal: %v", err)
			}
			var got bytes.Buffer
			if err := json.Indent(&got, raw, "", "  "); err != nil {
				t.Fatalf("indent: %v", err)
			}
			got.WriteByte('\n')
			path := filepath.Join("testdata", tc.name+".golden")
			if *update {
				if err := os.WriteFile(path, got.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("read golden (run with -update to create): %v", err)
			}
			if !bytes.Equal(got.Bytes(), want) {
				t.Errorf("Parse(%q) =\n%s\nwant\n%s", tc.text, got.Bytes(), want)
			}
		})
	}
}
