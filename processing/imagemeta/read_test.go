package imagemeta

import (
	"bytes"
	"encoding/binary"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestReadPNG(t *testing.T) {
	base := plainPNG(t)
	tests := []struct {
		name   string
		data   []byte
		params string
		items  map[string]any
		keys   []string
	}{
		{name: "no metadata", data: base, items: map[string]any{}},
		{
			name:   "tEXt parameters and another key",
			data:   withChunks(t, base, chunk("tEXt", []byte("parameters\x00a cat\nSteps: 20")), chunk("tEXt", []byte("Software\x00caf\xe9"))),
			params: "a cat\nSteps: 20",
			items:  map[string]any{"Software": "café"},
			keys:   []string{"Software"},
		},
		{
			name:   "zTXt",
			data:   withChunks(t, base, chunk("zTXt", cat([]byte("parameters\x00\x00"), zlibBytes([]byte("zipped, Steps: 1"))))),
			params: "zipped, Steps: 1",
			items:  map[string]any{},
		},
		{
			name:   "compressed iTXt with language",
			data:   withChunks(t, base, chunk("iTXt", cat([]byte("parameters\x00\x01\x00en\x00Parameter\x00"), zlibBytes([]byte("ünïcödé 🐱"))))),
			params: "ünïcödé 🐱",
			items:  map[string]any{},
		},
		{
			name:  "uncompressed iTXt",
			data:  withChunks(t, base, chunk("iTXt", []byte("Title\x00\x00\x00\x00\x00日本"))),
			items: map[string]any{"Title": "日本"},
			keys:  []string{"Title"},
		},
		{
			name:  "corrupt zTXt stream gives an empty value",
			data:  withChunks(t, base, chunk("zTXt", []byte("k\x00\x00not zlib"))),
			items: map[string]any{"k": ""},
			keys:  []string{"k"},
		},
		{
			name:  "iTXt with invalid utf-8 is skipped",
			data:  withChunks(t, base, chunk("iTXt", []byte("k\x00\x00\x00\x00\x00\xff\xfe"))),
			items: map[string]any{},
		},
		{
			name:  "later duplicate key keeps the first position",
			data:  withChunks(t, base, chunk("tEXt", []byte("a\x001")), chunk("tEXt", []byte("b\x002")), chunk("tEXt", []byte("a\x003"))),
			items: map[string]any{"a": "3", "b": "2"},
			keys:  []string{"a", "b"},
		},
		{
			name: "gamma srgb and dpi",
			data: withChunks(t, base, chunk("gAMA", binary.BigEndian.AppendUint32(nil, 45455)), chunk("sRGB", []byte{0}),
				chunk("pHYs", []byte{0, 0, 0x0b, 0x13, 0, 0, 0x0b, 0x13, 1})),
			items: map[string]any{"gamma": 0.45455, "srgb": 0},
			keys:  []string{"gamma", "srgb"},
		},
		{
			name:   "eXIf UserComment overrides parameters",
			data:   withChunks(t, base, chunk("tEXt", []byte("parameters\x00from text")), chunk("eXIf", tiffLE([]byte("ASCII\x00\x00\x00from exif")))),
			params: "from exif",
			items:  map[string]any{},
		},
		{
			name:   "text after IDAT is read",
			data:   append(base[:len(base)-12:len(base)-12], cat(chunk("tEXt", []byte("parameters\x00late")), base[len(base)-12:])...),
			params: "late",
			items:  map[string]any{},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Read(tc.data)
			if err != nil {
				t.Fatalf("Read: %v", err)
			}
			if got.Format != "png" {
				t.Errorf("Format = %q", got.Format)
			}
			if got.Parameters != tc.params {
				t.Errorf("Parameters = %q, want %q", got.Parameters, tc.params)
			}
			if !reflect.DeepEqual(got.Items, tc.items) {
				t.Errorf("Items = %#v, want %#v", got.Items, tc.items)
			}
			if !reflect.DeepEqual(got.Keys, tc.keys) {
				t.Errorf("Keys = %q, want %q", got.Keys, tc.keys)
			}
		})
	}
}

