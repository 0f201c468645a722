package infotext

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzParse checks that Parse never panics, always yields the two prompt
// keys as strings (after the parameters, as 1.10 stores them) and the
// defaults, and that its output marshals.
func FuzzParse(f *testing.F) {
	for _, tc := range goldenCases {
		f.Add(tc.text)
	}
	f.Add("p\nSize-1: abc, First pass size: 1x1, Steps: 2")
	f.Add("p\nSteps: 1, Seed: 2, Version: v1.2.3rc1.post4.dev5+local")
	f.Fuzz(func(t *testing.T, text string) {
		p := Parse(text)
		for _, k := range []string{"Prompt", "Negative prompt"} {
			if v, ok := p.Get(k); !ok {
				t.Fatalf("no %q in %q", k, p.Keys())
			} else if _, isStr := v.(string); !isStr {
				t.Fatalf("%q = %#v, want a string", k, v)
			}
		}
		if v, _ := p.Get("Hires schedule type"); v == nil {
			t.Fatalf("no Hires schedule type in %q", p.Keys())
		}
		if _, err := p.MarshalJSON(); err != nil {
			t.Fatal(err)
		}
	})
}

// FuzzQuoteRoundTrip checks Format → Parse for the values A1111 quotes
// (those with ',', ':' or a newline): Quote's hand-written json.dumps and
// Unquote's json.loads must agree, whatever the value, and the prompt on
// the first line must come back as written.
func FuzzQuoteRoundTrip(f *testing.F) {
	f.Add("a cat", "x, y: z")
	f.Add("a (cat:1.2)", "line one\nline two")
	f.Add("p", `quote " and backslash \ and tab	, `)
	f.Add("p", "\u2028 and \u2029, U+2028/9 unescaped as Python does")
	f.Add("p", "\x00\x1f, control characters:")
	f.Add("prompt", "emoji 🐱, ünïcode:")
	f.Fuzz(func(t *testing.T, prompt, value string) {
		if Quote(value) == value || !utf8.ValidString(value) || !utf8.ValidString(prompt) {
			t.Skip("only quoted, valid UTF-8 values round-trip exactly")
		}
		if prompt == "" || strings.ContainsAny(prompt, "\r\n\v\f\x1c\x1d\x1e\x85\u2028\u2029") ||
			pyStrip(prompt) != prompt || strings.HasPrefix(prompt, "Negative prompt:") {
			t.Skip("the prompt must be one stripped line that is not a negative prompt")
		}
		text := Format(prompt, "", []KV{{"Steps", 20}, {"Fuzz value", value}, {"Seed", 1}})
		p := Parse(text)
		if got := p.String("Prompt"); got != prompt {
			t.Errorf("Prompt: got %q, want %q\ninfotext: %q", got, prompt, text)
		}
		if got, _ := p.Get("Fuzz value"); got != value {
			t.Errorf("Fuzz value: got %q, want %q\ninfotext: %q", got, value, text)
		}
	})
}
