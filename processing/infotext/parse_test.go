package infotext

import (
	"encoding/json"
	"reflect"
	"testing"
)

// defaultKeys are the keys A1111 adds to every parse, in A1111's order.
var defaultKeys = []string{
	"Clip skip", "Hires resize-1", "Hires resize-2", "Hires sampler", "Hires schedule type", "Hires checkpoint",
	"Hires prompt", "Hires negative prompt", "Mask mode", "Masked content", "Inpaint area",
	"Masked area padding", "RNG", "Schedule type", "Schedule max sigma", "Schedule min sigma",
	"Schedule rho", "VAE Encoder", "VAE Decoder", "FP8 weight", "Refiner switch by sampling steps",
}

func TestParseEmptyHasOnlyDefaults(t *testing.T) {
	p := Parse("")
	want := append([]string{"Prompt", "Negative prompt"}, defaultKeys...)
	if got := p.Keys(); !reflect.DeepEqual(got, want) {
		t.Fatalf("keys = %q, want %q", got, want)
	}
	raw, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	const wantJSON = `{"Prompt":"","Negative prompt":"","Clip skip":"1","Hires resize-1":0,"Hires resize-2":0,` +
		`"Hires sampler":"Use same sampler","Hires schedule type":"Use same scheduler","Hires checkpoint":"Use same checkpoint","Hires prompt":"",` +
		`"Hires negative prompt":"","Mask mode":"Inpaint masked","Masked content":"original",` +
		`"Inpaint area":"Whole picture","Masked area padding":32,"RNG":"GPU","Schedule type":"Automatic",` +
		`"Schedule max sigma":0,"Schedule min sigma":0,"Schedule rho":0,"VAE Encoder":"Full",` +
		`"VAE Decoder":"Full","FP8 weight":"Disable","Refiner switch by sampling steps":false}`
	if string(raw) != wantJSON {
		t.Errorf("json =\n%s\nwant\n%s", raw, wantJSON)
	}
}

func TestParseValues(t *testing.T) {
	tests := []struct {
		name string
		text string
		want map[string]any // subset of the result
		gone []string       // keys that must be absent
	}{
		{
			name: "size splits into -1 and -2 strings",
			text: "p\nSteps: 20, Size: 512x768, Seed: 1",
			want: map[string]any{"Size-1": "512", "Size-2": "768", "Steps": "20", "Seed": "1"},
			gone: []string{"Size"},
		},
		{
			name: "quoted value with comma colon newline and escaped quote",
			text: `p` + "\n" + `Steps: 20, Seed: 1, Note: "a, b: c\n\"d\""`,
			want: map[string]any{"Note": "a, b: c\n\"d\""},
		},
		{
			name: "quoted size is split after unquoting",
			text: "p\nSteps: 20, Seed: 1, Size: \"640x480\"",
			want: map[string]any{"Size-1": "640", "Size-2": "480"},
		},
		{
			name: "empty value drops the key as A1111's IndexError does",
			text: "p\nSteps: 20, Foo: , Seed: 1, Bar: 2",
			want: map[string]any{"Steps": "20", "Seed": "1", "Bar": "2"},
			gone: []string{"Foo"},
		},
		{
			name: "invalid JSON in quotes is kept raw",
			text: `p` + "\n" + `Steps: 20, Seed: 1, Bad: "a\qb"`,
			want: map[string]any{"Bad": `"a\qb"`},
		},
		{
			name: "value keeps trailing spaces before the comma",
			text: "p\nSteps: 20 , Seed: 1, CFG scale: 7",
			want: map[string]any{"Steps": "20 "},
		},
		{
			name: "present clip skip and RNG are not overwritten",
			text: "p\nSteps: 20, Clip skip: 2, RNG: NV",
			want: map[string]any{"Clip skip": "2", "RNG": "NV"},
		},
		{
			name: "fp8 enabled adds the LoRA cache flag",
			text: "p\nSteps: 20, Seed: 1, FP8 weight: Enable",
			want: map[string]any{"FP8 weight": "Enable", "Cache FP16 weight for LoRA": false},
		},
		{
			name: "hires resize present keeps strings",
			text: "p\nSteps: 20, Seed: 1, Hires resize: 1024x1536",
			want: map[string]any{"Hires resize-1": "1024", "Hires resize-2": "1536"},
		},
		{
			name: "first pass size becomes ints",
			text: "p\nSteps: 20, Size: 1024x1024, First pass size: 512x512",
			want: map[string]any{"Size-1": 512, "Size-2": 512, "Hires resize-1": 1024, "Hires resize-2": 1024},
		},
		{
			name: "first pass size 0x0 uses the old algorithm",
			text: "p\nSteps: 20, Size: 1024x768, First pass size: 0x0",
			// scale = sqrt(262144/786432); ceil(0.57735*1024/64)*64 = 640, ceil(0.57735*768/64)*64 = 448
			want: map[string]any{"Size-1": 640, "Size-2": 448, "Hires resize-1": 1024, "Hires resize-2": 768},
		},
		{
			name: "unicode keys and digits",
			text: "p\nSchritte: 20, Größe: ５１２x５１２, Seed: 1",
			want: map[string]any{"Schritte": "20", "Größe-1": "５１２", "Größe-2": "５１２"},
		},
		{
			name: "key with slash and dash",
			text: "p\nSteps: 20, ADetailer model/2nd-pass: face_yolov8n.pt, Seed: 3",
			want: map[string]any{"ADetailer model/2nd-pass": "face_yolov8n.pt"},
		},
		{
			// 1.10 stores the prompt after the parameters: the key keeps
			// its place, the prompt its text.
			name: "a Prompt key on the last line is overwritten by the prompt",
			text: "real prompt\nPrompt: other, Steps: 1, Seed: 2",
			want: map[string]any{"Prompt": "real prompt"},
		},
		{
			name: "new version gets no backcompat flags",
			text: "a [b:c:1]\nSteps: 1, Sampler: DDIM, Seed: 2, Version: v1.10.1",
			gone: []string{"Old prompt editing timelines", "Pad conds v0", "Downcast alphas_cumprod"},
		},
		{
			name: "v1.7.0-224 is before the tsnr change",
			text: "p\nSteps: 1, Seed: 2, Version: v1.7.0-224-g1234",
			want: map[string]any{"Downcast alphas_cumprod": true},
			gone: []string{"Old prompt editing timelines", "Pad conds v0"},
		},
		{
			name: "unparseable version is ignored",
			text: "p\nSteps: 1, Seed: 2, Version: f2.0.1v1.10.1-previous-665-gae278f79",
			gone: []string{"Downcast alphas_cumprod"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := Parse(tc.text)
			for k, want := range tc.want {
				got, ok := p.Get(k)
				if !ok {
					t.Errorf("missing %q in %v", k, p.Keys())
					continue
				}
				if got != want {
					t.Errorf("%q = %#v, want %#v", k, got, want)
				}
			}
			for _, k := range tc.gone {
				if p.Has(k) {
					t.Errorf("%q present, want absent", k)
				}
			}
		})
	}
}

