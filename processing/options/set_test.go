package options

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"
)

// Ensure POST /options follows A1111's Options.set rules, and that a
// refused request changes neither memory nor config.json.
func TestSetFromAPI(t *testing.T) {
	cases := []struct {
		name    string
		file    string // initial config.json, "" for none
		req     map[string]any
		wantErr error
		want    map[string]any // expected Get values afterwards
		saved   map[string]any // expected config.json afterwards (nil: no file)
	}{
		{
			name:  "types accepted",
			req:   map[string]any{"send_seed": false, "cfg_scale": 4.5, "steps": 30.0, "samples_format": "jpg", "quicksettings_list": []any{}, "extra_map": map[string]any{"k": "v"}, "anything": []any{1.0}},
			want:  map[string]any{"send_seed": false, "steps": 30.0, "extra_map": map[string]any{"k": "v"}},
			saved: map[string]any{"send_seed": false, "cfg_scale": 4.5, "steps": 30.0, "samples_format": "jpg", "quicksettings_list": []any{}, "extra_map": map[string]any{"k": "v"}, "anything": []any{1.0}},
		},
		{
			name:  "null for nullable and any",
			file:  `{"sd_model_checkpoint": "a.safetensors", "anything": 3}`,
			req:   map[string]any{"sd_model_checkpoint": nil, "anything": nil},
			want:  map[string]any{"sd_model_checkpoint": nil, "anything": nil},
			saved: map[string]any{"sd_model_checkpoint": nil, "anything": nil},
		},
		{
			name:    "unknown key",
			req:     map[string]any{"no_such_option": 1.0, "steps": 5.0},
			wantErr: ErrUnknownKey,
			want:    map[string]any{"steps": 20.0},
		},
		{
			name:  "unknown key with null is a no-op",
			req:   map[string]any{"no_such_option": nil},
			want:  map[string]any{"steps": 20.0},
			saved: map[string]any{}, // set_config saves even when nothing changed
		},
		{
			name:  "file-only key with its current value is a no-op",
			file:  `{"ext_opt": [1, "a"]}`,
			req:   map[string]any{"ext_opt": []any{1.0, "a"}},
			want:  map[string]any{"ext_opt": []any{1.0, "a"}},
			saved: map[string]any{"ext_opt": []any{1.0, "a"}},
		},
		{
			name:    "file-only key cannot be changed",
			file:    `{"ext_opt": 1}`,
			req:     map[string]any{"ext_opt": 2.0},
			wantErr: ErrUnknownKey,
			want:    map[string]any{"ext_opt": 1.0},
			saved:   map[string]any{"ext_opt": 1.0},
		},
		{
			name:  "python equality: true == 1",
			file:  `{"ext_opt": 1}`,
			req:   map[string]any{"ext_opt": true},
			want:  map[string]any{"ext_opt": 1.0},
			saved: map[string]any{"ext_opt": 1.0},
		},
		{
			name:  "restricted and do-not-save ignored",
			req:   map[string]any{"api_restricted": "changed", "info_html": "changed", "steps": 9.0},
			want:  map[string]any{"api_restricted": "x", "info_html": "<b>hi</b>", "steps": 9.0},
			saved: map[string]any{"steps": 9.0},
		},
		{
			name:  "restricted key with wrong type still ignored",
			req:   map[string]any{"api_restricted": 5.0},
			want:  map[string]any{"api_restricted": "x"},
			saved: map[string]any{},
		},
		{
			name:    "one good, one bad: nothing applied",
			file:    `{"steps": 25}`,
			req:     map[string]any{"samples_format": "webp", "steps": "thirty"},
			wantErr: ErrInvalidValue,
			want:    map[string]any{"samples_format": "png", "steps": 25.0},
			saved:   map[string]any{"steps": 25.0},
		},
		{name: "bool for number", req: map[string]any{"cfg_scale": true}, wantErr: ErrInvalidValue, want: map[string]any{"cfg_scale": 7.0}},
		{name: "fraction for integer", req: map[string]any{"steps": 2.5}, wantErr: ErrInvalidValue, want: map[string]any{"steps": 20.0}},
		{name: "null for non-nullable", file: `{"samples_format": "jpg"}`, req: map[string]any{"samples_format": nil}, wantErr: ErrInvalidValue, want: map[string]any{"samples_format": "jpg"}},
		{
			// data.get(key, None) == None: an unset option compares equal to
			// null before any type check, exactly as in A1111.
			name:  "null for unset non-nullable is a no-op",
			req:   map[string]any{"samples_format": nil},
			want:  map[string]any{"samples_format": "png"},
			saved: map[string]any{},
		},
		{name: "string for array", req: map[string]any{"quicksettings_list": "a,b"}, wantErr: ErrInvalidValue},
		{name: "array for object", req: map[string]any{"extra_map": []any{}}, wantErr: ErrInvalidValue},
		{name: "path with dotdot", req: map[string]any{"outdir_samples": "../x"}, wantErr: ErrInvalidValue, want: map[string]any{"outdir_samples": ""}},
		{name: "absolute path", req: map[string]any{"outdir_samples": "/etc"}, wantErr: ErrInvalidValue},
		{name: "windows absolute path", req: map[string]any{"outdir_samples": `C:\Windows`}, wantErr: ErrInvalidValue},
		{name: "inner dotdot", req: map[string]any{"outdir_samples": `out\..\..\x`}, wantErr: ErrInvalidValue},
		{
			name:  "relative path accepted",
			req:   map[string]any{"outdir_samples": "outputs/txt2img"},
			want:  map[string]any{"outdir_samples": "outputs/txt2img"},
			saved: map[string]any{"outdir_samples": "outputs/txt2img"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			file := configPath(t, tc.file)
			s := mustNew(t, file)
			before := readConfig(t, file)
			err := s.SetFromAPI(t.Context(), tc.req)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("SetFromAPI err = %v, want %v", err, tc.wantErr)
			}
			for k, want := range tc.want {
				if got, _ := s.Get(k); !reflect.DeepEqual(got, want) {
					t.Errorf("Get(%s) = %#v, want %#v", k, got, want)
				}
			}
			got := readConfig(t, file)
			if tc.wantErr != nil {
				if !reflect.DeepEqual(got, before) {
					t.Errorf("config.json changed on error: %v, was %v", got, before)
				}
				return
			}
			if !reflect.DeepEqual(got, tc.saved) {
				t.Errorf("config.json = %#v, want %#v", got, tc.saved)
			}
		})
	}
}

