package half

import (
	"math"
	"testing"
)

func TestBitsAndBack(t *testing.T) {
	tests := []struct {
		f    float32
		bits uint16
	}{
		{0, 0x0000},
		{float32(math.Copysign(0, -1)), 0x8000},
		{1, 0x3c00},
		{-2, 0xc000},
		{0.5, 0x3800},
		{65504, 0x7bff}, // largest finite
		{1e6, 0x7c00},   // overflow → +Inf
		{float32(math.Inf(-1)), 0xfc00},
		{5.960464477539063e-08, 0x0001}, // smallest subnormal
		{6.097555160522461e-05, 0x03ff}, // largest subnormal
		{1.0009765625, 0x3c01},          // 1 + 2^-10
		{1.00048828125, 0x3c00},         // halfway, ties to even (down)
		{1.00146484375, 0x3c02},         // halfway, ties to even (up)
		{1e-9, 0x0000},                  // underflow → 0
		{0.1, 0x2e66},
		{6.103515625e-05, 0x0400}, // smallest normal
		{0.33325195, 0x3555},
	}
	for _, tt := range tests {
		if got := Bits(tt.f); got != tt.bits {
			t.Errorf("Bits(%g) = %#04x, want %#04x", tt.f, got, tt.bits)
		}
	}
	for h := range 1 << 16 {
		f := Float32(uint16(h))
		if f != f { // NaN keeps a NaN pattern
			if Bits(f)&0x7c00 != 0x7c00 || Bits(f)&0x3ff == 0 {
				t.Fatalf("NaN %#04x round-trips to %#04x", h, Bits(f))
			}
			continue
		}
		if got := Bits(f); got != uint16(h) {
			t.Fatalf("Bits(Float32(%#04x)) = %#04x", h, got)
		}
	}
}
