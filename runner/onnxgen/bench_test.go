package onnxgen

import (
	"os"
	"path/filepath"
	"testing"
)

func BenchmarkEmitTiny(b *testing.B) {
	dir := b.TempDir()
	for b.Loop() {
		if err := Emit(dir, Config{ExternalData: true}); err != nil {
			b.Fatal(err)
		}
	}
	reportSizes(b, dir)
}

func BenchmarkEmitTinySDXL(b *testing.B) {
	dir := b.TempDir()
	for b.Loop() {
		if err := Emit(dir, Config{Family: FamilySDXL, ExternalData: true}); err != nil {
			b.Fatal(err)
		}
	}
	reportSizes(b, dir)
}

// BenchmarkEmitSD15 writes the full-size SD 1.5 pipeline (about 4.3 GB and
// a minute of CPU). It runs only with ONNXGEN_SD15_DIR set to a directory
// on a disk with room for it, e.g.
//
//	ONNXGEN_SD15_DIR=/tmp/sd15 go test -run '^$' -bench EmitSD15 -benchtime 1x ./runner/onnxgen
func BenchmarkEmitSD15(b *testing.B) {
	dir := os.Getenv("ONNXGEN_SD15_DIR")
	if dir == "" {
		b.Skip("set ONNXGEN_SD15_DIR to emit the full-size SD 1.5 pipeline")
	}
	for b.Loop() {
		if err := Emit(dir, Config{Size: SD15, ExternalData: true}); err != nil {
			b.Fatal(err)
		}
	}
	reportSizes(b, dir)
}

func reportSizes(b *testing.B, dir string) {
	b.Helper()
	var total int64
	err := filepath.Walk(dir, func(path string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if !info.IsDir() {
			total += info.Size()
			rel, _ := filepath.Rel(dir, path)
			b.Logf("%-36s %12d B", rel, info.Size())
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(total)/1e6, "MB")
}
