package server

import (
	"context"
	"encoding/json"
	"image"
	"net/http"

	"github.com/sdapi/sdapi/gen"
	"github.com/sdapi/sdapi/processing"
	"github.com/sdapi/sdapi/processing/queue"
)

// Jobs is where the server's generation jobs run and what it knows of
// them: the in-process queue (Deps.Queue and Deps.State, the default) or a
// fleet of workers elsewhere (package fleet, through Deps.Jobs). The
// handlers use only this, so they do not know which.
type Jobs interface {
	// Run runs w and returns its error. A Jobs that runs it in this
	// process calls w.Local in its queue; one that runs it elsewhere sends
	// w.Request and sets w.Output from the answer. A w without Request
	// runs here.
	Run(ctx context.Context, w *Work) error
	// TaskStatus is what /internal/progress reports of a task id.
	TaskStatus(taskID string) queue.TaskInfo
	// Live is the state of task taskID's job, or with taskID "" of the job
	// /progress reports; image asks for its live preview too.
	Live(ctx context.Context, taskID string, image bool) LiveState
	// Interrupt and Skip reach the job /progress reports.
	Interrupt(ctx context.Context)
	Skip(ctx context.Context)
}

// LiveState is processing.State at one instant, with its live preview.
type LiveState struct {
	processing.StateSnapshot
	Image     image.Image // nil when there is none or it was not asked for
	ImageStep int
}

// Work is one generation or extras job as the handlers hand it to Jobs.
type Work struct {
	TaskID string // force_task_id, "" when none
	Kind   string // txt2img, img2img or extras
	// Request is the job as a worker elsewhere runs it (Execute); nil
	// when it can only run here.
	Request *WorkRequest
	// Overrides are a generation job's override_settings: with the
	// shared options they say which checkpoint it needs
	// (processing.JobCheckpoint), so a fleet sends it to workers that
	// have it.
	Overrides map[string]any
	// Local runs the job in this process, once it holds the queue.
	Local func(ctx context.Context) error
	// Output is set by a Jobs that ran the job elsewhere.
	Output *WorkOutput
}

// WorkRequest is a generation request as the client sent it, or an
// extras request's typed body: a worker decodes and checks it exactly as
// this server did before it queued.
type WorkRequest struct {
	Kind        string `json:"kind"` // txt2img, img2img, extra-single-image or extra-batch-images
	ContentType string `json:"content_type"`
	Body        []byte `json:"body"`
	// Checkpoint is the title of the checkpoint a generation job runs on,
	// as the API resolved it ("" for extras): the worker runs it on that
	// one, whatever its own sd_model_checkpoint.
	Checkpoint string `json:"checkpoint,omitempty"`
}

// WorkOutput is what a worker answered for a WorkRequest: the encoded
// images and info, or the HTTP error this server would have answered.
type WorkOutput struct {
	Images []string `json:"images,omitempty"`
	Info   string   `json:"info,omitempty"`
	// HTMLInfo is an extras job's html_info.
	HTMLInfo string `json:"html_info,omitempty"`
	// Status and Error are set when the job failed: the status and the
	// A1111 body the worker's server rendered, answered as they are.
	Status int             `json:"status,omitempty"`
	Error  json.RawMessage `json:"error,omitempty"`
	// Worker names the worker that ran the job.
	Worker string `json:"worker,omitempty"`
	// Interrupted reports a job /interrupt stopped (its images are those
	// made so far), for the API's /metrics.
	Interrupted bool `json:"interrupted,omitempty"`
}

// remoteError is a job's error as a worker rendered it.
type remoteError struct {
	Status int
	Body   json.RawMessage
}

func (e *remoteError) Error() string { return "worker answered " + string(e.Body) }

// localJobs is the in-process Jobs: the queue serialises the jobs and the
// one processing.State is the live state of the one running.
type localJobs struct {
	q  *queue.Queue // nil runs jobs at once, unserialised (tests)
	st *processing.State
}

