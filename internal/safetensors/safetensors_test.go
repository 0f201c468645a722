package safetensors

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/sdapi/sdapi/internal/half"
)

func TestRoundTripAndHashes(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "x.safetensors")
	in := []WriteTensor{
		{Name: "a.lora_down.weight", Shape: []int64{2, 3}, Data: []float32{1, -2, 0.5, 3, 0, -0.25}},
		{Name: "a.alpha", Shape: []int64{}, Data: []float32{4}, F16: true},
	}
	if err := WriteFile(path, in, map[string]string{"ss_output_name": "x"}); err != nil {
		t.Fatal(err)
	}
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if f.Metadata["ss_output_name"] != "x" || len(f.Tensors) != 2 {
		t.Fatalf("header %+v", f)
	}
	for _, w := range in {
		got, err := f.Floats(w.Name)
		if err != nil {
			t.Fatal(err)
		}
		for i := range got {
			if got[i] != w.Data[i] {
				t.Fatalf("%s[%d] = %v, want %v", w.Name, i, got[i], w.Data[i])
			}
		}
	}
	// The addnet hash covers the bytes after the header only.
	b, _ := os.ReadFile(path)
	n := binary.LittleEndian.Uint64(b)
	want := sha256.Sum256(b[8+n:])
	got, err := AddnetHash(path)
	if err != nil || got != hex.EncodeToString(want[:]) {
		t.Fatalf("AddnetHash = %s, %v", got, err)
	}
}

func TestMalformed(t *testing.T) {
	dir := t.TempDir()
	cases := map[string][]byte{
		"short":      {1, 2, 3},
		"hugeheader": binary.LittleEndian.AppendUint64(nil, 1<<40),
		"badjson":    append(binary.LittleEndian.AppendUint64(nil, 4), []byte("{]}x")...),
		"offsets":    append(binary.LittleEndian.AppendUint64(nil, 58), []byte(`{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}  `)...),
	}
	for name, b := range cases {
		t.Run(name, func(t *testing.T) {
			p := filepath.Join(dir, name)
			if err := os.WriteFile(p, b, 0o644); err != nil {
				t.Fatal(err)
			}
			if _, err := Open(p); !errors.Is(err, ErrFormat) {
				t.Fatalf("Open = %v, want ErrFormat", err)
			}
		})
	}
}

func TestHalf(t *testing.T) {
	for _, v := range []float32{0, 1, -1, 0.5, 65504, 6.1035156e-05, 5.9604645e-08, -3.140625} {
		if got := half.Float32(half.Bits(v)); got != v {
			t.Errorf("half(%v) = %v", v, got)
		}
	}
}
