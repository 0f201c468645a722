package infotext

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/sdapi/sdapi/internal/pyfmt"
)

// Quote is A1111's quote(): the value is returned unchanged unless it
// contains ',', '\n' or ':', in which case it is JSON-encoded the way
// Python's json.dumps(v, ensure_ascii=False) does it.
func Quote(v string) string {
	if !strings.ContainsAny(v, ",\n:") {
		return v
	}
	return pyJSONString(v)
}

// Unquote is A1111's unquote(): a value that starts and ends with '"' is
// decoded as a JSON string; anything else, or a value that fails to decode,
// is returned unchanged.
func Unquote(v string) string {
	if len(v) == 0 || v[0] != '"' || v[len(v)-1] != '"' {
		return v
	}
	var s string
	if err := json.Unmarshal([]byte(v), &s); err != nil {
		return v
	}
	return s
}

// pyJSONString mirrors json.dumps(s, ensure_ascii=False). It is written out
// by hand because encoding/json always escapes U+2028 and U+2029, which
// Python leaves alone.
func pyJSONString(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('"')
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\b':
			b.WriteString(`\b`)
		case r == '\f':
			b.WriteString(`\f`)
		case r < 0x20:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			// Invalid UTF-8 bytes are copied through; a Python str cannot hold them.
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	b.WriteByte('"')
	return b.String()
}

// pyStr renders a value as Python's str() would for the types an infotext
// carries, so that Format output matches A1111 byte for byte.
func pyStr(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case bool:
		if x {
			return "True"
		}
		return "False"
	case int:
		return strconv.Itoa(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case int32:
		return strconv.FormatInt(int64(x), 10)
	case uint64:
		return strconv.FormatUint(x, 10)
	case uint32:
		return strconv.FormatUint(uint64(x), 10)
	case float64:
		return pyfmt.Float(x)
	case float32:
		return pyfmt.Float(float64(x))
	case fmt.Stringer:
		return x.String()
	default:
		return fmt.Sprint(v)
	}
}
