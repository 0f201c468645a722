package imagemeta

import "github.com/sdapi/sdapi/internal/apierr"

// readGIF records what Pillow's GifImagePlugin puts in image.info when it
// opens a GIF: "version", "background" (dropped by A1111), and from the
// extensions before the first image, "transparency" and "comment" (several
// comments are joined with "\n", as Pillow does).
func readGIF(data []byte, info *orderedInfo) error {
	if len(data) < 13 {
		return apierr.InvalidImage("gif: truncated header")
	}
	info.set("version", append([]byte(nil), data[:6]...))
	flags := data[10]
	info.set("background", int(data[11]))
	pos := 13
	if flags&0x80 != 0 {
		pos += 3 << (flags&7 + 1)
	}
	for pos < len(data) {
		switch data[pos] {
		case 0x21: // extension
			if pos+1 >= len(data) {
				return nil
			}
			label := data[pos+1]
			body, next, ok := gifSubBlocks(data, pos+2)
			if !ok {
				return nil // truncated: Pillow stops reading too
			}
			pos = next
			switch label {
			case 0xfe:
				if old, ok := info.get("comment"); ok {
					body = append(append(old.([]byte), '\n'), body...)
				}
				info.set("comment", body)
			case 0xf9:
				if len(body) >= 4 && body[0]&1 != 0 {
					info.set("transparency", int(body[3]))
				}
			}
		default: // image descriptor, trailer or garbage: frame 0 starts here
			return nil
		}
	}
	return nil
}

// gifSubBlocks concatenates the data sub-blocks starting at pos and returns
// the position after the terminator.
func gifSubBlocks(data []byte, pos int) ([]byte, int, bool) {
	var out []byte
	for pos < len(data) {
		n := int(data[pos])
		pos++
		if n == 0 {
			return out, pos, true
		}
		if pos+n > len(data) {
			return nil, 0, false
		}
		out = append(out, data[pos:pos+n]...)
		pos += n
	}
	return nil, 0, false
}
