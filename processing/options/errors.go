package options

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/sdapi/sdapi/internal/apierr"
)

var (
	// ErrUnknownKey matches a *KeyError: the option does not exist.
	ErrUnknownKey = errors.New("unknown option")
	// ErrInvalidValue matches a *ValueError: wrong type, null where not
	// allowed, or an unsafe path.
	ErrInvalidValue = errors.New("invalid option value")
	// ErrCorruptConfig is wrapped by New when config.json is not a JSON object.
	ErrCorruptConfig = errors.New("corrupt config file")
	// ErrUnsafePath is returned by ResolvePath for a path that leaves its root.
	ErrUnsafePath = errors.New("path escapes its root")
)

// KeyError reports an unknown option key, as A1111's Options.set raises
// KeyError from data_labels[key]. Its kind is apierr.KindUnknownOption:
// the HTTP layer answers it with a 500 body whose "error" is
// ExceptionName() and whose "errors" is Error().
type KeyError struct {
	Key string
}

var (
	_ error                         = (*KeyError)(nil)
	_ interface{ Unwrap() []error } = (*KeyError)(nil)
)

// Error returns str(KeyError(key)) in Python, which is repr(key).
func (e *KeyError) Error() string { return PyRepr(e.Key) }

// ExceptionName returns the Python exception class name, "KeyError".
func (e *KeyError) ExceptionName() string { return "KeyError" }

// Unwrap makes errors.Is(err, ErrUnknownKey) true and gives the kind.
func (e *KeyError) Unwrap() []error { return []error{ErrUnknownKey, apierr.KindUnknownOption} }

// ValueError reports a value refused for an option. Its kind is
// apierr.KindInvalid: the HTTP layer answers it with a 422 whose loc is
// ["body", Key] and whose type is "type_error." + Want.
type ValueError struct {
	Key  string
	Want string // what the option accepts, e.g. "integer or null"
	Got  string // what was sent, e.g. "string" or "absolute path"
}

var (
	_ error                         = (*ValueError)(nil)
	_ interface{ Unwrap() []error } = (*ValueError)(nil)
)

func (e *ValueError) Error() string {
	return fmt.Sprintf("option %q: want %s, got %s", e.Key, e.Want, e.Got)
}

// Unwrap makes errors.Is(err, ErrInvalidValue) true and gives the kind.
func (e *ValueError) Unwrap() []error { return []error{ErrInvalidValue, apierr.KindInvalid} }

// PyRepr quotes s the way Python's repr(str) does, so KeyError messages match
// A1111 byte for byte: single quotes unless s holds a ' and no ".
func PyRepr(s string) string {
	q := byte('\'')
	if strings.ContainsRune(s, '\'') && !strings.ContainsRune(s, '"') {
		q = '"'
	}
	var b strings.Builder
	b.WriteByte(q)
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			// Python strings cannot hold invalid UTF-8; show the byte.
			fmt.Fprintf(&b, `\x%02x`, s[i])
			i++
			continue
		}
		i += n
		switch {
		case r == rune(q) || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case unicode.IsPrint(r):
			b.WriteRune(r)
		case r < 0x100:
			fmt.Fprintf(&b, `\x%02x`, r)
		case r < 0x10000:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			fmt.Fprintf(&b, `\U%08x`, r)
		}
	}
	b.WriteByte(q)
	return b.String()
}
