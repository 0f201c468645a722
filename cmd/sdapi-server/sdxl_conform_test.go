package main_test

import (
	"context"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sdapi/sdapi/internal/refserver"
)

// The conformance suite passes against a server whose selected model is
// the SDXL test model (issue 15's "done when"): every generation check then
// runs the SDXL pipeline.
func TestSDXLConformance(t *testing.T) {
	p := startServer(t, "", "--api-auth", "conform:secret")
	v := validator(t, p)
	auth := basicAuth("conform", "secret")
	var title string
	for _, m := range decode[[]struct {
		Title     string `json:"title"`
		ModelName string `json:"model_name"`
	}](t, do(t, v, http.MethodGet, p.url, "/sdapi/v1/sd-models", nil, auth)) {
		if m.ModelName == sdxlTestModel {
			title = m.Title
		}
	}
	if title == "" {
		t.Fatalf("sd-models does not list %s", sdxlTestModel)
	}
	if r := do(t, v, http.MethodPost, p.url, "/sdapi/v1/options", map[string]any{"sd_model_checkpoint": title}, auth); r.Status != http.StatusOK {
		t.Fatalf("select %s: %d %s", title, r.Status, r.Body)
	}
	conform := filepath.Join(t.TempDir(), "sdapi-conform")
	if err := refserver.Build(conform, "github.com/sdapi/sdapi/cmd/sdapi-conform"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, conform, "--target", p.url, "--profile", "reference", "--user", "conform", "--password", "secret").CombinedOutput()
	if err != nil {
		t.Fatalf("sdapi-conform against the SDXL model: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	t.Log(lines[len(lines)-1])
	// The suite restores what it changes: the checks ran on the SDXL model.
	opts := decode[map[string]any](t, do(t, v, http.MethodGet, p.url, "/sdapi/v1/options", nil, auth))
	if got := opts["sd_model_checkpoint"]; got != title {
		t.Errorf("after the suite sd_model_checkpoint is %v, want %s", got, title)
	}
}
