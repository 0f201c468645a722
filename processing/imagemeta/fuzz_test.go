package imagemeta

import (
	"encoding/base64"
	"testing"
	"unicode/utf8"
)

// FuzzRead checks that Read never panics and that an error always wraps
// ErrInvalidImage. Seeds run under plain go test.
func FuzzRead(f *testing.F) {
	f.Add(plainPNG(f))
	f.Add(withChunks(f, plainPNG(f), chunk("zTXt", cat([]byte("parameters\x00\x00"), zlibBytes([]byte("x, y: z"))))))
	f.Add(withChunks(f, plainPNG(f), chunk("iTXt", cat([]byte("k\x00\x01\x00\x00\x00"), zlibBytes([]byte("v"))))))
	f.Add(cat(plainJPEG(f)[:2], []byte("\xff\xe1\x00\x3cExif\x00\x00"), tiffLE([]byte("UNICODE\x00\x00h"))[:52], plainJPEG(f)[2:]))
	f.Add([]byte("GIF89a\x01\x00\x01\x00\x00\x00\x00\x21\xfe\x01x\x00\x3b"))
	f.Add([]byte("RIFF\x0c\x00\x00\x00WEBPVP8X\x00\x00\x00\x00"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		info, err := Read(data)
		if err != nil {
			if !isInvalid(err) {
				t.Fatalf("error %v does not wrap ErrInvalidImage", err)
			}
			return
		}
		if info.Items == nil {
			t.Fatal("nil Items on success")
		}
	})
}

// FuzzDecodeDataURI checks that DecodeDataURI never panics and agrees with
// the standard decoder on well-formed padded input.
func FuzzDecodeDataURI(f *testing.F) {
	f.Add("aGk=")
	f.Add("data:image/png;base64,aGk=")
	f.Add("data:image/")
	f.Add("a=b=c")
	f.Add("====")
	f.Fuzz(func(t *testing.T, s string) {
		got, err := DecodeDataURI(s)
		if err != nil && !isInvalid(err) {
			t.Fatalf("error %v does not wrap ErrInvalidImage", err)
		}
		if want, stdErr := base64.StdEncoding.Strict().DecodeString(s); stdErr == nil && (err != nil || string(got) != string(want)) {
			t.Fatalf("DecodeDataURI(%q) = %q, %v; standard decoder gives %q", s, got, err, want)
		}
	})
}

// FuzzPNGTextChunk feeds one tEXt, zTXt or iTXt chunk body straight to the
// chunk reader, past the PNG framing FuzzRead has to get right first: it
// never panics, errors wrap ErrInvalidImage, and the text it reports adding
// is never negative.
func FuzzPNGTextChunk(f *testing.F) {
	f.Add(uint8(0), []byte("parameters\x00a cat\nSteps: 20, Sampler: Euler"))
	f.Add(uint8(0), []byte("\x00no key"))
	f.Add(uint8(1), cat([]byte("parameters\x00\x00"), zlibBytes([]byte("x, y: z"))))
	f.Add(uint8(1), []byte("k\x00\x01not zlib"))
	f.Add(uint8(2), cat([]byte("parameters\x00\x01\x00en\x00parameters\x00"), zlibBytes([]byte("ünïcode"))))
	f.Add(uint8(2), []byte("k\x00\x00\x00\x00\x00plain"))
	f.Add(uint8(2), []byte("k\x00\x01\x00"))
	f.Fuzz(func(t *testing.T, kind uint8, body []byte) {
		ctype := [...]string{"tEXt", "zTXt", "iTXt"}[kind%3]
		info := &orderedInfo{}
		n, err := pngChunk(ctype, body, info)
		if err != nil && !isInvalid(err) {
			t.Fatalf("%s: error %v does not wrap ErrInvalidImage", ctype, err)
		}
		if n < 0 {
			t.Fatalf("%s: added %d bytes of text", ctype, n)
		}
	})
}

// FuzzEXIFUserComment walks arbitrary EXIF payloads the way Read does for a
// JPEG's APP1 segment: never a panic or an endless IFD walk.
func FuzzEXIFUserComment(f *testing.F) {
	f.Add(dumpUserCommentExif("a cat\nSteps: 20"))
	f.Add(dumpUserCommentExif(""))
	f.Add(tiffLE([]byte("UNICODE\x00\x00h")))
	f.Add(tiffLE([]byte("ASCII\x00\x00\x00hello")))
	f.Add([]byte("Exif\x00\x00MM\x00\x2a\x00\x00\x00\x08\x00\x01"))
	f.Add([]byte("II*\x00\xff\xff\xff\xff"))
	f.Fuzz(func(t *testing.T, payload []byte) {
		if raw := exifUserComment(payload); raw != nil {
			_ = decodeUserComment(raw)
		}
	})
}

// FuzzUserCommentRoundTrip checks that what the server writes into a JPEG
// or WEBP (piexif's "unicode" UserComment) reads back unchanged.
func FuzzUserCommentRoundTrip(f *testing.F) {
	f.Add("a cat\nNegative prompt: blurry\nSteps: 20, Seed: 1")
	f.Add("")
	f.Add("emoji 🐱 and ünïcode, \"quotes\"")
	f.Add("\x00\uffff\U0010ffff")
	f.Fuzz(func(t *testing.T, comment string) {
		if !utf8.ValidString(comment) {
			t.Skip("UTF-16 cannot carry invalid UTF-8")
		}
		raw := exifUserComment(dumpUserCommentExif(comment))
		if got := decodeUserComment(raw); got != comment {
			t.Fatalf("round trip of %q gave %q", comment, got)
		}
	})
}
