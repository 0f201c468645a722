package conformance

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// longJob is a generation measured to run at least longJobTarget on this
// target, so progress, interrupt and skip can be watched on fast and slow
// servers alike.
type longJob struct {
	req      map[string]any
	duration time.Duration
}

const longJobTarget = 1500 * time.Millisecond

// measuredLongJob grows steps (up to 150) and then the image size (up to
// 512) from a measured baseline until one generation takes longJobTarget.
func (suite *Suite) measuredLongJob(ctx context.Context) longJob {
	if suite.long != nil {
		return *suite.long
	}
	size, steps := smallSize, 8
	var d time.Duration
	var req map[string]any
	for range 5 {
		req = suite.smallTxt2Img(map[string]any{"seed": 4711, "steps": steps, "width": size, "height": size})
		start := time.Now()
		g := suite.txt2img(ctx, req)
		_ = g
		d = time.Since(start)
		if d >= longJobTarget {
			break
		}
		grow := float64(longJobTarget)/float64(max(d, time.Millisecond)) + 0.5
		switch {
		case steps < 150:
			steps = min(150, int(float64(steps)*grow)+1)
		case size < 512:
			size *= 2
		}
	}
	suite.recordFigure("PROG-002", "long job (baseline)", fmt.Sprintf("%dx%d, %d steps: %s", size, size, steps, d.Round(time.Millisecond)))
	suite.long = &longJob{req: req, duration: d}
	return *suite.long
}

// progressSample is one /progress answer.
type progressSample struct {
	At       time.Duration
	Latency  time.Duration
	Progress float64 `json:"progress"`
	State    struct {
		Job           string `json:"job"`
		JobCount      int    `json:"job_count"`
		SamplingStep  int    `json:"sampling_step"`
		SamplingSteps int    `json:"sampling_steps"`
		Interrupted   bool   `json:"interrupted"`
	} `json:"state"`
}

// startGeneration runs req in the background; the channel receives the
// finished exchange.
func (suite *Suite) startGeneration(ctx context.Context, req map[string]any) <-chan *Exchange {
	b, _ := json.Marshal(req)
	done := make(chan *Exchange, 1)
	go func() {
		done <- suite.client.Do(ctx, Request{Method: http.MethodPost, Path: APIPrefix + "/txt2img", Body: b})
	}()
	return done
}

// pollProgress samples /progress until stop says so or done delivers.
func (suite *Suite) pollProgress(ctx SpecContext, done <-chan *Exchange, stop func(progressSample) bool) ([]progressSample, *Exchange) {
	start := time.Now()
	var samples []progressSample
	for {
		select {
		case ex := <-done:
			return samples, ex
		default:
		}
		ex := suite.call(ctx, Request{Method: http.MethodGet, Path: APIPrefix + "/progress"})
		expectStatus(ex, 200)
		s := decode[progressSample](ex)
		s.At, s.Latency = time.Since(start), ex.Elapsed
		samples = append(samples, s)
		if stop != nil && stop(s) {
			return samples, nil
		}
		select {
		case ex := <-done:
			return samples, ex
		case <-time.After(20 * time.Millisecond):
		case <-ctx.Done():
			Fail("timed out watching /progress")
		}
	}
}

// sampling is a pollProgress stop condition: a job is running and has
// reached sampling step 1 (A1111 keeps the last job's steps while idle, so
// job_count must say a job runs).
func sampling(s progressSample) bool { return s.State.JobCount != 0 && s.State.SamplingStep >= 1 }

// waitSampling starts req and returns once /progress shows it sampling; a
// job that ends before any step was seen fails the check with the reason.
func (suite *Suite) waitSampling(ctx SpecContext, req map[string]any, what string) <-chan *Exchange {
	done := suite.startGeneration(ctx, req)
	samples, ex := suite.pollProgress(ctx, done, sampling)
	if ex != nil {
		failf("expected /progress to show the %d-step job sampling so that %s, got the job ending (%s) after %d /progress answers without a sampling step",
			req["steps"], what, ex.Seen(), len(samples))
	}
	return done
}

func (suite *Suite) waitDone(ctx SpecContext, done <-chan *Exchange) *Exchange {
	select {
	case ex := <-done:
		return ex
	case <-ctx.Done():
		Fail("the generation did not finish before the spec's timeout")
	}
	return nil
}

