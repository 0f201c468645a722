package server

import "testing"

// Ensure no configured directory and no other absolute path survives in
// a message a client sees, whatever surrounds it, while the file's name
// and the rest of the message stay readable.
func TestRedactPaths(t *testing.T) {
	red := newRedactor([]string{"/srv/sd data", "/srv/sd data/models", "relative/dir", "/", "/srv/data/"})
	tests := []struct{ in, want string }{
		{"open /srv/sd data/models/x/model.onnx: no such file", "open model.onnx: no such file"},
		{"/srv/sd data", "sd data"},
		{"missing: /etc/passwd", "missing: passwd"},
		{`{"path":"/etc/passwd"}`, `{"path":"passwd"}`},
		{"{/etc/passwd}", "{passwd}"},
		{"a,/etc/passwd,b", "a,passwd,b"},
		{"in `/opt/models/unet.onnx`", "in `unet.onnx`"},
		{"see file:///var/lib/sd/model.onnx", "see file:model.onnx"},
		{"load(/usr/lib/libonnxruntime.so)", "load(libonnxruntime.so)"},
		{"[/a/b]", "[b]"},
		{"x=/a/b", "x=b"},
		{"<dir>/a/b</dir>", "<dir>b<dir>"},
		{"/srv/database/x.onnx failed", "x.onnx failed"},
		{"/mnt/srv/data/x.onnx failed", "x.onnx failed"},
		{"path=/srv/sd data/models/x.onnx", "path=x.onnx"},
		{"at:/srv/sd data/models/x.onnx", "at:x.onnx"},
		{"file:///srv/sd data/m/x.onnx", "file://x.onnx"},
		{"é/srv/sd data/x.onnx", "éx.onnx"},
		// A space in a subdirectory ends the path: only the configured
		// directories themselves are known to hold spaces.
		{"/srv/data/sub dir/x.onnx", "sub dir/x.onnx"},
		{"relative/dir/x.onnx and a/b/c", "relative/dir/x.onnx and a/b/c"},
		{"fetch http://example.com/a/b.png: 404", "fetch http://example.com/a/b.png: 404"},
		{"steps must be at least 1", "steps must be at least 1"},
	}
	for _, tc := range tests {
		if got := red.paths(tc.in); got != tc.want {
			t.Errorf("paths(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
