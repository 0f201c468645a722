package infotext

import "testing"

// FuzzParse checks that Parse never panics, always yields the two prompt
// keys first, and that its output marshals.
func FuzzParse(f *testing.F) {
	for _, tc := range goldenCases {
		f.Add(tc.text)
	}
	f.Add("p\nSize-1: abc, First pass size: 1x1, Steps: 2")
	f.Add("p\nSteps: 1, Seed: 2, Version: v1.2.3rc1.post4.dev5+local")
	f.Fuzz(func(t *testing.T, text string) {
		p := Parse(text)
		if k := p.Keys(); len(k) < 2 || k[0] != "Prompt" || k[1] != "Negative prompt" {
			t.Fatalf("keys start %q", k)
		}
		if _, err := p.MarshalJSON(); err != nil {
			t.Fatal(err)
		}
	})
}
