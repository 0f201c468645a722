package processing

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/sdapi/sdapi/processing/infotext"
	"github.com/sdapi/sdapi/processing/options"
	"github.com/sdapi/sdapi/processing/styles"
)

func TestInfotextParseOptions(t *testing.T) {
	store, err := options.New([]options.Def{
		{Key: "infotext_styles", Default: "Apply if any", Type: options.KindString},
		{Key: "infotext_skip_pasting", Default: []any{}, Type: options.KindArray},
	}, "")
	if err != nil {
		t.Fatal(err)
	}
	csv := filepath.Join(t.TempDir(), "styles.csv")
	if err := os.WriteFile(csv, []byte("name,prompt,negative_prompt\nhq,masterpiece,lowres\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := store.SetFromAPI(context.Background(), map[string]any{"infotext_styles": "Apply", "infotext_skip_pasting": []any{"Seed"}}); err != nil {
		t.Fatal(err)
	}
	o, err := InfotextParseOptions(store, styles.Open(csv))
	if err != nil {
		t.Fatal(err)
	}
	want := infotext.ParseOptions{InfotextStyles: "Apply", SkipFields: []string{"Seed"},
		Styles: []styles.Style{{Name: "hq", Prompt: "masterpiece", NegativePrompt: "lowres"}}}
	if !reflect.DeepEqual(o, want) {
		t.Fatalf("options = %+v, want %+v", o, want)
	}
	p := infotext.ParseWith("a cat, masterpiece\nNegative prompt: lowres\nSteps: 20, Seed: 1, CFG scale: 7", o)
	if got, _ := p.Get("Styles array"); !reflect.DeepEqual(got, []string{"hq"}) || p.String("Prompt") != "a cat" || p.Has("Seed") {
		t.Errorf("parsed: %v", p.Map())
	}
}
