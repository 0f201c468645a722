package imagemeta

import (
	"bytes"
	"encoding/binary"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

const (
	tagExifIFD     = 0x8769 // ExifTag in IFD0: offset of the Exif IFD
	tagUserComment = 0x9286
	maxIFDEntries  = 4096 // more than any real IFD; bounds work on hostile input
)

// piexif.helper.UserComment prefixes (EXIF 2.3, Table 9).
var (
	prefixASCII     = []byte("ASCII\x00\x00\x00")
	prefixJIS       = []byte("JIS\x00\x00\x00\x00\x00")
	prefixUnicode   = []byte("UNICODE\x00")
	prefixUndefined = make([]byte, 8)
)

// exifUserComment returns the raw UserComment bytes from an EXIF payload as
// Pillow stores it in image.info["exif"]. Like piexif.load, it accepts a
// payload starting with "Exif" (6-byte header) or a bare TIFF header. A
// payload it cannot walk yields nil, which A1111 treats as "no comment";
// where piexif would raise on a malformed IFD, this is lenient instead.
func exifUserComment(payload []byte) []byte {
	var tiff []byte
	switch {
	case bytes.HasPrefix(payload, []byte("II")) || bytes.HasPrefix(payload, []byte("MM")):
		tiff = payload
	case bytes.HasPrefix(payload, []byte("Exif")):
		if len(payload) < 6 {
			return nil
		}
		tiff = payload[6:]
	default:
		return nil // piexif would try to open it as a file name (OSError)
	}
	if len(tiff) < 8 {
		return nil
	}
	var bo binary.ByteOrder = binary.BigEndian
	if tiff[0] == 'I' && tiff[1] == 'I' {
		bo = binary.LittleEndian
	}
	ifd0 := bo.Uint32(tiff[4:8])
	exifOff, ok := ifdLookup(tiff, bo, ifd0, tagExifIFD)
	if !ok {
		return nil
	}
	if len(exifOff) < 4 {
		return nil
	}
	value, ok := ifdLookup(tiff, bo, bo.Uint32(exifOff[:4]), tagUserComment)
	if !ok {
		return nil
	}
	return value
}

// ifdLookup finds tag in the IFD at off and returns its value bytes. For
// values over 4 bytes it reads at the stored offset, clamping at the end of
// data as Python slicing does.
func ifdLookup(tiff []byte, bo binary.ByteOrder, off uint32, tag uint16) ([]byte, bool) {
	if uint64(off)+2 > uint64(len(tiff)) {
		return nil, false
	}
	n := int(bo.Uint16(tiff[off:]))
	if n > maxIFDEntries {
		return nil, false
	}
	for i := range n {
		e := uint64(off) + 2 + uint64(i)*12
		if e+12 > uint64(len(tiff)) {
			return nil, false
		}
		entry := tiff[e : e+12]
		if bo.Uint16(entry[0:2]) != tag {
			continue
		}
		size := uint64(typeSize(bo.Uint16(entry[2:4]))) * uint64(bo.Uint32(entry[4:8]))
		if size <= 4 {
			return entry[8 : 8+size], true
		}
		start := uint64(bo.Uint32(entry[8:12]))
		end := start + size
		if start > uint64(len(tiff)) {
			start = uint64(len(tiff))
		}
		if end > uint64(len(tiff)) {
			end = uint64(len(tiff))
		}
		return tiff[start:end], true
	}
	return nil, false
}

// typeSize is the byte size of one value of a TIFF field type.
func typeSize(t uint16) int {
	switch t {
	case 1, 2, 6, 7: // BYTE, ASCII, SBYTE, UNDEFINED
		return 1
	case 3, 8: // SHORT, SSHORT
		return 2
	case 4, 9, 11: // LONG, SLONG, FLOAT
		return 4
	case 5, 10, 12: // RATIONAL, SRATIONAL, DOUBLE
		return 8
	}
	return 1
}

// decodeUserComment mirrors A1111's handling: piexif.helper.UserComment.load,
// and on its ValueError, data.decode("utf8", errors="ignore") of the whole
// value. Shift-JIS bodies are not decoded (no tables in the standard
// library); they take the UTF-8 fallback.
func decodeUserComment(data []byte) string {
	if len(data) >= 8 {
		prefix, body := data[:8], data[8:]
		switch {
		case bytes.Equal(prefix, prefixUnicode):
			return decodeUTF16BE(body)
		case bytes.Equal(prefix, prefixASCII):
			return decodeASCIIReplace(body)
		}
	}
	return decodeUTF8Ignore(data)
}

// decodeUTF16BE is bytes.decode("utf_16_be", errors="replace").
func decodeUTF16BE(b []byte) string {
	units := make([]uint16, len(b)/2)
	for i := range units {
		units[i] = binary.BigEndian.Uint16(b[2*i:])
	}
	s := string(utf16.Decode(units))
	if len(b)%2 == 1 {
		s += "\uFFFD"
	}
	return s
}

// decodeASCIIReplace is bytes.decode("ascii", errors="replace").
func decodeASCIIReplace(b []byte) string {
	var sb strings.Builder
	for _, c := range b {
		if c < 0x80 {
			sb.WriteByte(c)
		} else {
			sb.WriteString("\uFFFD")
		}
	}
	return sb.String()
}

// decodeUTF8Ignore is bytes.decode("utf8", errors="ignore").
func decodeUTF8Ignore(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	var sb strings.Builder
	for len(b) > 0 {
		r, size := utf8.DecodeRune(b)
		if r != utf8.RuneError || size > 1 {
			sb.Write(b[:size])
		}
		b = b[size:]
	}
	return sb.String()
}

// decodeUTF8Replace is bytes.decode("utf8", errors="replace"), close enough
// for item values that are only displayed.
func decodeUTF8Replace(b []byte) string {
	return strings.ToValidUTF8(string(b), "\uFFFD")
}

// dumpUserCommentExif builds what piexif.dump produces for
// {"Exif": {UserComment: UserComment.dump(comment, encoding="unicode")}}:
// "Exif\0\0", a big-endian TIFF header, IFD0 holding only the Exif IFD
// pointer, and the Exif IFD holding only UserComment.
func dumpUserCommentExif(comment string) []byte {
	value := append([]byte(nil), prefixUnicode...)
	for _, u := range utf16.Encode([]rune(comment)) {
		value = binary.BigEndian.AppendUint16(value, u)
	}
	const (
		ifd0Off = 8
		ifdSize = 2 + 12 + 4 // one entry plus the next-IFD offset
		exifOff = ifd0Off + ifdSize
		dataOff = exifOff + ifdSize
	)
	be := binary.BigEndian
	b := []byte("Exif\x00\x00MM\x00\x2a")
	b = be.AppendUint32(b, ifd0Off)
	// IFD0: ExifTag, LONG, count 1, offset of the Exif IFD.
	b = be.AppendUint16(b, 1)
	b = be.AppendUint16(b, tagExifIFD)
	b = be.AppendUint16(b, 4)
	b = be.AppendUint32(b, 1)
	b = be.AppendUint32(b, exifOff)
	b = be.AppendUint32(b, 0)
	// Exif IFD: UserComment, UNDEFINED, count, offset of the value.
	b = be.AppendUint16(b, 1)
	b = be.AppendUint16(b, tagUserComment)
	b = be.AppendUint16(b, 7)
	b = be.AppendUint32(b, uint32(len(value)))
	b = be.AppendUint32(b, dataOff)
	b = be.AppendUint32(b, 0)
	return append(b, value...)
}
