package imagemeta

import (
	"bytes"
	"errors"
	"image/jpeg"
	"image/png"
	"reflect"
	"strings"
	"testing"
)

func TestEncodePNGRoundTrip(t *testing.T) {
	text := []Text{
		{"parameters", "a cat, <masterpiece>\nNegative prompt: blurry\nSteps: 20, Seed: 1"},
		{"Software", "café"}, // Latin-1: tEXt
		{"Comment", "猫 🐱"},   // not Latin-1: iTXt
	}
	data, err := EncodePNG(testImage(), text)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := png.Decode(bytes.NewReader(data)); err != nil {
		t.Fatalf("standard decoder rejects output: %v", err)
	}
	for _, want := range []string{"tEXtparameters\x00", "tEXtSoftware\x00caf\xe9", "iTXtComment\x00\x00\x00\x00\x00猫"} {
		if !bytes.Contains(data, []byte(want)) {
			t.Errorf("output lacks %q", want)
		}
	}
	if bytes.Index(data, []byte("iTXt")) > bytes.Index(data, []byte("IDAT")) {
		t.Error("text chunks written after IDAT")
	}
	got, err := Read(data)
	if err != nil {
		t.Fatal(err)
	}
	if got.Parameters != text[0].Value {
		t.Errorf("Parameters = %q", got.Parameters)
	}
	wantItems := map[string]any{"Software": "café", "Comment": "猫 🐱"}
	if !reflect.DeepEqual(got.Items, wantItems) || !reflect.DeepEqual(got.Keys, []string{"Software", "Comment"}) {
		t.Errorf("Items = %#v, Keys = %q", got.Items, got.Keys)
	}
}

func TestEncodePNGRejectsBadKeys(t *testing.T) {
	for _, key := range []string{"", "a\x00b", "ключ"} {
		if _, err := EncodePNG(testImage(), []Text{{key, "v"}}); err == nil {
			t.Errorf("key %q accepted", key)
		}
	}
	if _, err := EncodePNG(testImage(), []Text{{"k", "bad \xff utf8"}}); err == nil {
		t.Error("invalid utf-8 value accepted")
	}
}

func TestWithJPEGUserComment(t *testing.T) {
	comment := "a cat 🐱, ünï\nNegative prompt: x\nSteps: 20, Seed: 1"
	base := plainJPEG(t)
	jfif := cat(base[:2], []byte("\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"), base[2:])
	tests := []struct {
		name string
		in   []byte
	}{
		{"go encoder output", base},
		{"with JFIF APP0", jfif},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, err := WithJPEGUserComment(tc.in, comment)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := jpeg.Decode(bytes.NewReader(out)); err != nil {
				t.Fatalf("standard decoder rejects output: %v", err)
			}
			if !bytes.Contains(out, []byte("Exif\x00\x00MM\x00\x2a")) || !bytes.Contains(out, []byte("UNICODE\x00\x00a")) {
				t.Error("no big-endian piexif-style UserComment")
			}
			got, err := Read(out)
			if err != nil {
				t.Fatal(err)
			}
			if got.Parameters != comment {
				t.Errorf("Parameters = %q, want %q", got.Parameters, comment)
			}
			// A second insert replaces the first, as piexif does.
			again, err := WithJPEGUserComment(out, "second")
			if err != nil {
				t.Fatal(err)
			}
			if got, _ := Read(again); got.Parameters != "second" || bytes.Count(again, []byte("Exif\x00\x00")) != 1 {
				t.Errorf("second insert: Parameters = %q, exif segments = %d", got.Parameters, bytes.Count(again, []byte("Exif\x00\x00")))
			}
		})
	}
}

func TestWithJPEGUserCommentErrors(t *testing.T) {
	if _, err := WithJPEGUserComment([]byte("not jpeg"), "x"); !errors.Is(err, ErrInvalidImage) {
		t.Errorf("err = %v, want ErrInvalidImage", err)
	}
	if _, err := WithJPEGUserComment(plainJPEG(t), strings.Repeat("x", 40000)); !errors.Is(err, ErrCommentTooLarge) {
		t.Errorf("err = %v, want ErrCommentTooLarge", err)
	}
}
