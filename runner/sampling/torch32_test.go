package sampling

import (
	"hash/fnv"
	"math"
	"strconv"
	"strings"
	"testing"
)

// Golden values from torch 1.13.1 (Debian python3-torch, AVX2 kernels) running
// ldm's register_schedule (float64 linspace and cumprod, float32 buffer),
// k-diffusion's DiscreteEpsDDPMDenoiser (sigmas, log_sigmas) and
// get_sigmas_karras / get_sigmas_exponential / get_sigmas_polyexponential /
// DiscreteSchedule.get_sigmas for SD 1.x, as float32 bit patterns.

// hash32 is FNV-1a over the little-endian float32 bits of vs.
func hash32(vs []float64) uint64 {
	h := fnv.New64a()
	for _, v := range vs {
		b := math.Float32bits(float32(v))
		h.Write([]byte{byte(b), byte(b >> 8), byte(b >> 16), byte(b >> 24)})
	}
	return h.Sum64()
}

func bits32(t *testing.T, hexes string) []uint32 {
	t.Helper()
	var out []uint32
	for _, h := range strings.Fields(hexes) {
		u, err := strconv.ParseUint(h, 16, 32)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, uint32(u))
	}
	return out
}

func checkBits(t *testing.T, name string, got []float64, want []uint32) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", name, len(got), len(want))
	}
	for i, w := range want {
		g := float32(got[i])
		if float64(g) != got[i] || math.Float32bits(g) != w {
			t.Errorf("%s[%d] = %v (%08x), torch gives %v (%08x)", name, i, got[i], math.Float32bits(g), math.Float32frombits(w), w)
		}
	}
}

func TestSD1ScheduleMatchesTorchBits(t *testing.T) {
	s := SD1()
	for _, tc := range []struct {
		name string
		vals []float64
		hash uint64
	}{
		{"alphas_cumprod", s.AlphasCumprod, 0xf90daf1c57282768},
		{"sigmas", s.Sigmas, 0x193871d1c828c457},
		{"log_sigmas", s.logSigmas, 0xd2a3feeb37a929ee},
	} {
		if h := hash32(tc.vals); h != tc.hash {
			t.Errorf("%s: FNV-1a of the 1000 float32 values %#x, torch's %#x", tc.name, h, tc.hash)
		}
	}
	idx := []int{0, 1, 19, 251, 500, 501, 751, 999}
	pick := func(vs []float64) []float64 {
		out := make([]float64, len(idx))
		for i, j := range idx {
			out[i] = vs[j]
		}
		return out
	}
	checkBits(t, "alphas_cumprod", pick(s.AlphasCumprod), bits32(t, "3f7fc84b 3f7f9054 3f7b7458 3f2c121e 3e8d7b7a 3e8cccad 3d6439a3 3b98b3bd"))
	checkBits(t, "sigmas", pick(s.Sigmas), bits32(t, "3ceef0c0 3d29395f 3e09ad6a 3f32ca38 3fcf23c3 3fcfd525 4083bbfa 4169d593"))
	// sigmas[0].item() and sigmas[-1].item(), what A1111 hands the schedulers.
	if s.SigmaMin() != 0.029167532920837402 || s.SigmaMax() != 14.614642143249512 {
		t.Errorf("σmin %v σmax %v, want 0.029167532920837402 and 14.614642143249512", s.SigmaMin(), s.SigmaMax())
	}
}

