package infotext

import (
	"reflect"
	"testing"

	"github.com/sdapi/sdapi/processing/styles"
)

// The expected values follow A1111 1.10's parse_generation_parameters and
// modules/styles.py by hand; the comments show the steps.
func TestParseWithStyles(t *testing.T) {
	s1 := styles.Style{Name: "s1", Prompt: "masterpiece", NegativePrompt: "lowres"}
	wrap := styles.Style{Name: "wrap", Prompt: "art of {prompt}, 4k"}
	empty := styles.Style{Name: "empty"}
	m := styles.Style{Name: "m", Prompt: "masterpiece"}
	db := []styles.Style{s1, wrap, empty}
	const params = "\nSteps: 20, Seed: 1, CFG scale: 7"
	for _, tc := range []struct {
		name   string
		text   string
		opts   ParseOptions
		want   map[string]any
		gone   []string
		before [2]string // key pairs that must appear in this order
	}{
		{
			name: "style at the end of both prompts, Apply if any",
			text: "a cat, masterpiece\nNegative prompt: ugly, lowres" + params,
			opts: ParseOptions{Styles: db},
			want: map[string]any{"Prompt": "a cat", "Negative prompt": "ugly", "Styles array": []string{"s1"}},
		},
		{
			// apply order wrap, s1: "art of a cat, 4k, masterpiece"; s1 comes
			// out first, then wrap; the list is reversed back.
			name: "two styles, one with {prompt}",
			text: "art of a cat, 4k, masterpiece\nNegative prompt: ugly, lowres" + params,
			opts: ParseOptions{Styles: db},
			want: map[string]any{"Prompt": "a cat", "Negative prompt": "ugly", "Styles array": []string{"wrap", "s1"}},
		},
		{
			name: "negative not matching: no style",
			text: "a cat, masterpiece\nNegative prompt: ugly" + params,
			opts: ParseOptions{Styles: db},
			want: map[string]any{"Prompt": "a cat, masterpiece", "Negative prompt": "ugly"},
			gone: []string{"Styles array"},
		},
		{
			name: "Apply without matches gives an empty list",
			text: "a cat" + params,
			opts: ParseOptions{Styles: db, InfotextStyles: "Apply"},
			want: map[string]any{"Prompt": "a cat", "Styles array": []string{}},
		},
		{
			name: "Discard takes styles out and lists none",
			text: "a cat, masterpiece\nNegative prompt: lowres" + params,
			opts: ParseOptions{Styles: db, InfotextStyles: "Discard"},
			want: map[string]any{"Prompt": "a cat", "Negative prompt": ""},
			gone: []string{"Styles array"},
		},
		{
			name: "Ignore leaves the prompts",
			text: "a cat, masterpiece\nNegative prompt: lowres" + params,
			opts: ParseOptions{Styles: db, InfotextStyles: "Ignore"},
			want: map[string]any{"Prompt": "a cat, masterpiece", "Negative prompt": "lowres"},
			gone: []string{"Styles array"},
		},
		{
			// hr: "a dog, masterpiece" / "" → ["m"], "a dog", "" = same styles.
			name: "hires prompt with the same styles",
			text: "a cat, masterpiece\nSteps: 20, Seed: 1, Hires prompt: \"a dog, masterpiece\"",
			opts: ParseOptions{Styles: []styles.Style{m}},
			want: map[string]any{"Prompt": "a cat", "Hires prompt": "a dog", "Hires negative prompt": "", "Styles array": []string{"m"}},
			// Hires negative prompt is set by the styles block, before Prompt.
			before: [2]string{"Hires negative prompt", "Prompt"},
		},
		{
			name: "hires prompt with other styles keeps everything",
			text: "a cat, masterpiece\nSteps: 20, Seed: 1, Hires prompt: a dog",
			opts: ParseOptions{Styles: []styles.Style{m}},
			want: map[string]any{"Prompt": "a cat, masterpiece", "Hires prompt": "a dog", "Hires negative prompt": ""},
			gone: []string{"Styles array"},
			// Hires negative prompt is only the default, after Prompt.
			before: [2]string{"Prompt", "Hires negative prompt"},
		},
		{
			name: "infotexts up to 1.8.0-139 leave the hires prompt alone",
			text: "a cat, masterpiece\nSteps: 20, Seed: 1, Hires prompt: \"a dog, masterpiece\", Version: v1.8.0-139-gabc",
			opts: ParseOptions{Styles: []styles.Style{m}},
			want: map[string]any{"Prompt": "a cat", "Hires prompt": "a dog, masterpiece", "Styles array": []string{"m"}},
		},
		{
			name: "no styles: a hires prompt equal to the prompt becomes empty",
			text: "a cat\nSteps: 20, Seed: 1, Hires prompt: a cat",
			want: map[string]any{"Prompt": "a cat", "Hires prompt": "", "Hires negative prompt": ""},
			gone: []string{"Styles array"},
		},
		{
			name: "Ignore: a hires prompt equal to the prompt stays",
			text: "a cat\nSteps: 20, Seed: 1, Hires prompt: a cat",
			opts: ParseOptions{InfotextStyles: "Ignore"},
			want: map[string]any{"Hires prompt": "a cat"},
		},
		{
			name: "a later row of the same name replaces the earlier one",
			text: "a cat, masterpiece" + params,
			opts: ParseOptions{Styles: []styles.Style{{Name: "d", Prompt: "x"}, {Name: "d", Prompt: "masterpiece"}}},
			want: map[string]any{"Prompt": "a cat", "Styles array": []string{"d"}},
		},
		{
			name: "skip fields are removed",
			text: "a cat" + params,
			opts: ParseOptions{SkipFields: []string{"Seed", "Clip skip", "Not there"}},
			gone: []string{"Seed", "Clip skip"},
			want: map[string]any{"Steps": "20"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := ParseWith(tc.text, tc.opts)
			for k, want := range tc.want {
				if got, ok := p.Get(k); !ok || !reflect.DeepEqual(got, want) {
					t.Errorf("%q = %#v (present %v), want %#v", k, got, ok, want)
				}
			}
			for _, k := range tc.gone {
				if p.Has(k) {
					t.Errorf("%q present, want absent", k)
				}
			}
			if tc.before[0] != "" {
				keys := p.Keys()
				if indexOf(keys, tc.before[0]) > indexOf(keys, tc.before[1]) {
					t.Errorf("%q after %q in %q", tc.before[0], tc.before[1], keys)
				}
			}
		})
	}
}

