package server

import (
	"context"
	"fmt"
	"net/http"

	"github.com/sdapi/sdapi/gen"
)

// ProgressapiSdapiV1ProgressGet is A1111's progressapi. It never waits for
// the queue: it reads processing.State only.
func (s *Server) ProgressapiSdapiV1ProgressGet(ctx context.Context, req gen.ProgressapiSdapiV1ProgressGetRequestObject) (gen.ProgressapiSdapiV1ProgressGetResponseObject, error) {
	skip := req.Params.SkipCurrentImage != nil && *req.Params.SkipCurrentImage
	live := s.jobs.Live(ctx, "", !skip)
	st := live.StateSnapshot
	out := gen.ProgressapiSdapiV1ProgressGet200JSONResponse{
		Progress:    st.Progress,
		EtaRelative: st.EtaRelative,
		Textinfo:    st.Textinfo,
		State: gen.ProgressState{
			Skipped:            st.Skipped,
			Interrupted:        st.Interrupted,
			StoppingGeneration: st.StoppingGeneration,
			Job:                st.Job,
			JobCount:           st.JobCount,
			JobTimestamp:       st.JobTimestamp,
			JobNo:              st.JobNo,
			SamplingStep:       st.SamplingStep,
			SamplingSteps:      st.SamplingSteps,
		},
	}
	if st.JobCount > 0 && !skip {
		// Idle A1111 answers without current_image.
		if img := live.Image; img != nil {
			b64, err := encodePNGBase64(img)
			if err != nil {
				return nil, err
			}
			out.CurrentImage = &b64
		}
	}
	return ok200(out), nil
}

// ProgressapiInternalProgressPost is A1111 1.7+'s modules/progress.py
// progressapi: a task's place in the queue from Queue.TaskStatus, and
// while it runs, its progress and live preview from processing.State.
func (s *Server) ProgressapiInternalProgressPost(ctx context.Context, req gen.ProgressapiInternalProgressPostRequestObject) (gen.ProgressapiInternalProgressPostResponseObject, error) {
	var (
		id          string
		idPreview   = -1
		livePreview = true
	)
	if b := req.Body; b != nil {
		if b.IdTask != nil {
			id = *b.IdTask
		}
		if b.IdLivePreview != nil {
			idPreview = *b.IdLivePreview
		}
		if b.LivePreview != nil {
			livePreview = *b.LivePreview
		}
	}
	var out gen.ProgressapiInternalProgressPost200JSONResponse
	ti := s.jobs.TaskStatus(id)
	out.Active, out.Queued, out.Completed = ti.Active, ti.Queued, ti.Completed
	if !ti.Active {
		text := "Waiting..."
		if ti.Queued {
			text = fmt.Sprintf("In queue: %d/%d", ti.QueuePosition, ti.QueueLength)
		}
		noPreview := -1
		out.Textinfo, out.IdLivePreview = &text, &noPreview
		return ok200(out), nil
	}

	live := s.jobs.Live(ctx, id, livePreview)
	st := live.StateSnapshot
	// modules/progress.py computes progress without progressapi's 0.01
	// head start, and no ETA until there is progress.
	out.Progress = &st.Done
	if st.Done > 0 {
		eta := st.Elapsed/st.Done - st.Elapsed
		out.Eta = &eta
	}
	out.Textinfo = st.Textinfo
	out.IdLivePreview = &idPreview
	if livePreview {
		img, step := live.Image, live.ImageStep
		// The preview's id: unique per batch and step within the job.
		id := st.JobNo*100000 + step + 1
		if img != nil && id != idPreview {
			b64, err := encodePNGBase64(img)
			if err != nil {
				return nil, err
			}
			uri := "data:image/png;base64," + b64
			out.LivePreview = &uri
			out.IdLivePreview = &id
		}
	}
	return ok200(out), nil
}

func (s *Server) InterruptapiSdapiV1InterruptPost(ctx context.Context, _ gen.InterruptapiSdapiV1InterruptPostRequestObject) (gen.InterruptapiSdapiV1InterruptPostResponseObject, error) {
	s.jobs.Interrupt(ctx)
	return gen.InterruptapiSdapiV1InterruptPost200JSONResponse{}, nil
}

func (s *Server) SkipSdapiV1SkipPost(ctx context.Context, _ gen.SkipSdapiV1SkipPostRequestObject) (gen.SkipSdapiV1SkipPostResponseObject, error) {
	s.jobs.Skip(ctx)
	return gen.SkipSdapiV1SkipPost200JSONResponse(nil), nil
}

func (r pyJSON) VisitProgressapiSdapiV1ProgressGetResponse(w http.ResponseWriter) error {
	return r.visit(w)
}

func (r pyJSON) VisitProgressapiInternalProgressPostResponse(w http.ResponseWriter) error {
	return r.visit(w)
}
