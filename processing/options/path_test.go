package options

import (
	"errors"
	"path/filepath"
	"testing"
)

// Ensure ResolvePath keeps path options inside their root.
func TestResolvePath(t *testing.T) {
	root := filepath.FromSlash("/srv/sdapi/outputs")
	cases := []struct {
		value   string
		want    string
		wantErr bool
	}{
		{"", root, false},
		{"txt2img", filepath.Join(root, "txt2img"), false},
		{"a/b", filepath.Join(root, "a", "b"), false},
		{"./a", filepath.Join(root, "a"), false},
		{"../x", "", true},
		{"a/../../x", "", true},
		{"a/../b", "", true}, // ".." refused even when it stays inside
		{"/etc", "", true},
		{`\etc`, "", true},
		{`C:\x`, "", true},
		{`a\..\..\x`, "", true},
		{"a\x00b", "", true},
	}
	for _, tc := range cases {
		got, err := ResolvePath(root, tc.value)
		if tc.wantErr {
			if !errors.Is(err, ErrUnsafePath) {
				t.Errorf("ResolvePath(%q) err = %v, want ErrUnsafePath", tc.value, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ResolvePath(%q) = %q, %v; want %q", tc.value, got, err, tc.want)
		}
	}
}
