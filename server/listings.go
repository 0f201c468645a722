package server

import (
	"context"
	"fmt"
	"net/http"

	"github.com/sdapi/sdapi/gen"
	"github.com/sdapi/sdapi/internal/pyfmt"
	"github.com/sdapi/sdapi/processing"
	"github.com/sdapi/sdapi/processing/upscale"
	"github.com/sdapi/sdapi/runner/sampling"
)

// The listings report what this server really has. Samplers and schedulers
// come from the runner's sampling package, latent upscale modes from what
// hires fix accepts, scripts from the Processor's registry; models, VAEs,
// LoRAs, embeddings and upscalers from Catalogs (this process's
// directories and extras registry, or a fleet's workers');
// hypernetworks and face restoration are not supported by the ONNX
// runner, so their lists are empty.

func (s *Server) GetSamplersSdapiV1SamplersGet(ctx context.Context, _ gen.GetSamplersSdapiV1SamplersGetRequestObject) (gen.GetSamplersSdapiV1SamplersGetResponseObject, error) {
	out := gen.GetSamplersSdapiV1SamplersGet200JSONResponse{}
	for _, sm := range sampling.Samplers() {
		aliases := append([]string{}, sm.Aliases...)
		opts := make(map[string]string, len(sm.Options))
		for k, v := range sm.Options {
			// SamplerItem.options is dict[str, str]: pydantic v1 str()s
			// each value, so True is "True".
			opts[k] = pyStr(v)
		}
		out = append(out, gen.SamplerItem{Name: sm.Name, Aliases: aliases, Options: opts})
	}
	return out, nil
}

func (s *Server) GetSchedulersSdapiV1SchedulersGet(ctx context.Context, _ gen.GetSchedulersSdapiV1SchedulersGetRequestObject) (gen.GetSchedulersSdapiV1SchedulersGetResponseObject, error) {
	out := gen.GetSchedulersSdapiV1SchedulersGet200JSONResponse{}
	for _, sc := range sampling.Schedulers() {
		item := gen.SchedulerItem{Name: sc.Name, Label: sc.Label, DefaultRho: &sc.DefaultRho, NeedInnerModel: &sc.NeedInnerModel}
		if sc.Aliases != nil {
			aliases := append([]string{}, sc.Aliases...)
			item.Aliases = &aliases
		}
		out = append(out, item)
	}
	return ok200(out), nil
}

func (s *Server) GetUpscalersSdapiV1UpscalersGet(ctx context.Context, _ gen.GetUpscalersSdapiV1UpscalersGetRequestObject) (gen.GetUpscalersSdapiV1UpscalersGetResponseObject, error) {
	out := gen.GetUpscalersSdapiV1UpscalersGet200JSONResponse{}
	for _, u := range s.cats.Upscalers(ctx) {
		scale := u.Scale
		out = append(out, gen.UpscalerItem{Name: u.Name, ModelName: u.ModelName, ModelPath: u.ModelPath, ModelUrl: u.ModelURL, Scale: &scale})
	}
	return ok200(out), nil
}

func (s *Server) GetLatentUpscaleModesSdapiV1LatentUpscaleModesGet(ctx context.Context, _ gen.GetLatentUpscaleModesSdapiV1LatentUpscaleModesGetRequestObject) (gen.GetLatentUpscaleModesSdapiV1LatentUpscaleModesGetResponseObject, error) {
	// processing's hires fix accepts all six (approximated in image space).
	out := gen.GetLatentUpscaleModesSdapiV1LatentUpscaleModesGet200JSONResponse{}
	for _, name := range upscale.LatentModes() {
		out = append(out, gen.LatentUpscalerModeItem{Name: name})
	}
	return out, nil
}

func (s *Server) GetSdModelsSdapiV1SdModelsGet(ctx context.Context, _ gen.GetSdModelsSdapiV1SdModelsGetRequestObject) (gen.GetSdModelsSdapiV1SdModelsGetResponseObject, error) {
	out := gen.GetSdModelsSdapiV1SdModelsGet200JSONResponse{}
	for _, ck := range s.cats.Checkpoints() {
		out = append(out, gen.SDModelItem{Title: ck.Title, ModelName: ck.ModelName, Filename: ck.Filename, Hash: ck.Hash, Sha256: ck.SHA256})
	}
	return out, nil
}

func (s *Server) GetSdVaesSdapiV1SdVaeGet(ctx context.Context, _ gen.GetSdVaesSdapiV1SdVaeGetRequestObject) (gen.GetSdVaesSdapiV1SdVaeGetResponseObject, error) {
	out := gen.GetSdVaesSdapiV1SdVaeGet200JSONResponse{}
	for _, v := range s.cats.VAEs() {
		out = append(out, gen.SDVaeItem{ModelName: v.ModelName, Filename: v.Filename})
	}
	return out, nil
}

