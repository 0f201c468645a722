package options

import (
	"errors"
	"reflect"
	"testing"
)

// Ensure overrides apply for the job, are never saved, and restore puts the
// previous values back, including options that were unset before.
func TestOverrideRestore(t *testing.T) {
	file := configPath(t, `{"steps": 25, "samples_format": "jpg"}`)
	s := mustNew(t, file)
	before := readConfig(t, file)

	restore, err := s.Override(map[string]any{"steps": 50.0, "cfg_scale": 3.0, "samples_format": "jpg", "api_restricted": "no"})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := s.Int("steps"), 50; got != want {
		t.Errorf("steps during job = %d, want %d", got, want)
	}
	if got, want := s.Float("cfg_scale"), 3.0; got != want {
		t.Errorf("cfg_scale during job = %v, want %v", got, want)
	}
	if got, want := s.String("api_restricted"), "x"; got != want {
		t.Errorf("restricted option overridden: %q, want %q", got, want)
	}
	// A save while the override is in effect (another client's POST, or an
	// explicit Save) must not write it.
	if err := s.Save(); err != nil {
		t.Fatal(err)
	}
	if got := readConfig(t, file); !reflect.DeepEqual(got, before) {
		t.Errorf("config.json during job = %v, want %v", got, before)
	}

	restore()
	restore() // idempotent
	for k, want := range map[string]any{"steps": 25.0, "cfg_scale": 7.0, "samples_format": "jpg"} {
		if got, _ := s.Get(k); got != want {
			t.Errorf("after restore Get(%s) = %v, want %v", k, got, want)
		}
	}
	// cfg_scale was unset before: restore unsets it again, rather than
	// leaving the override in opts.data as A1111's stored_opts would.
	if err := s.Save(); err != nil {
		t.Fatal(err)
	}
	if got := readConfig(t, file); !reflect.DeepEqual(got, before) {
		t.Errorf("config.json after restore = %v, want %v", got, before)
	}
}

// Ensure restore runs when a job fails or panics after its overrides.
func TestOverrideRestoreAfterFailure(t *testing.T) {
	s := mustNew(t, "")
	errJob := errors.New("sampler failed")
	job := func(fail func()) (err error) {
		restore, err := s.Override(map[string]any{"steps": 2.0})
		if err != nil {
			return err
		}
		defer restore()
		fail()
		return errJob
	}
	cases := []struct {
		name string
		fail func()
	}{
		{"error", func() {}},
		{"panic", func() { panic("cuda") }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			func() {
				defer func() { recover() }()
				if err := job(tc.fail); !errors.Is(err, errJob) {
					t.Errorf("job err = %v, want %v", err, errJob)
				}
			}()
			if got, want := s.Int("steps"), 20; got != want {
				t.Errorf("steps after failed job = %d, want %d", got, want)
			}
		})
	}
}

// Ensure a refused override applies nothing and returns a usable restore.
func TestOverrideRefused(t *testing.T) {
	cases := []struct {
		name    string
		req     map[string]any
		wantErr error
	}{
		{"unknown key", map[string]any{"steps": 3.0, "bogus": 1.0}, ErrUnknownKey},
		{"wrong type", map[string]any{"steps": 3.0, "cfg_scale": "x"}, ErrInvalidValue},
		{"unsafe path", map[string]any{"steps": 3.0, "outdir_samples": "/tmp"}, ErrInvalidValue},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := mustNew(t, "")
			restore, err := s.Override(tc.req)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			restore()
			if got := s.Int("steps"); got != 20 {
				t.Errorf("steps = %d after refused override, want 20", got)
			}
		})
	}
	s := mustNew(t, "")
	if _, err := s.Override(map[string]any{"bogus": nil}); err != nil {
		t.Errorf("unknown key with null: err = %v, want a no-op", err)
	}
}

// Ensure a POST /options during a job is kept and saved, not undone by the
// job's restore.
func TestOverrideThenSetFromAPI(t *testing.T) {
	file := configPath(t, "")
	s := mustNew(t, file)
	restore, err := s.Override(map[string]any{"steps": 50.0, "cfg_scale": 2.0})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SetFromAPI(t.Context(), map[string]any{"steps": 30.0}); err != nil {
		t.Fatal(err)
	}
	if got, want := readConfig(t, file), map[string]any{"steps": 30.0}; !reflect.DeepEqual(got, want) {
		t.Errorf("config.json = %v, want %v", got, want)
	}
	restore()
	if got, want := s.Int("steps"), 30; got != want {
		t.Errorf("steps after restore = %d, want %d", got, want)
	}
	if got, want := s.Float("cfg_scale"), 7.0; got != want {
		t.Errorf("cfg_scale after restore = %v, want %v", got, want)
	}
}

// Ensure nested overrides of one key unwind in order.
func TestOverrideNested(t *testing.T) {
	s := mustNew(t, "")
	outer, err := s.Override(map[string]any{"steps": 40.0})
	if err != nil {
		t.Fatal(err)
	}
	inner, err := s.Override(map[string]any{"steps": 60.0})
	if err != nil {
		t.Fatal(err)
	}
	inner()
	if got, want := s.Int("steps"), 40; got != want {
		t.Errorf("after inner restore steps = %d, want %d", got, want)
	}
	outer()
	if got, want := s.Int("steps"), 20; got != want {
		t.Errorf("after outer restore steps = %d, want %d", got, want)
	}
}