func (l localJobs) Run(ctx context.Context, w *Work) error {
	if l.q == nil {
		return w.Local(ctx)
	}
	return l.q.DoTask(ctx, w.TaskID, w.Kind, w.Local)
}

func (l localJobs) TaskStatus(taskID string) queue.TaskInfo {
	if l.q == nil {
		return queue.TaskInfo{} // without a queue nothing is ever active
	}
	return l.q.TaskStatus(taskID)
}

func (l localJobs) Live(_ context.Context, _ string, withImage bool) LiveState {
	ls := LiveState{StateSnapshot: l.st.Snapshot()}
	if withImage {
		ls.Image, ls.ImageStep = l.st.CurrentImage()
	}
	return ls
}

func (l localJobs) Interrupt(context.Context) { l.st.Interrupt() }
func (l localJobs) Skip(context.Context)      { l.st.Skip() }

// Execute runs a request from a fleet's API on this server, as its
// handler would: decoded, checked, run in this server's queue, encoded.
// An error is rendered as the HTTP answer the API sends on.
func (s *Server) Execute(ctx context.Context, req WorkRequest) *WorkOutput {
	out, err := s.execute(ctx, req)
	if err != nil {
		status, body := errorResponse(err, newRedactor(s.cfg.PrivateDirs))
		if status >= 500 && status != http.StatusNotImplemented && ctx.Err() == nil { // as errorHandler logs
			s.log.Error("fleet job failed", "kind", req.Kind, "status", status, "err", err)
		}
		b, merr := marshalPy(body)
		if merr != nil {
			b = []byte(`{"detail":"Internal Server Error"}`)
		}
		return &WorkOutput{Status: status, Error: b}
	}
	// State's flag is a generation's: extras never clear it.
	generation := req.Kind != kindExtrasSingle && req.Kind != kindExtrasBatch
	out.Interrupted = generation && s.outcome(ctx, nil) == outcomeInterrupted
	return out
}

func (s *Server) execute(ctx context.Context, req WorkRequest) (*WorkOutput, error) {
	switch req.Kind {
	case kindExtrasSingle:
		var body gen.ExtrasSingleImageApiSdapiV1ExtraSingleImagePostJSONRequestBody
		if err := json.Unmarshal(req.Body, &body); err != nil {
			return nil, err
		}
		resp, err := s.ExtrasSingleImageApiSdapiV1ExtraSingleImagePost(ctx, gen.ExtrasSingleImageApiSdapiV1ExtraSingleImagePostRequestObject{Body: &body})
		if err != nil {
			return nil, err
		}
		r := resp.(gen.ExtrasSingleImageApiSdapiV1ExtraSingleImagePost200JSONResponse)
		out := &WorkOutput{HTMLInfo: r.HtmlInfo}
		if r.Image != nil {
			out.Images = []string{*r.Image}
		}
		return out, nil
	case kindExtrasBatch:
		var body gen.ExtrasBatchImagesApiSdapiV1ExtraBatchImagesPostJSONRequestBody
		if err := json.Unmarshal(req.Body, &body); err != nil {
			return nil, err
		}
		resp, err := s.ExtrasBatchImagesApiSdapiV1ExtraBatchImagesPost(ctx, gen.ExtrasBatchImagesApiSdapiV1ExtraBatchImagesPostRequestObject{Body: &body})
		if err != nil {
			return nil, err
		}
		r := resp.(gen.ExtrasBatchImagesApiSdapiV1ExtraBatchImagesPost200JSONResponse)
		return &WorkOutput{Images: r.Images, HTMLInfo: r.HtmlInfo}, nil
	}
	mode := processing.Txt2Img
	if req.Kind == processing.Img2Img.String() {
		mode = processing.Img2Img
	}
	g, err := s.runGeneration(ctx, mode, req.ContentType, req.Body, req.Checkpoint)
	if err != nil {
		return nil, err
	}
	return &WorkOutput{Images: g.images, Info: g.info}, nil
}
