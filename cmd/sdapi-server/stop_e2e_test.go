package main_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"image/png"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// stopJobTimeout bounds a generation request that the test stops.
const stopJobTimeout = 2 * time.Minute

// jobClient sends the long requests: their context bounds them, not
// client's httpTimeout.
var jobClient = &http.Client{Transport: &http.Transport{DisableKeepAlives: true, Proxy: nil}}

type progressState struct {
	Progress float64 `json:"progress"`
	State    struct {
		Interrupted   bool `json:"interrupted"`
		Skipped       bool `json:"skipped"`
		JobCount      int  `json:"job_count"`
		JobNo         int  `json:"job_no"`
		SamplingStep  int  `json:"sampling_step"`
		SamplingSteps int  `json:"sampling_steps"`
	} `json:"state"`
}

// checkConsistent fails on a /progress answer whose counters contradict
// each other.
func (s progressState) checkConsistent(t *testing.T) {
	t.Helper()
	st := s.State
	if s.Progress < 0 || s.Progress > 1 || st.SamplingStep > st.SamplingSteps ||
		(st.JobCount > 0 && st.JobNo >= st.JobCount) || (st.JobCount == 0 && (st.JobNo != 0 || st.SamplingStep != 0)) {
		t.Errorf("inconsistent /progress: %+v", s)
	}
}

func getProgress(t *testing.T, p *proc) progressState {
	t.Helper()
	r := call(t, http.MethodGet, p.url, "/sdapi/v1/progress?skip_current_image=true", nil)
	if r.Status != http.StatusOK {
		t.Fatalf("/progress: status %d %s", r.Status, r.Body)
	}
	s := decode[progressState](t, r)
	s.checkConsistent(t)
	return s
}

// startJob posts a txt2img body and returns where its answer arrives.
func startJob(t *testing.T, p *proc, body map[string]any) <-chan *http.Response {
	t.Helper()
	raw, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), stopJobTimeout)
	t.Cleanup(cancel)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.url+"/sdapi/v1/txt2img", bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	out := make(chan *http.Response, 1)
	go func() {
		resp, err := jobClient.Do(req)
		if err != nil {
			t.Errorf("txt2img: %v", err)
			close(out)
			return
		}
		out <- resp
	}()
	return out
}

// waitSampling polls /progress (bounded) until batch jobNo samples past
// step 0, checking every answer is consistent.
func waitSampling(t *testing.T, p *proc, jobNo int) {
	t.Helper()
	deadline := time.Now().Add(stopJobTimeout)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for range tick.C {
		s := getProgress(t, p)
		if s.State.JobNo == jobNo && s.State.SamplingStep > 0 && s.State.JobCount > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("batch %d never sampled: last /progress %+v", jobNo, s)
		}
	}
}

type genAnswer struct {
	Images []string `json:"images"`
	Info   string   `json:"info"`
}

// readAnswer waits for the job's answer and checks it is 200 with n PNG
// images of the given width (0: any).
func readAnswer(t *testing.T, answer <-chan *http.Response, n, width int) genAnswer {
	t.Helper()
	resp, ok := <-answer
	if !ok {
		t.FailNow()
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d, want 200: %.300s", resp.StatusCode, b)
	}
	var g genAnswer
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	if len(g.Images) != n {
		t.Fatalf("%d images, want %d", len(g.Images), n)
	}
	for i, s := range g.Images {
		raw, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := png.DecodeConfig(bytes.NewReader(raw))
		if err != nil || (width != 0 && cfg.Width != width) {
			t.Errorf("image %d: %v, width %d, want %d", i, err, cfg.Width, width)
		}
	}
	return g
}

// waitIdle polls /progress (bounded) until no job runs.
func waitIdle(t *testing.T, p *proc) progressState {
	t.Helper()
	deadline := time.Now().Add(httpTimeout)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for range tick.C {
		s := getProgress(t, p)
		if s.State.JobCount == 0 {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("job still running: %+v", s)
		}
	}
	panic("unreachable")
}

// A client interrupting a long job during sampling gets 200 with the one
// image A1111 returns: the latent the sampler stopped at, decoded, with
// its infotext (what a webuiapi session interrupting a 150-step job gets).
func TestInterruptLongJob(t *testing.T) {
	t.Parallel()
	p := startServer(t, "")
	answer := startJob(t, p, map[string]any{"prompt": "a cat", "steps": 150, "width": 256, "height": 256, "seed": 7})
	waitSampling(t, p, 0)
	if r := call(t, http.MethodPost, p.url, "/sdapi/v1/interrupt", nil); r.Status != http.StatusOK {
		t.Fatalf("/interrupt: status %d", r.Status)
	}
	g := readAnswer(t, answer, 1, 256)
	var info struct {
		Infotexts []string `json:"infotexts"`
	}
	if err := json.Unmarshal([]byte(g.Info), &info); err != nil || len(info.Infotexts) != 1 || !strings.Contains(info.Infotexts[0], "Steps: 150") {
		t.Errorf("info infotexts = %q (%v), want the interrupted image's", info.Infotexts, err)
	}
	waitIdle(t, p)
	m := call(t, http.MethodGet, p.url, "/metrics", nil)
	if !strings.Contains(string(m.Body), `outcome="interrupted"} 1`) {
		t.Errorf("the job was not interrupted (it finished first?): /metrics\n%s", m.Body)
	}
}

// Skip stops the running batch, keeps its image, and the job goes on with
// the next n_iter batch: two images (no grid: the API's save_images false
// sets do_not_save_grid), as A1111 returns.
func TestSkipLongJob(t *testing.T) {
	t.Parallel()
	p := startServer(t, "")
	body := map[string]any{"prompt": "a cat", "steps": 150, "width": 128, "height": 128, "n_iter": 2, "seed": 7}
	answer := startJob(t, p, body)
	waitSampling(t, p, 0)
	if r := call(t, http.MethodPost, p.url, "/sdapi/v1/skip", nil); r.Status != http.StatusOK {
		t.Fatalf("/skip: status %d", r.Status)
	}
	skipped := readAnswer(t, answer, 2, 128)
	waitIdle(t, p)

	// The same job unskipped: its second image is the same, its first is
	// the finished one, which the skipped batch's is not.
	full := readAnswer(t, startJob(t, p, body), 2, 128)
	if skipped.Images[0] == full.Images[0] {
		t.Errorf("the skipped batch's image is the finished one: the skip did not stop batch 0")
	}
	if skipped.Images[1] != full.Images[1] {
		t.Errorf("the batch after the skip differs from the unskipped job's")
	}
}