// Ensure an unknown key gives A1111's KeyError: class name and str(e).
func TestKeyError(t *testing.T) {
	cases := []struct{ key, want string }{
		{"no_such_option", `'no_such_option'`},
		{"it's", `"it's"`},
		{`a'b"c`, `'a\'b"c'`},
		{"tab\there", `'tab\there'`},
		{`back\slash`, `'back\\slash'`},
		{"ünï", `'ünï'`},
		{"bell\x07", `'bell\x07'`},
	}
	for _, tc := range cases {
		s := mustNew(t, "")
		err := s.SetFromAPI(t.Context(), map[string]any{tc.key: 1.0})
		var ke *KeyError
		if !errors.As(err, &ke) || !errors.Is(err, ErrUnknownKey) {
			t.Fatalf("key %q: err = %v, want *KeyError", tc.key, err)
		}
		if got := err.Error(); got != tc.want {
			t.Errorf("key %q: str(e) = %s, want %s", tc.key, got, tc.want)
		}
		if got, want := ke.ExceptionName(), "KeyError"; got != want {
			t.Errorf("ExceptionName() = %q, want %q", got, want)
		}
	}
}

// Ensure a *ValueError carries what the HTTP layer needs for a 422.
func TestValueErrorFields(t *testing.T) {
	s := mustNew(t, "")
	err := s.SetFromAPI(t.Context(), map[string]any{"steps": "ten"})
	var ve *ValueError
	if !errors.As(err, &ve) {
		t.Fatalf("err = %v, want *ValueError", err)
	}
	if got, want := *ve, (ValueError{Key: "steps", Want: "integer", Got: "string"}); got != want {
		t.Errorf("ValueError = %+v, want %+v", got, want)
	}
}

// Ensure a value set through the API survives a restart, with file-only
// keys preserved and do-not-save keys never written.
func TestSetSurvivesRestart(t *testing.T) {
	file := configPath(t, `{"ext_opt": {"x": 1}}`)
	s := mustNew(t, file)
	req := map[string]any{"send_seed": false, "sd_model_checkpoint": "m.safetensors", "info_html": "no"}
	if err := s.SetFromAPI(t.Context(), req); err != nil {
		t.Fatal(err)
	}
	s2 := mustNew(t, file)
	for k, want := range map[string]any{"send_seed": false, "sd_model_checkpoint": "m.safetensors", "ext_opt": map[string]any{"x": 1.0}, "steps": 20.0, "info_html": "<b>hi</b>"} {
		if got, _ := s2.Get(k); !reflect.DeepEqual(got, want) {
			t.Errorf("after restart Get(%s) = %#v, want %#v", k, got, want)
		}
	}
	saved := readConfig(t, file)
	if _, ok := saved["info_html"]; ok {
		t.Error("do_not_save key written to config.json")
	}
	if _, ok := saved["steps"]; ok {
		t.Error("untouched default written to config.json")
	}
}

// Ensure validators see the request first and their refusal changes nothing.
func TestValidatorRefusal(t *testing.T) {
	known := map[string]bool{"v1-5.safetensors": true}
	checkpoint := func(key string, v any) error {
		name, ok := v.(string)
		if key != "sd_model_checkpoint" || !ok || known[name] {
			return nil
		}
		return fmt.Errorf("model %s not found", PyRepr(name))
	}
	file := configPath(t, "")
	s := mustNew(t, file, checkpoint)
	err := s.SetFromAPI(t.Context(), map[string]any{"sd_model_checkpoint": "x", "steps": 3.0, "zzz_unknown": 1.0})
	if err == nil || err.Error() != `options: "sd_model_checkpoint": model 'x' not found` {
		t.Fatalf("err = %v, want the validator's refusal", err)
	}
	if got := s.Int("steps"); got != 20 {
		t.Errorf("steps = %d after refused request, want 20", got)
	}
	if readConfig(t, file) != nil {
		t.Error("config.json written after refused request")
	}
	if err := s.SetFromAPI(t.Context(), map[string]any{"sd_model_checkpoint": "v1-5.safetensors"}); err != nil {
		t.Errorf("known checkpoint refused: %v", err)
	}
}

// Ensure a cancelled request does nothing.
func TestSetFromAPICancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	s := mustNew(t, "")
	if err := s.SetFromAPI(ctx, map[string]any{"steps": 1.0}); !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
	if got := s.Int("steps"); got != 20 {
		t.Errorf("steps = %d, want 20", got)
	}
}

// Ensure a failed save leaves memory untouched.
func TestSetFromAPISaveFailure(t *testing.T) {
	file := configPath(t, "") + "/nested/config.json" // parent cannot exist
	s := mustNew(t, file)
	if err := s.SetFromAPI(t.Context(), map[string]any{"steps": 1.0}); err == nil {
		t.Fatal("SetFromAPI succeeded without a writable directory")
	}
	if got := s.Int("steps"); got != 20 {
		t.Errorf("steps = %d after failed save, want 20", got)
	}
}
