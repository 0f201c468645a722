package options

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

func testDefs() []Def {
	return []Def{
		{Key: "send_seed", Default: true, Type: KindBool},
		{Key: "cfg_scale", Default: 7.0, Type: KindNumber},
		{Key: "steps", Default: 20, Type: KindInteger},
		{Key: "samples_format", Default: "png", Type: KindString},
		{Key: "sd_model_checkpoint", Default: nil, Type: KindString, Nullable: true},
		{Key: "quicksettings_list", Default: []any{"sd_model_checkpoint"}, Type: KindArray},
		{Key: "extra_map", Default: map[string]any{}, Type: KindObject},
		{Key: "anything", Default: nil, Type: KindAny},
		{Key: "outdir_samples", Default: "", Type: KindString, Path: true},
		{Key: "api_restricted", Default: "x", Type: KindString, RestrictAPI: true},
		{Key: "info_html", Default: "<b>hi</b>", Type: KindString, DoNotSave: true},
	}
}

// configPath returns a config.json path in a fresh directory, written with
// content unless content is "".
func configPath(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "config.json")
	if content != "" {
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return p
}

func mustNew(t *testing.T, file string, validators ...Validator) *Store {
	t.Helper()
	s, err := New(testDefs(), file, validators...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s
}

// readConfig decodes config.json; a missing file reads as nil.
func readConfig(t *testing.T, file string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(file)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("config.json is not JSON: %v\n%s", err, b)
	}
	return m
}
