package imagemeta

import (
	"encoding/base64"
	"testing"
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