// expectIdleEventually waits (5 s at most) for /progress to show no job
// after a generation answered, failing with what it last saw.
func (suite *Suite) expectIdleEventually(ctx SpecContext) {
	deadline := time.Now().Add(5 * time.Second)
	for {
		s := decode[progressSample](suite.call(ctx, Request{Method: http.MethodGet, Path: APIPrefix + "/progress"}))
		if s.State.JobCount == 0 {
			return
		}
		if time.Now().After(deadline) {
			failf("expected /progress to go idle (job_count 0) within 5 s of the job's answer, got job_count %d at sampling_step %d/%d",
				s.State.JobCount, s.State.SamplingStep, s.State.SamplingSteps)
		}
		select {
		case <-ctx.Done():
			failf("expected /progress to go idle after the job, got job_count %d when the check timed out", s.State.JobCount)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (suite *Suite) progressSpecs() {
	Describe("Progress, interrupt and skip", Serial, func() {
		// Requirement: PROG-001.
		suite.conformIt("PROG-001", "reports idle when nothing runs", func(ctx SpecContext) {
			ex := suite.get(ctx, "/progress?skip_current_image=true")
			expectStatus(ex, 200)
			s := decode[progressSample](ex)
			Expect(s.Progress).To(BeZero())
			Expect(s.State.JobCount).To(BeZero())
		})

		// Requirement: INT-001.
		suite.conformIt("INT-001", "answers /interrupt and /skip when idle", func(ctx SpecContext) {
			ex := suite.post(ctx, "/interrupt", nil)
			expectStatus(ex, 200)
			Expect(ex.Body).To(MatchJSON(`{}`))
			ex = suite.post(ctx, "/skip", nil)
			expectStatus(ex, 200)
		})

		// Requirement: PROG-002.
		suite.conformIt("PROG-002", "shows a running job's sampling steps advancing, then idle", func(ctx SpecContext) {
			job := suite.measuredLongJob(ctx)
			steps := job.req["steps"].(int)
			samples, ex := suite.pollProgress(ctx, suite.startGeneration(ctx, job.req), nil)
			Expect(ex.Err).NotTo(HaveOccurred())
			expectStatus(ex, 200)
			var seen []int
			maxLatency := time.Duration(0)
			for _, s := range samples {
				maxLatency = max(maxLatency, s.Latency)
				if s.State.JobCount > 0 && s.State.SamplingSteps > 0 {
					Expect(s.State.SamplingSteps).To(Equal(steps), "sampling_steps MUST be the requested steps")
					Expect(s.State.SamplingStep).To(BeNumerically("<=", s.State.SamplingSteps))
					if len(seen) == 0 || seen[len(seen)-1] != s.State.SamplingStep {
						seen = append(seen, s.State.SamplingStep)
					}
				}
			}
			suite.recordFigure("PROG-002", "progress samples", fmt.Sprintf("%d samples, steps seen %v, slowest /progress %s", len(samples), seen, maxLatency.Round(time.Millisecond)))
			Expect(len(seen)).To(BeNumerically(">=", 2), "expected /progress to show sampling_step advancing during a %d-step job, got steps %v in %d answers", steps, seen, len(samples))
			for i := 1; i < len(seen); i++ {
				Expect(seen[i]).To(BeNumerically(">", seen[i-1]), "sampling_step MUST advance: %v", seen)
			}
			Expect(seen[len(seen)-1]).To(BeNumerically(">=", steps/2), "sampling_step MUST advance towards sampling_steps %d: %v", steps, seen)
			// /progress answering without waiting for the job is shown by the
			// advancing steps above; the latency is a figure, not a verdict.
			suite.expectIdleEventually(ctx)
		})

		// Requirement: PROG-003.
		suite.conformIt("PROG-003", "reports a forced task id through /internal/progress", func(ctx SpecContext) {
			probe := suite.call(ctx, Request{Method: http.MethodPost, Path: "/internal/progress", Body: []byte(`{"id_task":"sdapi-conform-probe","id_live_preview":-1,"live_preview":false}`)})
			// A server without the route fails here; a profile that claims the
			// route missing turns that into a skip once the 404 is seen.
			expectStatus(probe, http.StatusOK)
			job := suite.measuredLongJob(ctx)
			id := fmt.Sprintf("sdapi-conform-%d", time.Now().UnixNano())
			req := map[string]any{"force_task_id": id}
			for k, v := range job.req {
				req[k] = v
			}
			done := suite.startGeneration(ctx, req)
			type internal struct {
				Active    bool `json:"active"`
				Queued    bool `json:"queued"`
				Completed bool `json:"completed"`
			}
			ask := func() internal {
				ex := suite.call(ctx, Request{Method: http.MethodPost, Path: "/internal/progress", Body: []byte(`{"id_task":"` + id + `","id_live_preview":-1,"live_preview":false}`)})
				expectStatus(ex, 200)
				return decode[internal](ex)
			}
			sawRunning, answers := false, 0
			var ex *Exchange
		loop:
			for {
				select {
				case ex = <-done:
					break loop
				default:
				}
				answers++
				if s := ask(); s.Active || s.Queued {
					sawRunning = true
				}
				select {
				case ex = <-done:
					break loop
				case <-time.After(20 * time.Millisecond):
				}
			}
			expectStatus(ex, 200)
			if !sawRunning {
				failf("expected POST /internal/progress to report task %s active or queued while it ran, got neither in %d answers", id, answers)
			}
			if !ask().Completed {
				failf("expected POST /internal/progress to report task %s completed after the generation answered, got completed false", id)
			}
		})

		// Requirement: INT-002.
		suite.conformIt("INT-002", "ends a running job early on /interrupt", func(ctx SpecContext) {
			job := suite.measuredLongJob(ctx)
			steps := job.req["steps"].(int)
			done := suite.waitSampling(ctx, job.req, "/interrupt could be sent during sampling")
			in := suite.post(ctx, "/interrupt", nil)
			expectStatus(in, 200)
			Expect(in.Elapsed).To(BeNumerically("<", time.Second), "expected /interrupt to answer at once, not wait for the job")
			after, ex := suite.pollProgress(ctx, done, nil)
			first, last := -1, -1
			for _, s := range after {
				if s.State.JobCount != 0 && s.State.SamplingSteps > 0 {
					if first < 0 {
						first = s.State.SamplingStep
					}
					last = max(last, s.State.SamplingStep)
				}
			}
			suite.recordFigure("INT-002", "steps after /interrupt", fmt.Sprintf("first %d, last %d of %d (%d answers)", first, last, steps, len(after)))
			Expect(ex.Err).NotTo(HaveOccurred())
			expectStatus(ex, 200)
			if first >= 0 && last > first+2 {
				failf("expected sampling to stop within 2 steps of /interrupt, got steps advancing from %d to %d of %d", first, last, steps)
			}
			if last >= steps {
				failf("expected the interrupted job to end before its last step %d, got step %d", steps, last)
			}
			suite.expectIdleEventually(ctx)
		})

		// Requirement: INT-004.
		suite.conformIt("INT-004", "returns the partly denoised images of an interrupted batch", func(ctx SpecContext) {
			job := suite.measuredLongJob(ctx)
			req := map[string]any{}
			for k, v := range job.req {
				req[k] = v
			}
			req["batch_size"] = 2
			done := suite.waitSampling(ctx, req, "/interrupt could be sent during sampling")
			expectStatus(suite.post(ctx, "/interrupt", nil), 200)
			ex := suite.waitDone(ctx, done)
			Expect(ex.Err).NotTo(HaveOccurred())
			g := suite.decodeGen(ex, "/txt2img", req)
			expectCount(len(g.images), 2, "partly denoised images (batch_size 2, interrupted during sampling)")
			w, h := req["width"].(int), req["height"].(int)
			for i, img := range g.images {
				expectImageSize(img, w, h, fmt.Sprintf("interrupted image %d", i))
			}
			expectCount(len(g.infotexts()), 2, "infotexts for the interrupted images")
			suite.expectIdleEventually(ctx)
		})

		// Requirement: PROG-004.
		suite.conformIt("PROG-004", "sends current_image and textinfo as null, not absent", func(ctx SpecContext) {
			for _, q := range []string{"/progress", "/progress?skip_current_image=true"} {
				body := decode[map[string]json.RawMessage](suite.get(ctx, q))
				for _, k := range []string{"current_image", "textinfo"} {
					if _, ok := body[k]; !ok {
						failf("expected GET %s to carry %q (null when empty, as pydantic serialises ProgressResponse), got no such key", q, k)
					}
				}
				if s := decode[progressSample](suite.get(ctx, q)); s.State.JobCount == 0 && string(body["current_image"]) != "null" {
					failf("expected GET %s when idle to send current_image null, got %s", q, shorten(string(body["current_image"]), 60))
				}
			}
		})

		// Requirement: INT-003.
		suite.conformIt("INT-003", "answers /skip during a job, which still completes", func(ctx SpecContext) {
			job := suite.measuredLongJob(ctx)
			done := suite.waitSampling(ctx, job.req, "/skip could be sent during sampling")
			sk := suite.post(ctx, "/skip", nil)
			expectStatus(sk, 200)
			Expect(sk.Elapsed).To(BeNumerically("<", time.Second), "expected /skip to answer at once, not wait for the job")
			ex := suite.waitDone(ctx, done)
			Expect(ex.Err).NotTo(HaveOccurred())
			expectStatus(ex, 200)
			suite.expectIdleEventually(ctx)
		})
	})
}
