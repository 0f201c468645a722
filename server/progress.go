package server

import (
	"context"

	"github.com/sdapi/sdapi/gen"
)

func (s *Server) ProgressapiSdapiV1ProgressGet(ctx context.Context, _ gen.ProgressapiSdapiV1ProgressGetRequestObject) (gen.ProgressapiSdapiV1ProgressGetResponseObject, error) {
	st := s.deps.State.Snapshot()
	return gen.ProgressapiSdapiV1ProgressGet200JSONResponse{
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
	}, nil
}

func (s *Server) InterruptapiSdapiV1InterruptPost(ctx context.Context, _ gen.InterruptapiSdapiV1InterruptPostRequestObject) (gen.InterruptapiSdapiV1InterruptPostResponseObject, error) {
	s.deps.State.Interrupt()
	return gen.InterruptapiSdapiV1InterruptPost200JSONResponse{}, nil
}

func (s *Server) SkipSdapiV1SkipPost(ctx context.Context, _ gen.SkipSdapiV1SkipPostRequestObject) (gen.SkipSdapiV1SkipPostResponseObject, error) {
	s.deps.State.Skip()
	return gen.SkipSdapiV1SkipPost200JSONResponse(nil), nil
}
