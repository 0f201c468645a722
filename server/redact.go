package server

import (
	"path"
	"regexp"
)

// absPath matches an absolute file path inside an error message: a "/"
// at the start or after a space, quote, bracket, "=" or ":", and what
// follows up to the next such delimiter.
var absPath = regexp.MustCompile(`(^|[\s"'(\[=:])(/[^\s"'()\[\],;]+)`)

// redactPaths replaces every absolute path in msg by its last element, so
// an error that reaches a client names the file ("model.onnx") but says
// nothing about the server's directories. Errors the server passes on to
// clients (model, not-found and invalid-request messages) go through it;
// everything else is answered as "internal server error" and only logged.
func redactPaths(msg string) string {
	return absPath.ReplaceAllStringFunc(msg, func(m string) string {
		sub := absPath.FindStringSubmatch(m)
		return sub[1] + path.Base(sub[2])
	})
}
