package imagemeta

import (
	"bytes"
	"encoding/base64"
	"errors"
	"testing"
)

func TestDecodeDataURI(t *testing.T) {
	pngData := plainPNG(t)
	b64 := base64.StdEncoding.EncodeToString(pngData)
	tests := []struct {
		name    string
		in      string
		want    []byte
		wantErr bool
	}{
		{name: "plain base64", in: b64, want: pngData},
		{name: "data uri", in: "data:image/png;base64," + b64, want: pngData},
		{name: "data uri any image type", in: "data:image/jpeg;base64,aGk=", want: []byte("hi")},
		{name: "junk characters are skipped", in: "aG\nk*=", want: []byte("hi")},
		{name: "data after complete padding is ignored", in: "aGk=IGNORED", want: []byte("hi")},
		{name: "url-safe characters are dropped, not translated", in: "_-aGk=", want: []byte("hi")},
		{name: "empty", in: "", want: []byte{}},
		{name: "missing padding", in: "aGk", wantErr: true},
		{name: "one extra character", in: "aGlhb", wantErr: true},
		{name: "non-ascii", in: "aGk=é", wantErr: true},
		{name: "data uri without semicolon", in: "data:image/png," + b64, wantErr: true},
		{name: "data uri with extra parameter", in: "data:image/png;charset=x;base64," + b64, wantErr: true},
		{name: "garbage", in: "!!!!not base64 at all", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := DecodeDataURI(tc.in)
			if tc.wantErr {
				if !errors.Is(err, ErrInvalidImage) {
					t.Fatalf("err = %v, want ErrInvalidImage", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("err = %v", err)
			}
			if !bytes.Equal(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// TestDecodeDataURIThenRead covers the /png-info path: a data URI whose
// bytes are not an image must fail in Read.
func TestDecodeDataURIThenRead(t *testing.T) {
	raw, err := DecodeDataURI("data:image/png;base64," + base64.StdEncoding.EncodeToString([]byte("not an image")))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Read(raw); !errors.Is(err, ErrInvalidImage) {
		t.Errorf("Read err = %v, want ErrInvalidImage", err)
	}
}
