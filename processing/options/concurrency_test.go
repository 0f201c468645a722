package options

import (
	"fmt"
	"sync"
	"testing"
)

// Ensure concurrent sets, overrides and reads are race-free (run with -race)
// and that every reader sees a consistent value.
func TestConcurrentUse(t *testing.T) {
	file := configPath(t, "")
	s := mustNew(t, file)
	const workers, rounds = 8, 50
	var wg sync.WaitGroup
	errs := make(chan error, workers*rounds*3)
	for w := range workers {
		wg.Add(3)
		go func() {
			defer wg.Done()
			for i := range rounds {
				if err := s.SetFromAPI(t.Context(), map[string]any{"steps": float64(w*rounds + i)}); err != nil {
					errs <- err
				}
			}
		}()
		go func() {
			defer wg.Done()
			for range rounds {
				all := s.All()
				if _, ok := all["steps"].(float64); !ok {
					errs <- fmt.Errorf("steps = %#v, want a number", all["steps"])
				}
				s.Entries()
			}
		}()
		go func() {
			defer wg.Done()
			for range rounds {
				restore, err := s.Override(map[string]any{"cfg_scale": float64(w)})
				if err != nil {
					errs <- err
					continue
				}
				s.Float("cfg_scale")
				restore()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if _, ok := readConfig(t, file)["cfg_scale"]; ok {
		t.Error("an override reached config.json")
	}
	// The first override of a key owns its record and restores the base;
	// nested ones restore only while that record is live. So once every
	// restore has run, the default is back whatever the interleaving.
	if got, want := s.Float("cfg_scale"), 7.0; got != want {
		t.Errorf("cfg_scale after all restores = %v, want %v", got, want)
	}
}
