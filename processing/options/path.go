package options

import (
	"fmt"
	"path/filepath"
	"strings"
)

// unsafePath returns why s may not be stored in a path option, or "" if it
// may. Options must never point outside the server's data and output
// directories, so absolute paths (in Unix or Windows form, whatever the host)
// and ".." segments are refused even where they would resolve inside.
// The empty string is allowed: A1111 uses "" for "the default directory".
func unsafePath(s string) string {
	if s == "" {
		return ""
	}
	if strings.ContainsRune(s, 0) {
		return "path with a NUL byte"
	}
	if s[0] == '/' || s[0] == '\\' || filepath.IsAbs(s) || hasDriveLetter(s) {
		return "absolute path"
	}
	for seg := range strings.FieldsFuncSeq(s, func(r rune) bool { return r == '/' || r == '\\' }) {
		if seg == ".." {
			return "path with '..'"
		}
	}
	if !filepath.IsLocal(s) {
		return "non-local path"
	}
	return ""
}

func hasDriveLetter(s string) bool {
	if len(s) < 2 || s[1] != ':' {
		return false
	}
	c := s[0] | 0x20
	return c >= 'a' && c <= 'z'
}

// ResolvePath joins a path option's value onto root and checks that the
// result stays inside root. An empty value resolves to root itself. The
// check is lexical: a symlink inside root can still lead out of it, so code
// that opens the result should go through os.OpenRoot(root) as well.
func ResolvePath(root, value string) (string, error) {
	if reason := unsafePath(value); reason != "" {
		return "", fmt.Errorf("options: resolve %q: %s: %w", value, reason, ErrUnsafePath)
	}
	if value == "" {
		return filepath.Clean(root), nil
	}
	return filepath.Join(root, filepath.FromSlash(value)), nil
}
