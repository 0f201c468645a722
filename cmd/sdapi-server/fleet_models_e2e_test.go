package main_test

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/sdapi/sdapi/internal/testenv"
	"github.com/sdapi/sdapi/runner/onnxgen"
)

// sdTestModel is the SD 1.x test model a fresh data directory gets.
const sdTestModel = "sdapi-tiny-random-test-model"

// fleetModelJob is fleetJob on the checkpoint named by override_settings
// ("" for the shared option's).
func fleetModelJob(checkpoint string) map[string]any {
	j := fleetJob(1)
	if checkpoint != "" {
		j["override_settings"] = map[string]any{"sd_model_checkpoint": checkpoint}
	}
	return j
}

// runModelJobs posts n jobs at once and returns the worker and the
// sd_model_name each ran with, checking each answered 200.
func runModelJobs(t *testing.T, api *proc, n int, checkpoint string) (workers, models []string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), stopJobTimeout)
	defer cancel()
	answers := make([]fleetAnswer, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { answers[i], errs[i] = postFleet(ctx, api.url, fleetModelJob(checkpoint)) })
	}
	wg.Wait()
	for i, a := range answers {
		if errs[i] != nil || a.status != http.StatusOK {
			t.Fatalf("job %d on %q: %v, status %d %s", i, checkpoint, errs[i], a.status, a.body)
		}
		var g genAnswer
		var info struct {
			SDModelName string `json:"sd_model_name"`
		}
		if err := json.Unmarshal(a.body, &g); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal([]byte(g.Info), &info); err != nil {
			t.Fatal(err)
		}
		workers, models = append(workers, a.worker), append(models, info.SDModelName)
	}
	return workers, models
}

