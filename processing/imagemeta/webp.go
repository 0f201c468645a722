package imagemeta

import (
	"encoding/binary"

	"github.com/sdapi/sdapi/internal/apierr"
)

// readWEBP walks the RIFF chunks and records "exif", "icc_profile" and
// "xmp" as Pillow's WebPImagePlugin does. The standard library cannot
// decode WEBP, so only the container is checked: it must hold a VP8, VP8L
// or VP8X chunk first. A broken bitstream inside is not detected.
func readWEBP(data []byte, info *orderedInfo) error {
	size := binary.LittleEndian.Uint32(data[4:8])
	end := len(data)
	if uint64(size)+8 < uint64(end) {
		end = int(size) + 8
	}
	pos := 12
	first := true
	for pos+8 <= end {
		fourcc := string(data[pos : pos+4])
		n := int(binary.LittleEndian.Uint32(data[pos+4 : pos+8]))
		if n < 0 || n > end-pos-8 {
			return apierr.InvalidImage("webp: truncated %q chunk", fourcc)
		}
		body := data[pos+8 : pos+8+n]
		if first {
			if fourcc != "VP8 " && fourcc != "VP8L" && fourcc != "VP8X" {
				return apierr.InvalidImage("webp: first chunk is %q", fourcc)
			}
			first = false
		}
		switch fourcc {
		case "EXIF":
			info.set("exif", body)
		case "ICCP":
			info.set("icc_profile", body)
		case "XMP ":
			info.set("xmp", body)
		}
		pos += 8 + n + n%2 // chunks are padded to even size
	}
	if first {
		return apierr.InvalidImage("webp: no image chunk")
	}
	return nil
}
