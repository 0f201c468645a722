package imagemeta

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"image"
	"image/png"
	"sync"
	"unicode/utf8"

	"github.com/sdapi/sdapi/internal/apierr"
)

// Text is one PNG text entry; EncodePNG writes them in slice order.
type Text struct {
	Key   string
	Value string
}

// EncodePNG encodes img as PNG with the given text entries, chosen as
// Pillow's PngInfo.add_text chooses: a tEXt chunk when the value is
// Latin-1 encodable, else an uncompressed iTXt chunk with empty language
// and translated keyword. The chunks go before the first IDAT, where
// Pillow writes them. Keys must be non-empty Latin-1 without NUL; values
// must be valid UTF-8.
func EncodePNG(img image.Image, text []Text) ([]byte, error) {
	var chunks bytes.Buffer
	for _, t := range text {
		key, ok := toLatin1(t.Key)
		if !ok || len(key) == 0 || bytes.IndexByte(key, 0) >= 0 {
			return nil, fmt.Errorf("imagemeta: png text key %q is not a non-empty latin-1 string without NUL", t.Key)
		}
		if !utf8.ValidString(t.Value) {
			return nil, fmt.Errorf("imagemeta: png text value for %q is not valid utf-8", t.Key)
		}
		if v, ok := toLatin1(t.Value); ok {
			writeChunk(&chunks, "tEXt", append(append(key, 0), v...))
			continue
		}
		// key \0, compression flag 0, method 0, empty language \0, empty translated key \0, UTF-8 text
		body := append(append(key, 0, 0, 0, 0, 0), t.Value...)
		writeChunk(&chunks, "iTXt", body)
	}

	var buf bytes.Buffer
	if err := pngEncoder.Encode(&buf, img); err != nil {
		return nil, fmt.Errorf("imagemeta: encode png: %w", err)
	}
	out := buf.Bytes()
	at, err := firstChunk(out, "IDAT")
	if err != nil {
		return nil, err
	}
	res := make([]byte, 0, len(out)+chunks.Len())
	res = append(res, out[:at]...)
	res = append(res, chunks.Bytes()...)
	return append(res, out[at:]...), nil
}

// pngEncoder favours speed: a generated image is encoded on every
// response, and zlib's default level costs several times BestSpeed for a
// few percent of size (see BenchmarkEncodePNG). The buffer pool reuses
// the encoder's scratch rows across calls.
var pngEncoder = png.Encoder{CompressionLevel: png.BestSpeed, BufferPool: &encoderPool{}}

type encoderPool struct{ p sync.Pool }

func (e *encoderPool) Get() *png.EncoderBuffer {
	b, _ := e.p.Get().(*png.EncoderBuffer)
	return b
}
func (e *encoderPool) Put(b *png.EncoderBuffer) { e.p.Put(b) }

// firstChunk returns the offset of the first chunk of type ctype.
func firstChunk(p []byte, ctype string) (int, error) {
	pos := len(pngSignature)
	for pos+8 <= len(p) {
		n := int(binary.BigEndian.Uint32(p[pos:]))
		if string(p[pos+4:pos+8]) == ctype {
			return pos, nil
		}
		pos += 12 + n
	}
	return 0, fmt.Errorf("imagemeta: encoder output has no %s chunk", ctype)
}

func writeChunk(w *bytes.Buffer, ctype string, body []byte) {
	var hdr [8]byte
	binary.BigEndian.PutUint32(hdr[:4], uint32(len(body)))
	copy(hdr[4:], ctype)
	w.Write(hdr[:])
	w.Write(body)
	crc := crc32.NewIEEE()
	crc.Write(hdr[4:])
	crc.Write(body)
	var sum [4]byte
	binary.BigEndian.PutUint32(sum[:], crc.Sum32())
	w.Write(sum[:])
}

// toLatin1 encodes s as ISO-8859-1, or reports that it cannot.
func toLatin1(s string) ([]byte, bool) {
	b := make([]byte, 0, len(s))
	for _, r := range s {
		if r > 0xff {
			return nil, false
		}
		b = append(b, byte(r))
	}
	return b, true
}

// WithJPEGUserComment returns a copy of a JPEG with comment stored as EXIF
// UserComment, as A1111 does with piexif.insert(piexif.dump({"Exif":
// {UserComment: UserComment.dump(comment, encoding="unicode")}}), ...):
// UTF-16BE after a "UNICODE\0" prefix. Like piexif's merge_segments, the
// new APP1 segment replaces an existing Exif APP1 or a leading JFIF APP0
// (dropping it), and is otherwise inserted right after SOI.
func WithJPEGUserComment(jpegBytes []byte, comment string) ([]byte, error) {
	if !bytes.HasPrefix(jpegBytes, []byte{0xff, 0xd8}) {
		return nil, apierr.InvalidImage("not a jpeg")
	}
	exif := dumpUserCommentExif(comment)
	if len(exif)+2 > 0xffff {
		return nil, ErrCommentTooLarge
	}
	app1 := append([]byte{0xff, 0xe1, byte((len(exif) + 2) >> 8), byte(len(exif) + 2)}, exif...)

	seg1, err := jpegSegmentEnd(jpegBytes, 2)
	if err != nil {
		return nil, err
	}
	first := jpegBytes[2:seg1]
	isExif := func(seg []byte) bool {
		return len(seg) >= 10 && seg[1] == 0xe1 && string(seg[4:10]) == "Exif\x00\x00"
	}
	var out []byte
	out = append(out, 0xff, 0xd8)
	switch {
	case len(first) >= 2 && first[1] == 0xe0:
		rest := jpegBytes[seg1:]
		if seg2, err := jpegSegmentEnd(jpegBytes, seg1); err == nil && isExif(jpegBytes[seg1:seg2]) {
			rest = jpegBytes[seg2:] // APP0 then Exif: keep neither, as piexif does
		}
		out = append(out, app1...)
		out = append(out, rest...)
	case isExif(first):
		out = append(out, app1...)
		out = append(out, jpegBytes[seg1:]...)
	default:
		out = append(out, app1...)
		out = append(out, jpegBytes[2:]...)
	}
	return out, nil
}

// jpegSegmentEnd returns the end offset of the marker segment at pos.
func jpegSegmentEnd(b []byte, pos int) (int, error) {
	if pos+4 > len(b) || b[pos] != 0xff {
		return 0, apierr.InvalidImage("jpeg: bad segment at %d", pos)
	}
	if m := b[pos+1]; m == 0xd8 || m == 0xd9 || (m >= 0xd0 && m <= 0xd7) {
		return 0, apierr.InvalidImage("jpeg: standalone marker at %d", pos)
	}
	end := pos + 2 + int(binary.BigEndian.Uint16(b[pos+2:]))
	if end > len(b) {
		return 0, apierr.InvalidImage("jpeg: truncated segment at %d", pos)
	}
	return end, nil
}
