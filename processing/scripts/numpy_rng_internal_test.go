package scripts

import "testing"

// TestNumpyRNG: np.random.default_rng(0).random(8), as numpy prints it.
func TestNumpyRNG(t *testing.T) {
	want := []float64{0.6369616873214543, 0.2697867137638703, 0.04097352393619469, 0.016527635528529094,
		0.8132702392002724, 0.9127555772777217, 0.6066357757671799, 0.7294965609839984}
	r := newNumpyRNG(0)
	for i, w := range want {
		if got := r.random(); got != w {
			t.Errorf("random() #%d = %.17g, want %.17g", i, got, w)
		}
	}
}