func indexOf(keys []string, k string) int {
	for i, x := range keys {
		if x == k {
			return i
		}
	}
	return -1
}

func TestExtractStyleText(t *testing.T) {
	for _, tc := range []struct {
		style, prompt string
		ok            bool
		rest          string
	}{
		{"masterpiece", "1girl, art by greg, masterpiece", true, "1girl, art by greg"},
		{"masterpiece, {prompt}", "masterpiece, 1girl, art by greg", true, "1girl, art by greg"},
		{"masterpiece, {prompt}", "exquisite, 1girl, art by greg", false, "exquisite, 1girl, art by greg"},
		{"  masterpiece ", " a, masterpiece  ", true, "a"},
		{"", "  a cat ", true, "a cat"},
		{"ab{prompt}bc", "abc", true, ""}, // overlapping ends: an empty slice in Python
		{"{prompt} {prompt}", "x y", false, "x y"},
	} {
		ok, rest := extractStyleText(tc.style, tc.prompt)
		if ok != tc.ok || rest != tc.rest {
			t.Errorf("extractStyleText(%q, %q) = %v, %q; want %v, %q", tc.style, tc.prompt, ok, rest, tc.ok, tc.rest)
		}
	}
}

// TestParseEmphasisDefault: "Emphasis: Original" is added when either
// prompt has a weight other than 1 and the infotext names no emphasis.
func TestParseEmphasisDefault(t *testing.T) {
	for _, tc := range []struct {
		text string
		want any // nil: absent
	}{
		{"a (cat)" + "\nSteps: 1, Seed: 2, CFG scale: 3", "Original"},
		{"a cat\nNegative prompt: [ugly]\nSteps: 1, Seed: 2, CFG scale: 3", "Original"},
		{"a cat BREAK a dog\nSteps: 1, Seed: 2, CFG scale: 3", nil},
		{"a (cat:1.0)\nSteps: 1, Seed: 2, CFG scale: 3", nil},
		{`a \(cat\)` + "\nSteps: 1, Seed: 2, CFG scale: 3", nil},
		{"a (cat:1.3)\nSteps: 1, Seed: 2, Emphasis: No norm", "No norm"},
		{"a cat\nSteps: 1, Seed: 2, CFG scale: 3", nil},
	} {
		p := Parse(tc.text)
		got, _ := p.Get("Emphasis")
		if got != tc.want {
			t.Errorf("Parse(%q) Emphasis = %#v, want %#v", tc.text, got, tc.want)
		}
	}
}
