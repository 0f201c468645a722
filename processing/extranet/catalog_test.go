package extranet

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sdapi/sdapi/internal/safetensors"
)

func writeST(t *testing.T, path string, meta map[string]string, ts ...safetensors.WriteTensor) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := safetensors.WriteFile(path, ts, meta); err != nil {
		t.Fatal(err)
	}
}

func vec(name string, n, d int) safetensors.WriteTensor {
	return safetensors.WriteTensor{Name: name, Shape: []int64{int64(n), int64(d)}, Data: make([]float32, n*d)}
}

func TestLorasLookup(t *testing.T) {
	dir := t.TempDir()
	writeST(t, filepath.Join(dir, "a.safetensors"), map[string]string{"ss_output_name": "shared", "sshs_model_hash": "0123456789abcdef"}, vec("lora_te_x.alpha", 1, 1))
	writeST(t, filepath.Join(dir, "sub", "b.safetensors"), map[string]string{"ss_output_name": "shared"}, vec("lora_te_x.alpha", 1, 1))
	writeST(t, filepath.Join(dir, "c.safetensors"), nil, vec("lora_te_x.alpha", 1, 1))
	if err := os.WriteFile(filepath.Join(dir, "d.ckpt"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	l := NewLoras(dir, nil)
	if n := len(l.List()); n != 4 {
		t.Fatalf("listed %d, want 4", n)
	}
	tests := []struct {
		name, want string
		ok         bool
	}{
		{"a", "a", true},
		{"c", "c", true},
		{"shared", "", false}, // two files share the alias: forbidden, names only
		{"none", "", false},
		{"d", "d", true},
		{"later", "later", true}, // a miss rescans the directory
	}
	writeST(t, filepath.Join(dir, "later.safetensors"), nil, vec("lora_te_x.alpha", 1, 1))
	for _, tt := range tests {
		e, ok := l.Lookup(tt.name)
		if ok != tt.ok || (ok && e.Name != tt.want) {
			t.Errorf("Lookup(%q) = %q, %v; want %q, %v", tt.name, e.Name, ok, tt.want, tt.ok)
		}
	}
	a, _ := l.Lookup("a")
	if h, err := l.ShortHash(a); err != nil || h != "0123456789ab" {
		t.Errorf("hash from sshs_model_hash = %q, %v", h, err)
	}
	c, _ := l.Lookup("c")
	full, _ := safetensors.AddnetHash(c.Path)
	if h, err := l.ShortHash(c); err != nil || h != full[:12] {
		t.Errorf("addnet short hash = %q, %v; want %s", h, err, full[:12])
	}
	if d, _ := l.Lookup("d"); !strings.Contains(d.Skip, "pickle") || len(d.Metadata) != 0 {
		t.Errorf("pickle entry %+v", d)
	}
}

func TestEmbeddingsSplit(t *testing.T) {
	dir := t.TempDir()
	writeST(t, filepath.Join(dir, "Bee.safetensors"), nil, vec("emb_params", 2, 8))
	writeST(t, filepath.Join(dir, "ant.safetensors"), nil, safetensors.WriteTensor{Name: "string_to_param.*", Shape: []int64{8}, Data: make([]float32, 8)})
	writeST(t, filepath.Join(dir, "xl.safetensors"), nil, vec("clip_l", 3, 8), vec("clip_g", 3, 12))
	writeST(t, filepath.Join(dir, "two.safetensors"), nil, vec("a", 1, 8), vec("b", 1, 8))
	if err := os.WriteFile(filepath.Join(dir, "bad.safetensors"), []byte("12345678garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "empty.safetensors"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	db := NewEmbeddings(dir, nil)
	loaded, skipped := db.Split(8)
	names := func(es []Embedding) (s []string) {
		for _, e := range es {
			s = append(s, e.Name)
		}
		return s
	}
	if got := strings.Join(names(loaded), ","); got != "ant,Bee" {
		t.Errorf("loaded %s, want ant,Bee (sorted case-insensitively)", got)
	}
	if got := strings.Join(names(skipped), ","); got != "xl" || skipped[0].Shape != 20 || skipped[0].Vectors != 3 {
		t.Errorf("skipped %s %+v, want xl of shape 20", got, skipped)
	}
	if loaded[0].Vectors != 1 || loaded[1].Vectors != 2 || len(loaded[1].ShortHash) != 12 {
		t.Errorf("loaded %+v", loaded)
	}
	probs := db.Problems()
	if len(probs) != 2 || !strings.Contains(probs[0].Path+probs[1].Path, "bad") || !strings.Contains(probs[0].Reason+probs[1].Reason, "multiple terms") {
		t.Errorf("problems %+v", probs)
	}
	if l, _ := db.Split(20); len(l) != 1 || l[0].Name != "xl" || len(l[0].Runner().Rows["clip_g"]) != 36 {
		t.Errorf("SDXL split %+v", l)
	}
}

func TestWalkFilesNaturalOrder(t *testing.T) {
	dir := t.TempDir()
	for _, p := range []string{"b10.safetensors", "b9.safetensors", "B2.safetensors", "sub/a.safetensors", "a.txt", "z.PT"} {
		full := filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	for _, p := range walkFiles(dir, ".safetensors", ".pt") {
		rel, _ := filepath.Rel(dir, p)
		got = append(got, rel)
	}
	// The root's files first, then the subdirectory's, as os.walk sorted
	// by natural_sort_key of each root.
	want := []string{"B2.safetensors", "b9.safetensors", "b10.safetensors", "z.PT", filepath.Join("sub", "a.safetensors")}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("walkFiles = %v, want %v", got, want)
	}
}

// Two halves of a Lora directory, on two machines, merge with
// CompareLoras into the order of the whole directory's List.
func TestCompareLorasMergesCopies(t *testing.T) {
	whole, half1, half2 := t.TempDir(), t.TempDir(), t.TempDir()
	files := []string{"b10.safetensors", "b9.safetensors", "A.safetensors", filepath.Join("x", "1.safetensors"),
		filepath.Join("sub2", "z.safetensors"), filepath.Join("sub10", "y.safetensors"), "0.pt"}
	for i, f := range files {
		writeST(t, filepath.Join(whole, f), nil, vec("lora_te_x.alpha", 1, 1))
		writeST(t, filepath.Join([]string{half1, half2}[i%2], f), nil, vec("lora_te_x.alpha", 1, 1))
	}
	var want []string
	for _, e := range NewLoras(whole, nil).List() {
		want = append(want, e.Rel)
	}
	merged := append(NewLoras(half1, nil).List(), NewLoras(half2, nil).List()...)
	slices.SortStableFunc(merged, CompareLoras)
	var got []string
	for _, e := range merged {
		got = append(got, e.Rel)
	}
	if !slices.Equal(got, want) {
		t.Errorf("merged %q, want %q", got, want)
	}
}
