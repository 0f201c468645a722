package imagemeta

import (
	"bytes"
	"encoding/binary"

	"github.com/sdapi/sdapi/internal/apierr"
)

// readJPEG walks the marker segments up to the first SOS and records what
// Pillow's JpegImagePlugin puts in image.info that A1111 does not drop:
// the first "Exif" APP1 payload, COM text and the Adobe APP14 fields.
func readJPEG(data []byte, info *orderedInfo) error {
	rest := data[2:]
	for {
		// Skip fill bytes before a marker.
		i := 0
		for i < len(rest) && rest[i] == 0xff {
			i++
		}
		if i == 0 || i >= len(rest) {
			return apierr.InvalidImage("jpeg: bad marker")
		}
		marker := rest[i]
		rest = rest[i+1:]
		if marker == 0x01 || (marker >= 0xd0 && marker <= 0xd7) {
			continue // standalone markers carry no length
		}
		if marker == 0xd9 {
			return nil // EOI
		}
		if len(rest) < 2 {
			return apierr.InvalidImage("jpeg: truncated segment")
		}
		n := int(binary.BigEndian.Uint16(rest))
		if n < 2 || n > len(rest) {
			return apierr.InvalidImage("jpeg: truncated segment")
		}
		seg := rest[2:n]
		rest = rest[n:]
		switch {
		case marker == 0xda: // SOS: the image data follows, metadata is done
			return nil
		case marker == 0xe1 && bytes.HasPrefix(seg, []byte("Exif\x00\x00")):
			if _, ok := info.get("exif"); !ok {
				info.set("exif", seg)
			}
		case marker == 0xfe:
			info.set("comment", seg)
		case marker == 0xee && bytes.HasPrefix(seg, []byte("Adobe")) && len(seg) >= 7:
			info.set("adobe", int(binary.BigEndian.Uint16(seg[5:])))
			if len(seg) > 11 {
				info.set("adobe_transform", int(seg[11]))
			}
		}
	}
}
