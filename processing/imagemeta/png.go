package imagemeta

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
	"unicode/utf8"

	"github.com/sdapi/sdapi/internal/apierr"
)

var pngSignature = []byte("\x89PNG\r\n\x1a\n")

// Pillow's limits (PngImagePlugin MAX_TEXT_CHUNK, MAX_TEXT_MEMORY).
const (
	maxTextChunk  = 1 << 20
	maxTextMemory = 64 * maxTextChunk
)

// readPNG walks the chunks and records what Pillow's PngStream puts in
// image.info. Every CRC is checked, as Pillow does. A file cut short after
// the first IDAT keeps the text read so far: Pillow opens such a file and
// A1111's fix_image swallows the load error.
func readPNG(data []byte, info *orderedInfo) error {
	rest := data[len(pngSignature):]
	seenIDAT := false
	textMem := 0
	for len(rest) > 0 {
		if len(rest) < 12 {
			if seenIDAT {
				return nil
			}
			return apierr.InvalidImage("png: truncated chunk header")
		}
		length := binary.BigEndian.Uint32(rest[:4])
		if length > 1<<31-1 || uint64(length)+12 > uint64(len(rest)) {
			if seenIDAT {
				return nil
			}
			return apierr.InvalidImage("png: truncated chunk")
		}
		ctype := string(rest[4:8])
		body := rest[8 : 8+length]
		want := binary.BigEndian.Uint32(rest[8+length : 12+length])
		if crc32.ChecksumIEEE(rest[4:8+length]) != want {
			return apierr.InvalidImage("png: bad checksum in %q chunk", ctype)
		}
		rest = rest[12+length:]

		n, err := pngChunk(ctype, body, info)
		if err != nil {
			return err
		}
		textMem += n
		if textMem > maxTextMemory {
			return apierr.InvalidImage("%w: more than %d bytes of text", ErrTextTooLarge, maxTextMemory)
		}
		switch ctype {
		case "IDAT":
			seenIDAT = true
		case "IEND":
			return nil
		}
	}
	return nil
}

// pngChunk handles one chunk and returns the text length it added, for
// Pillow's check_text_memory.
func pngChunk(ctype string, body []byte, info *orderedInfo) (int, error) {
	switch ctype {
	case "tEXt":
		k, v, _ := bytes.Cut(body, []byte{0})
		if len(k) == 0 {
			return 0, nil
		}
		s := latin1(v)
		info.set(latin1(k), s)
		return len(s), nil
	case "zTXt":
		k, v, _ := bytes.Cut(body, []byte{0})
		if len(v) > 0 && v[0] != 0 {
			return 0, apierr.InvalidImage("png: unknown zTXt compression method %d", v[0])
		}
		var text []byte
		if len(v) > 0 {
			var err error
			text, err = inflateText(v[1:])
			if errors.Is(err, ErrTextTooLarge) {
				return 0, err
			}
			if err != nil {
				text = nil // Pillow: zlib.error gives an empty value
			}
		}
		if len(k) == 0 {
			return 0, nil
		}
		s := latin1(text)
		info.set(latin1(k), s)
		return len(s), nil
	case "iTXt":
		return pngITXt(body, info)
	case "eXIf":
		info.set("exif", append([]byte("Exif\x00\x00"), body...))
	case "gAMA":
		if len(body) >= 4 {
			info.set("gamma", float64(binary.BigEndian.Uint32(body))/100000)
		}
	case "sRGB":
		if len(body) >= 1 {
			info.set("srgb", int(body[0]))
		}
	case "pHYs":
		if len(body) >= 9 {
			px, py := binary.BigEndian.Uint32(body), binary.BigEndian.Uint32(body[4:])
			switch body[8] {
			case 1:
				info.set("dpi", []float64{float64(px) * 0.0254, float64(py) * 0.0254})
			case 0:
				info.set("aspect", []uint32{px, py})
			}
		}
	}
	return 0, nil
}

// pngITXt mirrors Pillow's chunk_iTXt: malformed or undecodable chunks are
// skipped, not errors.
func pngITXt(body []byte, info *orderedInfo) (int, error) {
	k, r, ok := bytes.Cut(body, []byte{0})
	if !ok || len(r) < 2 {
		return 0, nil
	}
	compressed, method, r := r[0], r[1], r[2:]
	lang, r, ok1 := bytes.Cut(r, []byte{0})
	tkey, v, ok2 := bytes.Cut(r, []byte{0})
	if !ok1 || !ok2 {
		return 0, nil
	}
	if compressed != 0 {
		if method != 0 {
			return 0, nil
		}
		text, err := inflateText(v)
		if errors.Is(err, ErrTextTooLarge) {
			return 0, err
		}
		if err != nil {
			return 0, nil
		}
		v = text
	}
	if string(k) == "XML:com.adobe.xmp" {
		info.set("xmp", v)
	}
	if !utf8Valid(lang) || !utf8Valid(tkey) || !utf8Valid(v) {
		return 0, nil
	}
	info.set(latin1(k), string(v))
	return len([]rune(string(v))), nil
}

// inflateText decompresses a text chunk like Pillow's _safe_zlib_decompress:
// more than maxTextChunk bytes is an error, while a stream that simply ends
// early yields what was decoded (zlib.decompressobj does not complain).
func inflateText(z []byte) ([]byte, error) {
	zr, err := zlib.NewReader(bytes.NewReader(z))
	if err != nil {
		return nil, err
	}
	defer zr.Close()
	out, err := io.ReadAll(io.LimitReader(zr, maxTextChunk+1))
	if len(out) > maxTextChunk {
		return nil, apierr.InvalidImage("%w: decompressed text over %d bytes", ErrTextTooLarge, maxTextChunk)
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return out, nil
	}
	return out, err
}

// latin1 decodes ISO-8859-1 bytes, as Pillow does for tEXt and zTXt.
func latin1(b []byte) string {
	r := make([]rune, len(b))
	for i, c := range b {
		r[i] = rune(c)
	}
	return string(r)
}

func utf8Valid(b []byte) bool { return utf8.Valid(b) }
