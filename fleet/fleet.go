// Package fleet runs sdapi-server as a fleet on NATS JetStream: API
// processes publish each generation and extras job to a work-queue stream,
// worker processes pull them one at a time, run them on their own server
// (the same decode, checks, queue and encoding as a single server) and
// publish the result.
//
// The API side (API) is a server.Jobs, so the handlers do not know whether
// a job runs in this process or on a worker. What travels:
//
//   - SDAPI_JOBS, a work-queue stream on sdapi.jobs.<model>, bounded by
//     the queue size with discard-new (a full stream is
//     queue.ErrQueueFull, 503 "Queue is full"), deduplicated on publish by
//     the job id (Nats-Msg-Id). A generation job's subject names the
//     checkpoint it runs on (modelKey; extras go to sdapi.jobs.any), and
//     each subject has one durable pull consumer, shared by every worker
//     holding that checkpoint: FIFO per checkpoint, and a job reaches only
//     workers that can run it. Workers ack explicitly, send in-progress
//     acks while a job runs, and a job whose worker died is redelivered
//     after AckWait. After each publish the API rings sdapi.ring.<model>,
//     so idle workers pull at once.
//   - Catalogs: each worker's heartbeat carries its checkpoints and VAEs;
//     an API's listings are the union over the live workers (Catalog).
//     LoRAs, embeddings and upscalers are asked of every live worker on
//     each listing (sdapi.worker.<id>.listings) and merged by name; the
//     refreshes of all of them go to every live worker
//     (sdapi.worker.<id>.refresh).
//   - Results on core NATS to the API that asked (sdapi.results.<api>);
//     the API takes the first result of a job id and drops the others, so a
//     redelivered job still answers its client once.
//   - Bodies, results and listings larger than half the server's
//     max_payload go through the sdapi_blobs object store; a message
//     names the object.
//   - Live state: workers heartbeat into the sdapi_workers key-value bucket
//     (entries expire when a worker dies) and answer state, interrupt,
//     skip, refresh and listings requests on sdapi.worker.<id>.*; jobs' starts are announced to
//     their API on sdapi.started.<api>; a client gone cancels its job
//     (sdapi.cancel.<job>) and deletes it from the stream.
//   - /options: the sdapi_options key-value bucket, one key per option
//     (Options).
package fleet

import (
	"time"

	"github.com/sdapi/sdapi/processing"
	"github.com/sdapi/sdapi/server"
)

const (
	jobsStream  = "SDAPI_JOBS"
	jobsSubject = "sdapi.jobs"
	ringSubject = "sdapi.ring"
	// legacyConsumer is the one consumer of the fleet before jobs were
	// routed by checkpoint; it would overlap the per-model ones.
	legacyConsumer = "sdapi-workers"
	blobBucket     = "sdapi_blobs"
	workersBucket  = "sdapi_workers"
	optionsBucket  = "sdapi_options"

	// heartbeatEvery is how often a worker writes its heartbeat; an entry
	// older than workerTTL is a dead worker's and expires.
	heartbeatEvery = time.Second
	workerTTL      = 5 * time.Second
	// maxDeliveries bounds how often a job is handed to a worker: a job
	// that kills every worker it runs on (or that workers keep giving back)
	// fails after this many, instead of going round the fleet forever.
	maxDeliveries = 4
	// requestTimeout bounds a state, interrupt or skip request to a worker.
	requestTimeout = 2 * time.Second
)

// maxDeliveriesSubject is JetStream's advisory of a job that reached
// maxDeliveries.
const maxDeliveriesSubject = "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES." + jobsStream + ".*"

// modelConsumer is the durable consumer of the jobs of model key.
func modelConsumer(key string) string { return "sdapi-model-" + key }

func resultSubject(api string) string  { return "sdapi.results." + api }
func startedSubject(api string) string { return "sdapi.started." + api }
func cancelSubject(job string) string  { return "sdapi.cancel." + job }
func workerSubject(worker, what string) string {
	return "sdapi.worker." + worker + "." + what
}

// jobMsg is one job on the stream.
type jobMsg struct {
	ID     string `json:"id"`  // unique per submission; the results' dedup key
	API    string `json:"api"` // the API instance waiting for the result
	TaskID string `json:"task_id,omitempty"`
	// Request is the job; its Body is empty when BodyBlob names it.
	Request  server.WorkRequest `json:"request"`
	BodyBlob string             `json:"body_blob,omitempty"`
}

// resultMsg is a worker's answer to one job.
type resultMsg struct {
	Job    string             `json:"job"`
	Output *server.WorkOutput `json:"output,omitempty"`
	// Blob names the object holding Output, too large for a message.
	Blob string `json:"blob,omitempty"`
}

// startedMsg tells an API that a worker began one of its jobs.
type startedMsg struct {
	Job    string `json:"job"`
	Worker string `json:"worker"`
}

// heartbeat is a worker's entry in the workers bucket.
type heartbeat struct {
	Worker   string `json:"worker"`
	Job      string `json:"job,omitempty"` // the job it runs, "" when idle
	Task     string `json:"task,omitempty"`
	Kind     string `json:"kind,omitempty"`
	Done     uint64 `json:"done"`      // jobs it finished
	Redelive uint64 `json:"redeliver"` // redelivered jobs it took
	// Catalog is what it has installed: it pulls the jobs of these
	// checkpoints (and extras).
	Catalog workerCatalog `json:"catalog"`
}

// liveMsg is a worker's answer to a state request.
type liveMsg struct {
	Job       string                   `json:"job"`
	State     processing.StateSnapshot `json:"state"`
	ImagePNG  []byte                   `json:"image_png,omitempty"`
	ImageStep int                      `json:"image_step"`
}

// stateRequest asks a worker for its state, or to interrupt or skip the
// job Job (ignored when it runs another by then).
type stateRequest struct {
	Job   string `json:"job,omitempty"`
	Image bool   `json:"image,omitempty"`
}