// emitExtraNetworks writes the LoRA fleet-b for the SD 1.x test model
// into loraDir, and an embedding for each test model (fleet-sd1,
// fleet-xl) into embDir.
func emitExtraNetworks(t *testing.T, loraDir, embDir string) {
	t.Helper()
	for _, d := range []string{loraDir, embDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	sd1, xl := onnxgen.Config{Size: onnxgen.Tiny}, onnxgen.Config{Size: onnxgen.Tiny, Family: onnxgen.FamilySDXL}
	if err := onnxgen.EmitLoRA(filepath.Join(loraDir, "fleet-b.safetensors"), sd1, onnxgen.LoRAOptions{Seed: 7, Name: "fleet-b"}); err != nil {
		t.Fatal(err)
	}
	if err := onnxgen.EmitEmbedding(filepath.Join(embDir, "fleet-sd1.safetensors"), sd1, 1, 7); err != nil {
		t.Fatal(err)
	}
	if err := onnxgen.EmitEmbedding(filepath.Join(embDir, "fleet-xl.safetensors"), xl, 1, 7); err != nil {
		t.Fatal(err)
	}
}

type fleetLora struct {
	Name string `json:"name"`
	Path string `json:"path"`
}

// fleetLoras is the API's /loras.
func fleetLoras(t *testing.T, api *proc) []fleetLora {
	t.Helper()
	r := call(t, http.MethodGet, api.url, "/sdapi/v1/loras", nil)
	if r.Status != http.StatusOK {
		t.Fatalf("/loras: %d %s", r.Status, r.Body)
	}
	return decode[[]fleetLora](t, r)
}

// Requirement FLEET-5: a fleet's /sd-models MUST list the union of its
// live workers' checkpoints, once each, in A1111's order; a job MUST run
// only on a worker that has its checkpoint (override_settings, else the
// shared option, as the API resolved it, whatever the worker's own
// option); a worker's checkpoints MUST leave the listing when it stops,
// and refresh-checkpoints on the API MUST rescan the workers'. Its
// /loras and /embeddings MUST list the live workers' files (embeddings
// split by the model loaded on the worker), and refresh-loras on the API
// MUST rescan the workers' Lora directories.
func TestFleetRoutesByCheckpoint(t *testing.T) {
	if ortErr != "" {
		testenv.Missing(t, ortErr)
	}
	api, natsURL := startFleetAPI(t)
	// w2's fresh data directory gets both test models; w1 has a copy of
	// the SD 1.x one only.
	w2 := startWorker(t, natsURL)
	stable := filepath.Join(w2.dataDir, "models", "Stable-diffusion")
	ckpts := t.TempDir()
	if err := os.CopyFS(filepath.Join(ckpts, sdTestModel), os.DirFS(filepath.Join(stable, sdTestModel))); err != nil {
		t.Fatal(err)
	}
	// w1 alone has a LoRA, and an embedding for each model.
	ext := t.TempDir()
	w1Loras, w1Embs := filepath.Join(ext, "Lora"), filepath.Join(ext, "embeddings")
	emitExtraNetworks(t, w1Loras, w1Embs)
	w1 := startWorker(t, natsURL, "--ckpt-dir", ckpts, "--no-download-sd-model", "--lora-dir", w1Loras, "--embeddings-dir", w1Embs)
	waitMetric(t, api, "sdapi_fleet_workers_alive 2")

	models := waitCatalog(t, api, 2)
	if models[0].ModelName != sdTestModel || models[1].ModelName != sdxlTestModel {
		t.Fatalf("/sd-models lists %+v, want the SD 1.x then the SDXL test model", models)
	}
	sdxl := models[1].Title

	// The API lists its workers' LoRAs (its own directory is empty); one
	// copied to w2 is listed after refresh-loras through the API, in the
	// Lora directory's order.
	if got := fleetLoras(t, api); len(got) != 1 || got[0].Name != "fleet-b" || got[0].Path != filepath.Join(w1Loras, "fleet-b.safetensors") {
		t.Errorf("/loras: %+v, want w1's fleet-b", got)
	}
	w2Loras := filepath.Join(w2.dataDir, "models", "Lora")
	if err := os.MkdirAll(w2Loras, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := onnxgen.EmitLoRA(filepath.Join(w2Loras, "fleet-a.safetensors"), onnxgen.Config{Size: onnxgen.Tiny}, onnxgen.LoRAOptions{Seed: 8}); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/sdapi/v1/refresh-loras", "/sdapi/v1/refresh-embeddings"} {
		if r := call(t, http.MethodPost, api.url, path, nil); r.Status != http.StatusOK {
			t.Fatalf("%s: %d %s", path, r.Status, r.Body)
		}
	}
	if got := fleetLoras(t, api); len(got) != 2 || got[0].Name != "fleet-a" || got[0].Path != filepath.Join(w2Loras, "fleet-a.safetensors") || got[1].Name != "fleet-b" {
		t.Errorf("/loras after refresh-loras: %+v, want w2's fleet-a, w1's fleet-b", got)
	}

	// SDXL jobs: only w2 has the model.
	workers, names := runModelJobs(t, api, 4, sdxl)
	for i := range workers {
		if !strings.HasSuffix(workers[i], workerID(w2)) || names[i] != sdxlTestModel {
			t.Errorf("SDXL job %d ran on %s with %s, want on w2 %s", i, workers[i], names[i], workerID(w2))
		}
	}
	// SD 1.x jobs (the shared option's model): either worker.
	workers, names = runModelJobs(t, api, 8, "")
	for i := range workers {
		if !strings.HasSuffix(workers[i], workerID(w1)) && !strings.HasSuffix(workers[i], workerID(w2)) || names[i] != sdTestModel {
			t.Errorf("SD 1.x job %d ran on %s with %s", i, workers[i], names[i])
		}
	}

	// SDXL made the shared model: jobs without an override go to w2 only;
	// w1 keeps its own sd_model_checkpoint (it lacks SDXL).
	if r := call(t, http.MethodPost, api.url, "/sdapi/v1/options", map[string]any{"sd_model_checkpoint": sdxl}); r.Status != http.StatusOK {
		t.Fatalf("POST /options: %d %s", r.Status, r.Body)
	}
	waitLog(t, w1, "shared option not applied here")
	workers, names = runModelJobs(t, api, 4, "")
	for i := range workers {
		if !strings.HasSuffix(workers[i], workerID(w2)) || names[i] != sdxlTestModel {
			t.Errorf("job %d on the shared SDXL ran on %s with %s, want on w2", i, workers[i], names[i])
		}
	}

	// SDXL installed on w1 and refreshed through the API: w1 pulls SDXL
	// jobs now, and runs them on SDXL though its own option still names
	// the SD 1.x model (the job carries the checkpoint the API chose).
	if err := os.CopyFS(filepath.Join(ckpts, sdxlTestModel), os.DirFS(filepath.Join(stable, sdxlTestModel))); err != nil {
		t.Fatal(err)
	}
	if r := call(t, http.MethodPost, api.url, "/sdapi/v1/refresh-checkpoints", nil); r.Status != http.StatusOK {
		t.Fatalf("refresh-checkpoints: %d %s", r.Status, r.Body)
	}
	workers, names = runModelJobs(t, api, 16, "")
	ranOn := map[string]int{}
	for i := range workers {
		ranOn[workers[i]]++
		if names[i] != sdxlTestModel {
			t.Errorf("job %d on the shared SDXL ran on %s with %s", i, workers[i], names[i])
		}
	}
	if len(ranOn) != 2 {
		t.Errorf("SDXL jobs ran on %v, want both workers once w1 has SDXL", ranOn)
	}

	// Workers that stop take their models out of the listing; with none
	// left a job fails as on a server with no model installed.
	w2.terminate()
	if got := waitCatalog(t, api, 2); got[1].Title != sdxl {
		t.Errorf("/sd-models with w1 alone: %+v", got)
	}
	workers, names = runModelJobs(t, api, 1, sdxl)
	if !strings.HasSuffix(workers[0], workerID(w1)) || names[0] != sdxlTestModel {
		t.Errorf("SDXL job with w1 alone ran on %s with %s", workers[0], names[0])
	}
	// w1 holds SDXL now: its SDXL embedding is loaded, the SD 1.x one
	// skipped.
	type embItem struct{ Shape int }
	embs := decode[struct {
		Loaded  map[string]embItem `json:"loaded"`
		Skipped map[string]embItem `json:"skipped"`
	}](t, call(t, http.MethodGet, api.url, "/sdapi/v1/embeddings", nil))
	if _, ok := embs.Loaded["fleet-xl"]; !ok || len(embs.Loaded) != 1 || len(embs.Skipped) != 1 || embs.Skipped["fleet-sd1"].Shape == 0 {
		t.Errorf("/embeddings with w1 on SDXL: %+v", embs)
	}
	w1.terminate()
	waitCatalog(t, api, 0)
	if a, err := postFleet(context.Background(), api.url, fleetModelJob(sdxl)); err != nil || a.status != http.StatusInternalServerError {
		t.Errorf("job with no worker: %v, status %d %s; want 500", err, a.status, a.body)
	}
}
