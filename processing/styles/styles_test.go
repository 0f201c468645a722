package styles

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []Style
	}{
		{"empty file", "", []Style{}},
		{"header only", "name,prompt,negative_prompt\n", []Style{}},
		{"rows", "name,prompt,negative_prompt\nanime,\"anime, {prompt}\",lowres\nbare\n,x,y\nshort,only prompt\n",
			[]Style{{"anime", "anime, {prompt}", "lowres"}, {"bare", "", ""}, {"short", "only prompt", ""}}},
		{"reordered columns and BOM", "\ufeffprompt,name\np,n\n", []Style{{"n", "p", ""}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(strings.NewReader(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
	if _, err := Parse(strings.NewReader("prompt,negative_prompt\nx,y\n")); err == nil {
		t.Fatal("a header without a name column must be an error")
	}
}

func TestFileReloadsOnChange(t *testing.T) {
	path := filepath.Join(t.TempDir(), "styles.csv")
	f := Open(path)
	if got, err := f.Styles(); err != nil || len(got) != 0 {
		t.Fatalf("missing file: %v %v", got, err)
	}
	if err := os.WriteFile(path, []byte("name,prompt\na,x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got, _ := f.Styles(); len(got) != 1 {
		t.Fatalf("got %v", got)
	}
	if err := os.WriteFile(path, []byte("name,prompt\na,x\nb,yy\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got, _ := f.Styles(); len(got) != 2 {
		t.Fatalf("edit not seen: %v", got)
	}
}

func TestApplyToPrompt(t *testing.T) {
	tests := []struct{ prompt, style, want string }{
		{"a cat", "masterpiece", "a cat, masterpiece"},
		{"a cat", "best, {prompt}, detailed", "best, a cat, detailed"},
		{"", "masterpiece", "masterpiece"},
		{"a cat", "", "a cat"},
		{"", "{prompt} only", " only"},
	}
	for _, tt := range tests {
		if got := ApplyToPrompt(tt.prompt, tt.style); got != tt.want {
			t.Errorf("ApplyToPrompt(%q, %q) = %q, want %q", tt.prompt, tt.style, got, tt.want)
		}
	}
}
