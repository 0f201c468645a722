package conformance

import (
	"bytes"
	"compress/zlib"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// testImage is a deterministic RGB test pattern (gradients plus a
// seed-dependent checker), used as init image and extras input.
func testImage(w, h int, seed uint8) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			c := uint8(0)
			if (x/8+y/8)%2 == 0 {
				c = 60 + seed
			}
			img.SetNRGBA(x, y, color.NRGBA{uint8(x * 255 / max(w-1, 1)), uint8(y * 255 / max(h-1, 1)), c, 255})
		}
	}
	return img
}

// maskImage is white (repaint) in the centre square and black around it.
func maskImage(w, h int) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	draw.Draw(img, img.Bounds(), image.NewUniform(color.Black), image.Point{}, draw.Src)
	draw.Draw(img, image.Rect(w/4, h/4, 3*w/4, 3*h/4), image.NewUniform(color.White), image.Point{}, draw.Src)
	return img
}

func encodePNG(img image.Image) []byte {
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		panic(err)
	}
	return b.Bytes()
}

func pngBase64(img image.Image) string { return base64.StdEncoding.EncodeToString(encodePNG(img)) }

// withTextChunk inserts a tEXt chunk key=value after IHDR.
func withTextChunk(pngData []byte, key, value string) []byte {
	const sigLen, ihdrLen = 8, 8 + 13 + 4
	data := append([]byte(key+"\x00"), value...)
	var chunk bytes.Buffer
	binary.Write(&chunk, binary.BigEndian, uint32(len(data)))
	chunk.WriteString("tEXt")
	chunk.Write(data)
	binary.Write(&chunk, binary.BigEndian, crc32PNG(append([]byte("tEXt"), data...)))
	out := append([]byte{}, pngData[:sigLen+ihdrLen]...)
	out = append(out, chunk.Bytes()...)
	return append(out, pngData[sigLen+ihdrLen:]...)
}

// pngTextChunks reads the tEXt, zTXt and iTXt chunks of a PNG.
func pngTextChunks(data []byte) (map[string]string, error) {
	if len(data) < 8 || string(data[:8]) != "\x89PNG\r\n\x1a\n" {
		return nil, fmt.Errorf("not a PNG")
	}
	out := map[string]string{}
	for p := 8; p+12 <= len(data); {
		n := int(binary.BigEndian.Uint32(data[p:]))
		typ := string(data[p+4 : p+8])
		if p+12+n > len(data) {
			return nil, fmt.Errorf("truncated %s chunk", typ)
		}
		body := data[p+8 : p+8+n]
		p += 12 + n
		key, rest, ok := bytes.Cut(body, []byte{0})
		if !ok {
			continue
		}
		switch typ {
		case "tEXt":
			out[string(key)] = latin1(rest)
		case "zTXt":
			if len(rest) > 0 {
				if s, err := inflate(rest[1:]); err == nil {
					out[string(key)] = latin1(s)
				}
			}
		case "iTXt":
			if len(rest) < 2 {
				continue
			}
			compressed := rest[0] == 1
			rest = rest[2:]
			_, rest, _ = bytes.Cut(rest, []byte{0}) // language tag
			_, rest, _ = bytes.Cut(rest, []byte{0}) // translated keyword
			if compressed {
				s, err := inflate(rest)
				if err != nil {
					continue
				}
				rest = s
			}
			out[string(key)] = string(rest)
		case "IEND":
			return out, nil
		}
	}
	return out, nil
}

func latin1(b []byte) string {
	r := make([]rune, len(b))
	for i, c := range b {
		r[i] = rune(c)
	}
	return string(r)
}

func inflate(b []byte) ([]byte, error) {
	zr, err := zlib.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	defer zr.Close()
	return io.ReadAll(zr)
}

var crcTable = func() [256]uint32 {
	var t [256]uint32
	for n := range t {
		c := uint32(n)
		for range 8 {
			if c&1 != 0 {
				c = 0xedb88320 ^ (c >> 1)
			} else {
				c >>= 1
			}
		}
		t[n] = c
	}
	return t
}()

func crc32PNG(b []byte) uint32 {
	c := ^uint32(0)
	for _, x := range b {
		c = crcTable[byte(c)^x] ^ (c >> 8)
	}
	return ^c
}

// pixelDiff compares two images channel by channel (RGBA, 8 bit).
type pixelDiff struct {
	SameSize  bool
	Exact     bool
	MaxDiff   int     // largest per-channel difference, 0–255
	MeanDiff  float64 // mean absolute per-channel difference
	Differing float64 // fraction of channels that differ
}

func diffImages(a, b image.Image) pixelDiff {
	if a.Bounds().Size() != b.Bounds().Size() {
		return pixelDiff{MaxDiff: 255, MeanDiff: 255, Differing: 1}
	}
	d := pixelDiff{SameSize: true}
	var sum, n, differ int
	ab, bb := a.Bounds(), b.Bounds()
	for y := range ab.Dy() {
		for x := range ab.Dx() {
			c1 := color.NRGBAModel.Convert(a.At(ab.Min.X+x, ab.Min.Y+y)).(color.NRGBA)
			c2 := color.NRGBAModel.Convert(b.At(bb.Min.X+x, bb.Min.Y+y)).(color.NRGBA)
			for _, p := range [][2]uint8{{c1.R, c2.R}, {c1.G, c2.G}, {c1.B, c2.B}, {c1.A, c2.A}} {
				v := int(p[0]) - int(p[1])
				if v < 0 {
					v = -v
				}
				d.MaxDiff = max(d.MaxDiff, v)
				sum += v
				n++
				if v != 0 {
					differ++
				}
			}
		}
	}
	d.Exact = d.MaxDiff == 0
	d.MeanDiff = float64(sum) / float64(max(n, 1))
	d.Differing = float64(differ) / float64(max(n, 1))
	return d
}

func (d pixelDiff) String() string {
	return fmt.Sprintf("exact=%v max=%d mean=%.3f differing=%.1f%%", d.Exact, d.MaxDiff, d.MeanDiff, 100*d.Differing)
}

// writeContactSheet draws the evidence images (files under dir, in
// order) into contact-sheet.png there and returns its name.
func writeContactSheet(dir string, files []string) (string, error) {
	const cell, cols = 96, 8
	rows := (len(files) + cols - 1) / cols
	sheet := image.NewNRGBA(image.Rect(0, 0, cols*cell, rows*cell))
	draw.Draw(sheet, sheet.Bounds(), image.NewUniform(color.NRGBA{32, 32, 32, 255}), image.Point{}, draw.Src)
	for i, f := range files {
		raw, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			return "", err
		}
		img, err := png.Decode(bytes.NewReader(raw))
		if err != nil {
			return "", fmt.Errorf("%s: %w", f, err)
		}
		x0, y0 := (i%cols)*cell, (i/cols)*cell
		b := img.Bounds()
		scale := max(b.Dx(), b.Dy())
		for y := range cell - 4 {
			for x := range cell - 4 {
				sx, sy := b.Min.X+x*scale/(cell-4), b.Min.Y+y*scale/(cell-4)
				if sx < b.Max.X && sy < b.Max.Y {
					sheet.Set(x0+2+x, y0+2+y, img.At(sx, sy))
				}
			}
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "contact-sheet.png"), encodePNG(sheet), 0o644); err != nil {
		return "", err
	}
	return "contact-sheet.png", nil
}

func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			return r
		}
		return '_'
	}, s)
}

func encodeB64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
