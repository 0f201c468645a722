package server

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"

	"github.com/sdapi/sdapi/gen"
)

func (s *Server) GetCmdFlagsSdapiV1CmdFlagsGet(ctx context.Context, _ gen.GetCmdFlagsSdapiV1CmdFlagsGetRequestObject) (gen.GetCmdFlagsSdapiV1CmdFlagsGetResponseObject, error) {
	body, err := flagsBody(s.cfg.Flags)
	if err != nil {
		return nil, err
	}
	return ok200(body), nil
}

// GetMemorySdapiV1MemoryGet is A1111's get_memory: ram and cuda only.
// There is no CUDA device in torch's sense, so cuda is A1111's
// {"error": "unavailable"}.
func (s *Server) GetMemorySdapiV1MemoryGet(ctx context.Context, _ gen.GetMemorySdapiV1MemoryGetRequestObject) (gen.GetMemorySdapiV1MemoryGetResponseObject, error) {
	return ok200(pyObject{
		{Key: "ram", Value: ramStats()},
		{Key: "cuda", Value: pyObject{{Key: "error", Value: "unavailable"}}},
	}), nil
}

// ramStats mirrors A1111's get_memory: used is this process's resident set
// (an int), total the machine's memory and free their difference, both
// floats as A1111 computes them (100 * rss / memory_percent).
func ramStats() pyObject {
	total, err := procField("/proc/meminfo", "MemTotal:")
	if err == nil {
		var rss int64
		if rss, err = procField("/proc/self/status", "VmRSS:"); err == nil {
			return pyObject{
				{Key: "free", Value: float64(total - rss)},
				{Key: "used", Value: rss},
				{Key: "total", Value: float64(total)},
			}
		}
	}
	return pyObject{{Key: "error", Value: err.Error()}}
}

// procField reads a "Name:   1234 kB" line of a /proc file, in bytes.
func procField(path, name string) (int64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 2 && f[0] == name {
			n, err := strconv.ParseInt(f[1], 10, 64)
			if err != nil {
				return 0, fmt.Errorf("%s %s: %w", path, name, err)
			}
			if len(f) >= 3 && f[2] == "kB" {
				n *= 1024
			}
			return n, nil
		}
	}
	return 0, fmt.Errorf("%s: no %s line", path, name)
}

// UnloadapiSdapiV1UnloadCheckpointPost is A1111's unloadapi: the loaded
// model leaves memory; the next job loads it again.
func (s *Server) UnloadapiSdapiV1UnloadCheckpointPost(ctx context.Context, _ gen.UnloadapiSdapiV1UnloadCheckpointPostRequestObject) (gen.UnloadapiSdapiV1UnloadCheckpointPostResponseObject, error) {
	if s.deps.Models != nil {
		if err := s.exclusive(ctx, "unload-checkpoint", func(context.Context) error { return s.deps.Models.Unload() }); err != nil {
			return nil, err
		}
	}
	return gen.UnloadapiSdapiV1UnloadCheckpointPost200JSONResponse{}, nil
}

// ReloadapiSdapiV1ReloadCheckpointPost is A1111's reloadapi: load the
// sd_model_checkpoint and sd_vae options' model now.
func (s *Server) ReloadapiSdapiV1ReloadCheckpointPost(ctx context.Context, _ gen.ReloadapiSdapiV1ReloadCheckpointPostRequestObject) (gen.ReloadapiSdapiV1ReloadCheckpointPostResponseObject, error) {
	if s.deps.Models == nil {
		return nil, notImplemented("reload-checkpoint (no model runner is configured)")
	}
	reload := func(ctx context.Context) error {
		return s.deps.Models.Reload(ctx, s.deps.Options.String("sd_model_checkpoint"), s.deps.Options.String("sd_vae"))
	}
	if err := s.exclusive(ctx, "reload-checkpoint", reload); err != nil {
		return nil, err
	}
	return gen.ReloadapiSdapiV1ReloadCheckpointPost200JSONResponse{}, nil
}

// exclusive runs fn as a job of the queue, so that no generation uses the
// model while it is unloaded or replaced.
func (s *Server) exclusive(ctx context.Context, name string, fn func(context.Context) error) error {
	if s.deps.Queue == nil {
		return fn(ctx)
	}
	return s.deps.Queue.Do(ctx, name, fn)
}

func (s *Server) StopWebuiSdapiV1ServerStopPost(ctx context.Context, _ gen.StopWebuiSdapiV1ServerStopPostRequestObject) (gen.StopWebuiSdapiV1ServerStopPostResponseObject, error) {
	return afterReply{status: http.StatusOK, text: "Stopping.", then: s.deps.Lifecycle.Stop}, nil
}

func (s *Server) KillWebuiSdapiV1ServerKillPost(ctx context.Context, _ gen.KillWebuiSdapiV1ServerKillPostRequestObject) (gen.KillWebuiSdapiV1ServerKillPostResponseObject, error) {
	return afterReply{status: http.StatusOK, then: s.deps.Lifecycle.Kill}, nil
}

func (s *Server) RestartWebuiSdapiV1ServerRestartPost(ctx context.Context, _ gen.RestartWebuiSdapiV1ServerRestartPostRequestObject) (gen.RestartWebuiSdapiV1ServerRestartPostResponseObject, error) {
	restart := func() {
		if err := s.deps.Lifecycle.Restart(); err != nil {
			s.log.Error("restart failed", "err", err)
		}
	}
	return afterReply{status: http.StatusOK, then: restart}, nil
}

// afterReply writes its answer, flushes it to the client, then runs then:
// the process is about to stop, so the reply must leave first.
type afterReply struct {
	status int
	text   string
	then   func()
}

func (r afterReply) visit(w http.ResponseWriter) error {
	if r.text != "" {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	}
	w.WriteHeader(r.status)
	_, err := w.Write([]byte(r.text))
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
	go r.then()
	return err
}

func (r afterReply) VisitStopWebuiSdapiV1ServerStopPostResponse(w http.ResponseWriter) error {
	return r.visit(w)
}

func (r afterReply) VisitKillWebuiSdapiV1ServerKillPostResponse(w http.ResponseWriter) error {
	return r.visit(w)
}

func (r afterReply) VisitRestartWebuiSdapiV1ServerRestartPostResponse(w http.ResponseWriter) error {
	return r.visit(w)
}

func (r pyJSON) VisitGetCmdFlagsSdapiV1CmdFlagsGetResponse(w http.ResponseWriter) error {
	return r.visit(w)
}

func (r pyJSON) VisitGetMemorySdapiV1MemoryGetResponse(w http.ResponseWriter) error {
	return r.visit(w)
}
