package imagemeta

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"testing"
)

func testImage() image.Image {
	img := image.NewRGBA(image.Rect(0, 0, 4, 3))
	for x := range 4 {
		img.Set(x, 1, color.RGBA{R: 200, A: 255})
	}
	return img
}

func plainPNG(t testing.TB) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, testImage()); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func plainJPEG(t testing.TB) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, testImage(), nil); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// chunk builds one PNG chunk with a correct CRC.
func chunk(ctype string, body []byte) []byte {
	var b bytes.Buffer
	writeChunk(&b, ctype, body)
	return b.Bytes()
}

// withChunks inserts chunks before the first IDAT of p.
func withChunks(t testing.TB, p []byte, chunks ...[]byte) []byte {
	t.Helper()
	at, err := firstChunk(p, "IDAT")
	if err != nil {
		t.Fatal(err)
	}
	out := append([]byte(nil), p[:at]...)
	for _, c := range chunks {
		out = append(out, c...)
	}
	return append(out, p[at:]...)
}

func zlibBytes(b []byte) []byte {
	var buf bytes.Buffer
	zw := zlib.NewWriter(&buf)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// tiffLE builds a little-endian TIFF whose Exif IFD holds a UserComment.
func tiffLE(comment []byte) []byte {
	le := binary.LittleEndian
	b := []byte("II*\x00")
	b = le.AppendUint32(b, 8)
	b = le.AppendUint16(b, 1)
	b = le.AppendUint16(b, tagExifIFD)
	b = le.AppendUint16(b, 4)
	b = le.AppendUint32(b, 1)
	b = le.AppendUint32(b, 26)
	b = le.AppendUint32(b, 0)
	b = le.AppendUint16(b, 1)
	b = le.AppendUint16(b, tagUserComment)
	b = le.AppendUint16(b, 7)
	b = le.AppendUint32(b, uint32(len(comment)))
	b = le.AppendUint32(b, 44)
	b = le.AppendUint32(b, 0)
	return append(b, comment...)
}

func crcOf(b []byte) uint32 { return crc32.ChecksumIEEE(b) }

func isInvalid(err error) bool { return errors.Is(err, ErrInvalidImage) }