func (s *Server) GetHypernetworksSdapiV1HypernetworksGet(ctx context.Context, _ gen.GetHypernetworksSdapiV1HypernetworksGetRequestObject) (gen.GetHypernetworksSdapiV1HypernetworksGetResponseObject, error) {
	return gen.GetHypernetworksSdapiV1HypernetworksGet200JSONResponse{}, nil
}

func (s *Server) GetFaceRestorersSdapiV1FaceRestorersGet(ctx context.Context, _ gen.GetFaceRestorersSdapiV1FaceRestorersGetRequestObject) (gen.GetFaceRestorersSdapiV1FaceRestorersGetResponseObject, error) {
	return gen.GetFaceRestorersSdapiV1FaceRestorersGet200JSONResponse{}, nil
}

func (s *Server) GetRealesrganModelsSdapiV1RealesrganModelsGet(ctx context.Context, _ gen.GetRealesrganModelsSdapiV1RealesrganModelsGetRequestObject) (gen.GetRealesrganModelsSdapiV1RealesrganModelsGetResponseObject, error) {
	// A1111 lists the RealESRGAN upscaler's models here; on this server
	// those are the ONNX upscalers loaded from the RealESRGAN directory.
	out := gen.GetRealesrganModelsSdapiV1RealesrganModelsGet200JSONResponse{}
	for _, u := range s.cats.Upscalers(ctx) {
		if u.ModelName == nil || *u.ModelName != "RealESRGAN" {
			continue
		}
		scale := int(u.Scale)
		out = append(out, gen.RealesrganItem{Name: u.Name, Path: u.ModelPath, Scale: &scale})
	}
	return out, nil
}

func (s *Server) GetPromptStylesSdapiV1PromptStylesGet(ctx context.Context, _ gen.GetPromptStylesSdapiV1PromptStylesGetRequestObject) (gen.GetPromptStylesSdapiV1PromptStylesGetResponseObject, error) {
	styles, err := s.deps.Styles.Styles()
	if err != nil {
		return nil, err
	}
	out := gen.GetPromptStylesSdapiV1PromptStylesGet200JSONResponse{}
	for _, st := range styles {
		out = append(out, gen.PromptStyleItem{Name: st.Name, Prompt: &st.Prompt, NegativePrompt: &st.NegativePrompt})
	}
	return out, nil
}

// GetEmbeddingsSdapiV1EmbeddingsGet is api.get_embeddings: the embeddings
// directory split by the loaded model's expected shape (all loaded when no
// model is loaded, as A1111's expected_shape -1). Files that did not load
// at all are in neither map, as in A1111; the server logs why.
func (s *Server) GetEmbeddingsSdapiV1EmbeddingsGet(ctx context.Context, _ gen.GetEmbeddingsSdapiV1EmbeddingsGetRequestObject) (gen.GetEmbeddingsSdapiV1EmbeddingsGetResponseObject, error) {
	out := gen.GetEmbeddingsSdapiV1EmbeddingsGet200JSONResponse{Loaded: map[string]gen.EmbeddingItem{}, Skipped: map[string]gen.EmbeddingItem{}}
	split := s.cats.Embeddings(ctx)
	for _, e := range split.Loaded {
		out.Loaded[e.Name] = gen.EmbeddingItem{Shape: e.Shape, Vectors: e.Vectors}
	}
	for _, e := range split.Skipped {
		out.Skipped[e.Name] = gen.EmbeddingItem{Shape: e.Shape, Vectors: e.Vectors}
	}
	return out, nil
}

// GetLorasSdapiV1LorasGet is the Lora extension's /loras: every file of
// the Lora directory as create_lora_json writes it, pickle and unreadable
// files included (metadata {}), as A1111 lists them.
func (s *Server) GetLorasSdapiV1LorasGet(ctx context.Context, _ gen.GetLorasSdapiV1LorasGetRequestObject) (gen.GetLorasSdapiV1LorasGetResponseObject, error) {
	out := gen.GetLorasSdapiV1LorasGet200JSONResponse{}
	for _, l := range s.cats.Loras(ctx) {
		alias, meta := l.Alias, l.Metadata
		out = append(out, gen.LoraItem{Name: l.Name, Alias: &alias, Path: l.Path, Metadata: &meta})
	}
	return out, nil
}

func (s *Server) GetScriptsListSdapiV1ScriptsGet(ctx context.Context, _ gen.GetScriptsListSdapiV1ScriptsGetRequestObject) (gen.GetScriptsListSdapiV1ScriptsGetResponseObject, error) {
	sc := s.scripts()
	// Lists, never null: A1111 always has its built-in scripts to list.
	t2i := append([]string{}, sc.Titles(processing.Txt2Img)...)
	i2i := append([]string{}, sc.Titles(processing.Img2Img)...)
	return gen.GetScriptsListSdapiV1ScriptsGet200JSONResponse{Txt2img: t2i, Img2img: i2i}, nil
}

