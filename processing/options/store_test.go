package options

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// Ensure a store without a config file reports every default.
func TestDefaultsWithoutFile(t *testing.T) {
	for _, file := range []string{"", filepath.Join(t.TempDir(), "missing.json")} {
		s := mustNew(t, file)
		want := map[string]any{
			"send_seed": true, "cfg_scale": 7.0, "steps": 20.0, "samples_format": "png",
			"sd_model_checkpoint": nil, "quicksettings_list": []any{"sd_model_checkpoint"},
			"extra_map": map[string]any{}, "anything": nil, "outdir_samples": "",
			"api_restricted": "x", "info_html": "<b>hi</b>",
		}
		if got := s.All(); !reflect.DeepEqual(got, want) {
			t.Errorf("file %q: All() = %v, want %v", file, got, want)
		}
		if got, want := s.Int("steps"), 20; got != want {
			t.Errorf("Int(steps) = %d, want %d", got, want)
		}
		if !s.Bool("send_seed") || s.Float("cfg_scale") != 7 || s.String("samples_format") != "png" {
			t.Errorf("typed getters disagree with defaults")
		}
		if _, ok := s.Get("nope"); ok {
			t.Errorf("Get(nope) ok = true, want false")
		}
		if len(s.Warnings()) != 0 {
			t.Errorf("Warnings() = %v, want none", s.Warnings())
		}
	}
}

// Ensure values in config.json are loaded, bad ones fall back with a warning,
// and keys no def knows are kept and listed after the defs.
func TestLoad(t *testing.T) {
	file := configPath(t, `{
		"steps": 30, "cfg_scale": "high", "send_seed": null, "samples_format": "jpg",
		"outdir_samples": "/etc", "info_html": "stored", "zz_ext": 1, "aa_ext": {"a": [1]}
	}`)
	s := mustNew(t, file)
	cases := []struct {
		key  string
		want any
	}{
		{"steps", 30.0},
		{"cfg_scale", 7.0},  // wrong type → default
		{"send_seed", true}, // null for a non-nullable → default
		{"samples_format", "jpg"},
		{"outdir_samples", ""},     // unsafe path → default
		{"info_html", "<b>hi</b>"}, // do_not_save → never loaded
		{"zz_ext", 1.0},
		{"aa_ext", map[string]any{"a": []any{1.0}}},
	}
	for _, tc := range cases {
		if got, _ := s.Get(tc.key); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Get(%s) = %#v, want %#v", tc.key, got, tc.want)
		}
	}
	var warned []string
	for _, w := range s.Warnings() {
		var ve *ValueError
		if !errors.As(w, &ve) || !errors.Is(w, ErrInvalidValue) {
			t.Errorf("warning %v is not a *ValueError", w)
			continue
		}
		warned = append(warned, ve.Key)
	}
	if want := []string{"cfg_scale", "info_html", "outdir_samples", "send_seed"}; !reflect.DeepEqual(warned, want) {
		t.Errorf("warned keys = %v, want %v", warned, want)
	}
	keys := s.Keys()
	if got, want := keys[len(keys)-2:], []string{"aa_ext", "zz_ext"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Keys() tail = %v, want %v", got, want)
	}
	if got, want := keys[0], "send_seed"; got != want {
		t.Errorf("Keys()[0] = %q, want %q", got, want)
	}
	entries := s.Entries()
	if len(entries) != len(keys) || entries[len(entries)-1].Key != "zz_ext" {
		t.Errorf("Entries() not in Keys() order: %v", entries)
	}
}

// Ensure a corrupt config.json is an error naming the file, never a panic.
func TestCorruptConfig(t *testing.T) {
	for _, content := range []string{"{", "null", "[1,2]", `{"a":1} trailing`, " "} {
		file := configPath(t, content)
		_, err := New(testDefs(), file)
		if !errors.Is(err, ErrCorruptConfig) {
			t.Errorf("content %q: err = %v, want ErrCorruptConfig", content, err)
			continue
		}
		if !strings.Contains(err.Error(), file) {
			t.Errorf("content %q: error %q does not name %s", content, err, file)
		}
	}
}

// Ensure an unreadable config path is an error but not ErrCorruptConfig.
func TestLoadReadError(t *testing.T) {
	dir := t.TempDir() // a directory cannot be read as a file
	_, err := New(testDefs(), dir)
	if err == nil || errors.Is(err, ErrCorruptConfig) {
		t.Errorf("err = %v, want a read error", err)
	}
}

// Ensure invalid defs are refused.
func TestNewInvalidDefs(t *testing.T) {
	cases := []struct {
		name string
		defs []Def
	}{
		{"empty key", []Def{{Key: ""}}},
		{"duplicate", []Def{{Key: "a"}, {Key: "a"}}},
		{"default wrong type", []Def{{Key: "a", Type: KindBool, Default: "yes"}}},
		{"default unsafe path", []Def{{Key: "a", Type: KindString, Path: true, Default: "../x"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := New(tc.defs, ""); err == nil {
				t.Error("New succeeded, want an error")
			}
		})
	}
}

// Ensure callers cannot change the store through returned values.
func TestAllIsACopy(t *testing.T) {
	s := mustNew(t, "")
	all := s.All()
	all["quicksettings_list"].([]any)[0] = "mutated"
	all["extra_map"].(map[string]any)["x"] = 1.0
	v, _ := s.Get("quicksettings_list")
	v.([]any)[0] = "mutated too"
	if got, _ := s.Get("quicksettings_list"); got.([]any)[0] != "sd_model_checkpoint" {
		t.Errorf("store changed through a returned slice: %v", got)
	}
	if got, _ := s.Get("extra_map"); len(got.(map[string]any)) != 0 {
		t.Errorf("store changed through a returned map: %v", got)
	}
}

// Ensure Save leaves no temp files and writes mode 0600.
func TestSaveAtomicFile(t *testing.T) {
	file := configPath(t, "")
	s := mustNew(t, file)
	if err := s.SetFromAPI(t.Context(), map[string]any{"samples_format": "ü<&>"}); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(file)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := fi.Mode().Perm(), os.FileMode(0o600); got != want {
		t.Errorf("mode = %v, want %v", got, want)
	}
	ents, err := os.ReadDir(filepath.Dir(file))
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != 1 {
		t.Errorf("directory holds %d entries, want only config.json", len(ents))
	}
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	// json.dump(indent=4, ensure_ascii=False): raw UTF-8, no HTML escapes.
	if got, want := string(b), "{\n    \"samples_format\": \"ü<&>\"\n}"; got != want {
		t.Errorf("config.json = %q, want %q", got, want)
	}
}
