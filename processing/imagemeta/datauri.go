package imagemeta

import (
	"fmt"
	"strings"

	"github.com/sdapi/sdapi/internal/apierr"
)

// DecodeDataURI decodes an image sent as base64, the way A1111's
// decode_base64_to_image (modules/api/api.py) does:
//
//   - a value starting with "data:image/" is cut as
//     encoding.split(";")[1].split(",")[1], so "data:image/png;base64,AAAA"
//     gives "AAAA"; a data URI without ';' or ',' is an error;
//   - the rest is decoded like Python's base64.b64decode without validate:
//     characters outside A–Z a–z 0–9 + / are skipped (so URL-safe '-' and
//     '_' are dropped, not translated), decoding stops at complete padding,
//     and missing padding is an error ("Incorrect padding").
//
// The caller strips surrounding whitespace first, as pnginfoapi does. The
// result is not checked to be an image; Read does that. Every error wraps
// ErrInvalidImage.
func DecodeDataURI(s string) ([]byte, error) {
	if strings.HasPrefix(s, "data:image/") {
		parts := strings.Split(s, ";")
		if len(parts) < 2 {
			return nil, apierr.InvalidImage("data uri has no ';'")
		}
		fields := strings.Split(parts[1], ",")
		if len(fields) < 2 {
			return nil, apierr.InvalidImage("data uri has no ','")
		}
		s = fields[1]
	}
	out, err := pyB64Decode(s)
	if err != nil {
		return nil, apierr.InvalidImage("%w", err)
	}
	return out, nil
}

// pyB64Decode follows CPython's binascii.a2b_base64 in non-strict mode.
func pyB64Decode(s string) ([]byte, error) {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			// b64decode encodes the whole str as ASCII first and raises ValueError.
			return nil, fmt.Errorf("base64 input contains non-ascii characters")
		}
	}
	out := make([]byte, 0, len(s)*3/4)
	var quadPos, pads int
	var left byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '=' {
			if quadPos >= 2 {
				pads++
				if quadPos+pads >= 4 {
					return out, nil // complete padding: the rest is ignored
				}
			}
			continue
		}
		v := b64Value(c)
		if v < 0 {
			continue
		}
		pads = 0
		switch quadPos {
		case 0:
			left = byte(v)
			quadPos = 1
		case 1:
			out = append(out, left<<2|byte(v)>>4)
			left = byte(v) & 0x0f
			quadPos = 2
		case 2:
			out = append(out, left<<4|byte(v)>>2)
			left = byte(v) & 0x03
			quadPos = 3
		case 3:
			out = append(out, left<<6|byte(v))
			quadPos = 0
		}
	}
	switch quadPos {
	case 0:
		return out, nil
	case 1:
		return nil, fmt.Errorf("invalid base64: number of data characters is 1 more than a multiple of 4")
	default:
		return nil, fmt.Errorf("invalid base64: incorrect padding")
	}
}

func b64Value(c byte) int {
	switch {
	case c >= 'A' && c <= 'Z':
		return int(c - 'A')
	case c >= 'a' && c <= 'z':
		return int(c-'a') + 26
	case c >= '0' && c <= '9':
		return int(c-'0') + 52
	case c == '+':
		return 62
	case c == '/':
		return 63
	}
	return -1
}