func (s *Server) GetScriptInfoSdapiV1ScriptInfoGet(ctx context.Context, _ gen.GetScriptInfoSdapiV1ScriptInfoGetRequestObject) (gen.GetScriptInfoSdapiV1ScriptInfoGetResponseObject, error) {
	out := gen.GetScriptInfoSdapiV1ScriptInfoGet200JSONResponse{}
	for _, info := range s.scripts().Infos() {
		args := make([]gen.ScriptArg, 0, len(info.Args))
		for _, a := range info.Args {
			label := a.Label
			arg := gen.ScriptArg{Label: &label, Value: a.Value, Minimum: a.Minimum, Maximum: a.Maximum, Step: a.Step}
			if a.Choices != nil {
				choices := append([]string{}, a.Choices...)
				arg.Choices = &choices
			}
			args = append(args, arg)
		}
		name, alwaysOn, img2img := info.Name, info.IsAlwaysOn, info.IsImg2Img
		out = append(out, gen.ScriptInfo{Name: &name, IsAlwayson: &alwaysOn, IsImg2img: &img2img, Args: args})
	}
	return ok200(out), nil // arg values and bounds print as Python holds them (0.8, 1.0)
}

// scripts is the Processor's script registry; nil (no scripts) without one.
func (s *Server) scripts() *processing.Scripts {
	if s.deps.Processor == nil {
		return nil
	}
	return s.deps.Processor.Scripts
}

func (s *Server) GetExtensionsListSdapiV1ExtensionsGet(ctx context.Context, _ gen.GetExtensionsListSdapiV1ExtensionsGetRequestObject) (gen.GetExtensionsListSdapiV1ExtensionsGetResponseObject, error) {
	return gen.GetExtensionsListSdapiV1ExtensionsGet200JSONResponse{}, nil
}

func (s *Server) RefreshCheckpointsSdapiV1RefreshCheckpointsPost(ctx context.Context, _ gen.RefreshCheckpointsSdapiV1RefreshCheckpointsPostRequestObject) (gen.RefreshCheckpointsSdapiV1RefreshCheckpointsPostResponseObject, error) {
	if err := s.cats.RefreshCheckpoints(ctx); err != nil {
		return nil, err
	}
	return gen.RefreshCheckpointsSdapiV1RefreshCheckpointsPost200JSONResponse(nil), nil
}

func (s *Server) RefreshVaeSdapiV1RefreshVaePost(ctx context.Context, _ gen.RefreshVaeSdapiV1RefreshVaePostRequestObject) (gen.RefreshVaeSdapiV1RefreshVaePostResponseObject, error) {
	if err := s.cats.RefreshVAEs(ctx); err != nil {
		return nil, err
	}
	return gen.RefreshVaeSdapiV1RefreshVaePost200JSONResponse(nil), nil
}

// RefreshEmbeddingsSdapiV1RefreshEmbeddingsPost rereads the embeddings
// directory (load_textual_inversion_embeddings(force_reload=True)); like
// A1111 it answers null.
func (s *Server) RefreshEmbeddingsSdapiV1RefreshEmbeddingsPost(ctx context.Context, _ gen.RefreshEmbeddingsSdapiV1RefreshEmbeddingsPostRequestObject) (gen.RefreshEmbeddingsSdapiV1RefreshEmbeddingsPostResponseObject, error) {
	if err := s.cats.RefreshEmbeddings(ctx); err != nil {
		return nil, err
	}
	return gen.RefreshEmbeddingsSdapiV1RefreshEmbeddingsPost200JSONResponse(nil), nil
}

// RefreshLorasSdapiV1RefreshLorasPost rescans the Lora directory
// (list_available_networks, which returns None).
func (s *Server) RefreshLorasSdapiV1RefreshLorasPost(ctx context.Context, _ gen.RefreshLorasSdapiV1RefreshLorasPostRequestObject) (gen.RefreshLorasSdapiV1RefreshLorasPostResponseObject, error) {
	if err := s.cats.RefreshLoras(ctx); err != nil {
		return nil, err
	}
	return gen.RefreshLorasSdapiV1RefreshLorasPost200JSONResponse(nil), nil
}

// pyStr is Python's str() of a JSON-like value, as pydantic v1 coerces a
// value into a str field.
func pyStr(v any) string {
	switch x := v.(type) {
	case nil:
		return "None"
	case bool:
		if x {
			return "True"
		}
		return "False"
	case string:
		return x
	case float64:
		return pyfmt.Float(x)
	case float32:
		return pyfmt.Float(float64(x))
	}
	return fmt.Sprint(v)
}

func (r pyJSON) VisitGetSchedulersSdapiV1SchedulersGetResponse(w http.ResponseWriter) error {
	return r.visit(w)
}

func (r pyJSON) VisitGetUpscalersSdapiV1UpscalersGetResponse(w http.ResponseWriter) error {
	return r.visit(w)
}

func (r pyJSON) VisitGetScriptInfoSdapiV1ScriptInfoGetResponse(w http.ResponseWriter) error {
	return r.visit(w)
}
