package server

import (
	"context"

	"github.com/sdapi/sdapi/gen"
)

// Generation, extras, interrogation and training come with later work.
// Until then each answers 501 in A1111's error shape: never a fake result.

func (s *Server) Text2imgapiSdapiV1Txt2imgPost(ctx context.Context, _ gen.Text2imgapiSdapiV1Txt2imgPostRequestObject) (gen.Text2imgapiSdapiV1Txt2imgPostResponseObject, error) {
	return nil, notImplemented("txt2img")
}

func (s *Server) Img2imgapiSdapiV1Img2imgPost(ctx context.Context, _ gen.Img2imgapiSdapiV1Img2imgPostRequestObject) (gen.Img2imgapiSdapiV1Img2imgPostResponseObject, error) {
	return nil, notImplemented("img2img")
}

func (s *Server) ExtrasSingleImageApiSdapiV1ExtraSingleImagePost(ctx context.Context, _ gen.ExtrasSingleImageApiSdapiV1ExtraSingleImagePostRequestObject) (gen.ExtrasSingleImageApiSdapiV1ExtraSingleImagePostResponseObject, error) {
	return nil, notImplemented("extra-single-image")
}

func (s *Server) ExtrasBatchImagesApiSdapiV1ExtraBatchImagesPost(ctx context.Context, _ gen.ExtrasBatchImagesApiSdapiV1ExtraBatchImagesPostRequestObject) (gen.ExtrasBatchImagesApiSdapiV1ExtraBatchImagesPostResponseObject, error) {
	return nil, notImplemented("extra-batch-images")
}

func (s *Server) InterrogateapiSdapiV1InterrogatePost(ctx context.Context, _ gen.InterrogateapiSdapiV1InterrogatePostRequestObject) (gen.InterrogateapiSdapiV1InterrogatePostResponseObject, error) {
	return nil, notImplemented("interrogate")
}

func (s *Server) CreateEmbeddingSdapiV1CreateEmbeddingPost(ctx context.Context, _ gen.CreateEmbeddingSdapiV1CreateEmbeddingPostRequestObject) (gen.CreateEmbeddingSdapiV1CreateEmbeddingPostResponseObject, error) {
	return nil, notImplemented("create/embedding")
}

func (s *Server) CreateHypernetworkSdapiV1CreateHypernetworkPost(ctx context.Context, _ gen.CreateHypernetworkSdapiV1CreateHypernetworkPostRequestObject) (gen.CreateHypernetworkSdapiV1CreateHypernetworkPostResponseObject, error) {
	return nil, notImplemented("create/hypernetwork")
}

func (s *Server) TrainEmbeddingSdapiV1TrainEmbeddingPost(ctx context.Context, _ gen.TrainEmbeddingSdapiV1TrainEmbeddingPostRequestObject) (gen.TrainEmbeddingSdapiV1TrainEmbeddingPostResponseObject, error) {
	return nil, notImplemented("train/embedding")
}

func (s *Server) TrainHypernetworkSdapiV1TrainHypernetworkPost(ctx context.Context, _ gen.TrainHypernetworkSdapiV1TrainHypernetworkPostRequestObject) (gen.TrainHypernetworkSdapiV1TrainHypernetworkPostResponseObject, error) {
	return nil, notImplemented("train/hypernetwork")
}