func TestReadErrors(t *testing.T) {
	base := plainPNG(t)
	badCRC := withChunks(t, base, chunk("tEXt", []byte("parameters\x00x")))
	badCRC[len(base[:33])+8+5] ^= 0xff // flip a byte inside the tEXt body
	bomb := withChunks(t, base, chunk("zTXt", cat([]byte("parameters\x00\x00"), zlibBytes(make([]byte, 2<<20)))))
	tests := []struct {
		name string
		data []byte
		want []error
	}{
		{"empty", nil, []error{ErrInvalidImage}},
		{"garbage", []byte("hello, world"), []error{ErrInvalidImage}},
		{"bad crc", badCRC, []error{ErrInvalidImage}},
		{"truncated before IDAT", base[:40], []error{ErrInvalidImage}},
		{"png signature only", pngSignature, []error{ErrInvalidImage}},
		{"zTXt bomb over 1 MiB", bomb, []error{ErrInvalidImage, ErrTextTooLarge}},
		{"bmp", []byte("BM\x00\x00\x00\x00"), []error{ErrInvalidImage, ErrUnsupportedFormat}},
		{"truncated jpeg", plainJPEG(t)[:30], []error{ErrInvalidImage}},
		{"gif header only", []byte("GIF89a"), []error{ErrInvalidImage}},
		{"webp without image chunk", []byte("RIFF\x04\x00\x00\x00WEBP"), []error{ErrInvalidImage}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Read(tc.data)
			if err == nil {
				t.Fatal("Read succeeded, want error")
			}
			for _, w := range tc.want {
				if !errors.Is(err, w) {
					t.Errorf("error %v is not %v", err, w)
				}
			}
		})
	}
}

func TestReadTruncatedAfterIDATKeepsText(t *testing.T) {
	data := withChunks(t, plainPNG(t), chunk("tEXt", []byte("parameters\x00kept")))
	data = data[:len(data)-6] // cut into IEND
	got, err := Read(data)
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	if got.Parameters != "kept" {
		t.Errorf("Parameters = %q, want %q", got.Parameters, "kept")
	}
}

func TestReadJPEG(t *testing.T) {
	base := plainJPEG(t)
	com := func(s string) []byte {
		return cat([]byte{0xff, 0xfe, byte((len(s) + 2) >> 8), byte(len(s) + 2)}, []byte(s))
	}
	app1 := func(payload []byte) []byte {
		return cat([]byte{0xff, 0xe1, byte((len(payload) + 2) >> 8), byte(len(payload) + 2)}, payload)
	}
	insert := func(seg []byte) []byte { return cat(base[:2], seg, base[2:]) }
	tests := []struct {
		name   string
		data   []byte
		params string
		items  map[string]any
	}{
		{"plain", base, "", map[string]any{}},
		{"COM segment is the infotext when there is no exif", insert(com("from COM")), "from COM", map[string]any{"comment": "from COM"}},
		{"little-endian exif ascii", insert(app1(cat([]byte("Exif\x00\x00"), tiffLE([]byte("ASCII\x00\x00\x00hi\xff"))))), "hi\uFFFD", map[string]any{}},
		{"undefined prefix falls back to raw utf-8", insert(app1(cat([]byte("Exif\x00\x00"), tiffLE([]byte("\x00\x00\x00\x00\x00\x00\x00\x00raw"))))), "\x00\x00\x00\x00\x00\x00\x00\x00raw", map[string]any{}},
		{"exif without comment keeps COM out of parameters", insert(cat(com("c"), app1(cat([]byte("Exif\x00\x00"), tiffLE(nil))))), "", map[string]any{"comment": "c"}},
		{"broken exif is ignored", insert(app1([]byte("Exif\x00\x00II*\x00\xff\xff\xff\x7f"))), "", map[string]any{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Read(tc.data)
			if err != nil {
				t.Fatalf("Read: %v", err)
			}
			if got.Format != "jpeg" || got.Parameters != tc.params {
				t.Errorf("Format, Parameters = %q, %q, want jpeg, %q", got.Format, got.Parameters, tc.params)
			}
			if !reflect.DeepEqual(got.Items, tc.items) {
				t.Errorf("Items = %#v, want %#v", got.Items, tc.items)
			}
		})
	}
}

