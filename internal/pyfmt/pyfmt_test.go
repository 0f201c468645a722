package pyfmt

import (
	"math"
	"testing"
)

// Want values are Python 3's repr() of the same float.
func TestFloat(t *testing.T) {
	for _, c := range []struct {
		in   float64
		want string
	}{
		{0, "0.0"}, {math.Copysign(0, -1), "-0.0"}, {7, "7.0"}, {7.5, "7.5"}, {-2, "-2.0"},
		{0.1, "0.1"}, {1e-4, "0.0001"}, {1e-5, "1e-05"}, {1.5e-5, "1.5e-05"},
		{1e15, "1000000000000000.0"}, {1e16, "1e+16"}, {1.5e16, "1.5e+16"}, {123456789.125, "123456789.125"},
		{1.0 / 3, "0.3333333333333333"}, {123456789012345680, "1.2345678901234568e+17"},
		{123456789012345.6, "123456789012345.6"}, {1.5e-7, "1.5e-07"}, {9999999999999998, "9999999999999998.0"},
		{math.MaxFloat64, "1.7976931348623157e+308"}, {math.NaN(), "nan"}, {math.Inf(1), "inf"}, {math.Inf(-1), "-inf"},
	} {
		if got := Float(c.in); got != c.want {
			t.Errorf("Float(%v) = %q, want %q", c.in, got, c.want)
		}
	}
}
