// Package pyfmt writes numbers as Python writes them, for the places where
// A1111's text reaches a client: infotext, info JSON, response bodies and
// pydantic's str coercion. One formatter, so that all of them agree.
package pyfmt

import (
	"math"
	"strconv"
	"strings"
)

// Float is Python's repr(float) (and str(float) since Python 3): the
// shortest digits that round-trip, positional for 1e-4 <= |f| < 1e16 with
// ".0" when integral, else scientific with a signed two-digit exponent
// ("1e-05", "1.5e+16"); "nan", "inf" and "-inf" for the rest.
func Float(f float64) string {
	switch {
	case math.IsNaN(f):
		return "nan"
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	}
	if abs := math.Abs(f); f == 0 || (abs >= 1e-4 && abs < 1e16) {
		s := strconv.FormatFloat(f, 'f', -1, 64)
		if !strings.Contains(s, ".") {
			s += ".0"
		}
		return s
	}
	// Go's 'e' format already keeps at least two exponent digits, as Python.
	return strconv.FormatFloat(f, 'e', -1, 64)
}