func TestReadGIFComment(t *testing.T) {
	// 1x1 GIF89a, global color table of 2, two comment extensions, one GCE with transparency.
	gif := cat([]byte("GIF89a\x01\x00\x01\x00\x80\x00\x00"), []byte{0, 0, 0, 255, 255, 255},
		[]byte("\x21\xfe\x05hello\x05, wor\x00"), []byte("\x21\xfe\x02ld\x00"),
		[]byte("\x21\xf9\x04\x01\x00\x00\x01\x00"),
		[]byte("\x2c\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02\x44\x01\x00\x3b"))
	got, err := Read(gif)
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	want := Info{
		Format:     "gif",
		Parameters: "hello, wor\nld",
		Items:      map[string]any{"version": "GIF89a", "comment": "hello, wor\nld", "transparency": 1},
		Keys:       []string{"version", "comment", "transparency"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Read = %#v\nwant %#v", got, want)
	}
}

func TestReadWEBPExif(t *testing.T) {
	exif := cat([]byte("Exif\x00\x00"), tiffLE(cat([]byte("UNICODE\x00"), []byte{0, 'h', 0, 'i'})))
	riffChunk := func(fourcc string, body []byte) []byte {
		b := binary.LittleEndian.AppendUint32([]byte(fourcc), uint32(len(body)))
		b = append(b, body...)
		if len(body)%2 == 1 {
			b = append(b, 0)
		}
		return b
	}
	body := cat([]byte("WEBP"), riffChunk("VP8X", make([]byte, 10)), riffChunk("EXIF", exif), riffChunk("XMP ", []byte("<x/>")))
	data := cat([]byte("RIFF"), binary.LittleEndian.AppendUint32(nil, uint32(len(body))), body)
	got, err := Read(data)
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	if got.Parameters != "hi" || !reflect.DeepEqual(got.Items, map[string]any{"xmp": "<x/>"}) {
		t.Errorf("Read = %#v", got)
	}
}

func TestDecodeUserComment(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		want string
	}{
		{"unicode", cat([]byte("UNICODE\x00"), []byte{0x00, 'a', 0xd8, 0x3d, 0xdc, 0x31}), "a🐱"},
		{"unicode odd byte", cat([]byte("UNICODE\x00"), []byte{0x00, 'a', 0x00}), "a\uFFFD"},
		{"unicode lone surrogate", cat([]byte("UNICODE\x00"), []byte{0xd8, 0x3d, 0x00, 'b'}), "\uFFFDb"},
		{"ascii", []byte("ASCII\x00\x00\x00plain"), "plain"},
		{"short", []byte("abc"), "abc"},
		{"empty", nil, ""},
		{"unknown prefix is raw utf-8 with invalid bytes dropped", []byte("XXXXXXXXok\xff!"), "XXXXXXXXok!"},
	}
	for _, tc := range tests {
		if got := decodeUserComment(tc.in); got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestReadNeverPanicsOnPrefixes(t *testing.T) {
	inputs := [][]byte{
		withChunks(t, plainPNG(t), chunk("tEXt", []byte("parameters\x00x")), chunk("iTXt", []byte("k\x00\x01\x00\x00\x00"))),
		plainJPEG(t),
		[]byte("GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff\x21\xfe\x05hello\x00\x3b"),
	}
	for _, in := range inputs {
		for i := range len(in) {
			_, _ = Read(in[:i]) // must not panic
		}
	}
	if !strings.HasPrefix(string(pngSignature), "\x89PNG") || !bytes.Equal(pngSignature[:4], []byte("\x89PNG")) {
		t.Fatal("signature")
	}
}