func TestSchedulersMatchTorchBits(t *testing.T) {
	s := SD1()
	get := func(name string) *Scheduler { sc, _ := FindScheduler(name); return sc }
	poly := func(n int, rho float64) []float64 {
		return polyexponentialSigmas(n, s, sigmaArgs{sigmaMin: s.SigmaMin(), sigmaMax: s.SigmaMax(), rho: rho})
	}
	tests := []struct {
		name string
		got  []float64
		want string
	}{
		{"karras 4", get("karras").Sigmas(4, s), "4169d594 404aca7f 3ee4d2d7 3ceef0c3 00000000"},
		{"exponential 4", get("exponential").Sigmas(4, s), "4169d594 3feb862b 3e6d39e5 3ceef0c2 00000000"},
		{"uniform 4", get("uniform").Sigmas(4, s), "4169d594 403ac58b 3f6eaf03 3ceef0c2 00000000"},
		{"karras 20", get("karras").Sigmas(20, s), "4169d594 413b9b1c 4115717e 40ec46ad 40b942f0 408ffeb8 405dbe8a 402903a2 3ffed67e 3fbdda0d 3f8b9f07 3f4a7baa 3f1091cb 3ecaf3ee 3e8bcbde 3e3c96e5 3df88265 3d9f757d 3d4694f5 3ceef0c3 00000000"},
		{"exponential 20", get("exponential").Sigmas(20, s), "4169d594 412894c2 40f31315 40af3e23 407cae0b 40362aeb 40035517 3fbd5dbe 3f8885aa 3f44d965 3f0deabd 3ecca0bf 3e938663 3e54b6ca 3e195ac4 3ddd1e9f 3d9f6a1e 3d65db7c 3d25b6c5 3ceef0c2 00000000"},
		{"uniform 20", get("uniform").Sigmas(20, s), "4169d594 412bf2e4 41014de7 40c68ed4 409b6181 4077625c 4047ebb5 4023a89d 400766ef 3fe1e5b2 3fbd83aa 3f9f76ce 3f862984 3f60e0aa 3f3aced7 3f18afde 3ef279b4 3eb60a0e 3e6dbc76 3ceef0c2 00000000"},
		{"uniform 33", get("uniform").Sigmas(33, s), "4169d594 414247a2 4122bafa 41095ef0 40e9a9d6 40c82502 40ac97a2 4095c788 4082c12d 40658d0d 404a84e3 40337e34 401fbdec 400eaea1 3fffb0b9 3fe5b484 3fcecb56 3fba74d7 3fa847aa 3f97ecc3 3f891bbe 3f772fbf 3f5e5b61 3f4761d7 3f31f552 3f1dcf5e 3f0aacd4 3ef0913a 3ecca5aa 3ea8bda7 3e83658b 3e322c7e 3ceef0c2 00000000"},
		{"karras 33", get("karras").Sigmas(33, s), "4169d594 414d56f3 4133dfe8 411d2a79 4108f5d2 40ee0bf5 40ce4721 40b236e3 40997d4a 4083c3cd 40617648 40403562 40234032 400a1daf 3fe8bf70 3fc344a5 3fa315df 3f878f80 3f603c3a 3f387a6e 3f16ec47 3ef57b91 3ec66474 3e9f446e 3e7de710 3e48da87 3e1d9a7d 3df53091 3dbcf34a 3d9026b5 3d5990f6 3d22428e 3ceef0c3 00000000"},
		{"polyexponential 4", poly(4, 1), "4169d594 3feb8627 3e6d39e5 3ceef0c2 00000000"},
		{"polyexponential 20", poly(20, 1), "4169d594 412894c4 40f31315 40af3e23 407cae07 40362aeb 40035516 3fbd5dbe 3f8885aa 3f44d966 3f0deabc 3ecca0be 3e938663 3e54b6c8 3e195ac4 3ddd1e9f 3d9f6a1e 3d65db7c 3d25b6c5 3ceef0c2 00000000"},
		{"polyexponential 4 rho 2.5", poly(4, 2.5), "4169d594 3e8e8941 3d3203f3 3ceef0c2 00000000"},
		{"polyexponential 20 rho 2.5", poly(20, 2.5), "4169d594 40d51a4e 404ecea6 3fd556aa 3f6982d8 3f075796 3ea5d439 3e565492 3e11cd3a 3dd05b4a 3d9c03aa 3d74421e 3d47630a 3d294322 3d14fefd 3d079201 3cfe1e4f 3cf45730 3cefe2e7 3ceef0c2 00000000"},
	}
	for _, tc := range tests {
		checkBits(t, tc.name, tc.got, bits32(t, tc.want))
	}
}

// torch.linspace's CPU kernel (AVX2 build): fused scalar formula from each
// end, 8-lane arange blocks for long tensors.
func TestTorchLinspace32(t *testing.T) {
	tests := []struct {
		a, b float32
		n    int
		want string
	}{
		{0, 1, 4, "00000000 3eaaaaab 3f2aaaaa 3f800000"},
		{0, 1, 10, "00000000 3de38e39 3e638e39 3eaaaaab 3ee38e39 3f0e38e4 3f2aaaab 3f471c72 3f638e39 3f800000"},
		{999, 0, 4, "4479c000 44268000 43a68000 00000000"},
	}
	for _, tc := range tests {
		got := torchLinspace32(tc.a, tc.b, tc.n)
		g64 := make([]float64, len(got))
		for i, v := range got {
			g64[i] = float64(v)
		}
		checkBits(t, "linspace", g64, bits32(t, tc.want))
	}
	if got := torchLinspace32(3, 5, 1); len(got) != 1 || got[0] != 3 {
		t.Errorf("linspace n=1: %v", got)
	}
}

// DiscreteSchedule.sigma_to_t (k-diffusion ab527a9, quantize=False) on
// float32 sigmas, as torch 1.13 evaluates it: the UNet timesteps A1111 feeds.
func TestSigmaToTMatchesTorchBits(t *testing.T) {
	s := SD1()
	sigmas := bits32(t, "4169d593 41200000 40e9999a 404aca58 3f800000 3f000000 3e4ccccd 3d4ccccd 3ceef0c0 3ca3d70a 41a00000")
	var got []float64
	for _, b := range sigmas {
		got = append(got, s.SigmaToT(float64(math.Float32frombits(b))))
	}
	checkBits(t, "sigma_to_t", got, bits32(t, "4479c000 4469606f 445a8494 442bc9c3 43b0f1f9 43295094 42216218 3ff78840 00000000 00000000 4479c000"))
}
