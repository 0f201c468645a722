package server

import (
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
)

// absPath matches an absolute file path inside an error message: a "/"
// that does not continue a word or a path ("a/b", "~/x", "../x"), and what
// follows up to the next delimiter. A file:// URL is matched from its
// path.
var absPath = regexp.MustCompile(`(^|[^\w./~-])(/[^` + regexp.QuoteMeta(pathDelims) + `]+)`)

// pathTail is the rest of a path after a private directory's prefix.
var pathTail = regexp.MustCompile(`^[^` + regexp.QuoteMeta(pathDelims) + `]*`)

// redactor cuts the server's directories out of the messages clients see,
// so that an error names the file ("model.onnx") but nothing of where the
// server keeps it. Errors the server passes on to clients (model,
// not-found and invalid-request messages) go through it; everything else
// is answered as "internal server error" and only logged.
type redactor struct {
	// dirs are the configured directories, absolute and cleaned, longest
	// first: matched literally, so a path with spaces is found whole.
	dirs []string
}

// newRedactor keeps the absolute directories of dirs; the server cannot
// resolve relative ones (cmd/sdapi-server passes them absolute).
func newRedactor(dirs []string) redactor {
	var r redactor
	for _, d := range dirs {
		if d = filepath.Clean(d); filepath.IsAbs(d) && d != "/" && !slices.Contains(r.dirs, d) {
			r.dirs = append(r.dirs, d)
		}
	}
	slices.SortFunc(r.dirs, func(a, b string) int { return len(b) - len(a) })
	return r
}

// paths replaces every path under a configured directory, then every
// other absolute path, by its last element.
func (r redactor) paths(msg string) string {
	for _, d := range r.dirs {
		msg = replaceUnder(msg, d)
	}
	return absPath.ReplaceAllStringFunc(msg, func(m string) string {
		sub := absPath.FindStringSubmatch(m)
		if strings.HasPrefix(sub[2], "//") && !strings.HasPrefix(sub[2], "///") {
			return m // a URL's //host/path: the client's, not the server's
		}
		return sub[1] + path.Base(sub[2])
	})
}

// replaceUnder replaces each occurrence of dir that stands as a whole path
// (not inside a longer name such as /data in /database or /mnt/data) by
// the last element of the path it starts.
func replaceUnder(msg, dir string) string {
	var b strings.Builder
	for {
		i := strings.Index(msg, dir)
		if i < 0 {
			return b.String() + msg
		}
		before, rest := msg[:i], msg[i+len(dir):]
		whole := startsPath(before) && (rest == "" || rest[0] == '/' || !isPathChar(rest[0]))
		if !whole {
			// Left to absPath, which sees the longer path whole.
			b.WriteString(msg[:i+len(dir)])
			msg = rest
			continue
		}
		tail := pathTail.FindString(rest)
		b.WriteString(before + path.Base(dir+tail))
		msg = rest[len(tail):]
	}
}

// startsPath reports whether a path may start after before: as absPath's
// prefix ("=", ":", a space, a bracket...), or after file://.
func startsPath(before string) bool {
	if before == "" || strings.HasSuffix(before, "file://") {
		return true
	}
	c := before[len(before)-1]
	return !(c == '_' || c == '.' || c == '/' || c == '~' || c == '-' ||
		'0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z')
}

// isPathChar reports whether c may continue a path that absPath matches.
func isPathChar(c byte) bool { return !strings.ContainsRune(pathDelims, rune(c)) }

// pathDelims end a path in a message.
const pathDelims = " \t\n\v\f\r\"'()[]{},;`<>"