func TestParsePromptSplit(t *testing.T) {
	tests := []struct {
		name, text, prompt, negative string
	}{
		{"prompt only", "  a cat  ", "a cat", ""},
		{"too few params is prompt", "a cat\nSteps: 20, Seed: 1", "a cat\nSteps: 20, Seed: 1", ""},
		{"multi-line prompt", "a\n  b  \nSteps: 1, Seed: 2, CFG scale: 3", "a\nb", ""},
		{"negative prompt", "a\nNegative prompt:   ugly  \nSteps: 1, Seed: 2, CFG scale: 3", "a", "ugly"},
		{"multi-line negative", "a\nNegative prompt: x\ny\n\nz\nSteps: 1, Seed: 2, CFG scale: 3", "a", "x\ny\n\nz"},
		{"negative without params", "a\nNegative prompt: x", "a", "x"},
		{"only negative", "Negative prompt: x\nSteps: 1, Seed: 2, CFG scale: 3", "", "x"},
		{"crlf lines are stripped", "a\r\nNegative prompt: x\r\nSteps: 1, Seed: 2, CFG scale: 3\r\n", "a", "x"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := Parse(tc.text)
			if got := p.String("Prompt"); got != tc.prompt {
				t.Errorf("Prompt = %q, want %q", got, tc.prompt)
			}
			if got := p.String("Negative prompt"); got != tc.negative {
				t.Errorf("Negative prompt = %q, want %q", got, tc.negative)
			}
		})
	}
}

func TestParseVersion(t *testing.T) {
	tests := []struct {
		a, b string
		less bool
	}{
		{"1.5.2", "1.6.0", true},
		{"v1.6.0-RC", "1.6.0", true},
		{"1.6.0", "1.6.0", false},
		{"1.6", "1.6.0", false},
		{"v1.7.0-225", "1.7.0.post225", false},
		{"v1.7.0-224", "v1.7.0-225", true},
		{"1.7.0", "v1.7.0-225", true},
		{"1.7.0.dev1", "1.7.0a1", true},
		{"1.8.0rc1", "1.8.0", true},
		{"1.10.1", "1.8.0", false},
	}
	for _, tc := range tests {
		a, okA := parseInfotextVersion(tc.a)
		b, okB := parseInfotextVersion(tc.b)
		if !okA || !okB {
			t.Fatalf("parse %q/%q failed", tc.a, tc.b)
		}
		if got := a.less(b); got != tc.less {
			t.Errorf("%s < %s = %v, want %v", tc.a, tc.b, got, tc.less)
		}
	}
	for _, bad := range []string{"", "nightly", "f2.0.1v1.10.1-previous"} {
		if _, ok := parseInfotextVersion(bad); ok {
			t.Errorf("parseInfotextVersion(%q) ok, want failure", bad)
		}
	}
}
