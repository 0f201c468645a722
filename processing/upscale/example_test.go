package upscale_test

import (
	"context"
	"fmt"
	"image"

	"github.com/sdapi/sdapi/processing/upscale"
)

func ExampleRegistry_RunExtras() {
	reg := upscale.NewRegistry() // None, Lanczos, Nearest; ONNX models would be passed here
	req := upscale.DefaultExtrasRequest()
	req.Upscaler1 = "Lanczos"
	req.UpscalingResize = 2

	out, htmlInfo, err := reg.RunExtras(context.Background(), req, []image.Image{image.NewNRGBA(image.Rect(0, 0, 128, 128))})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(out[0].Bounds().Size(), htmlInfo)
	// Output: (256,256) <p>Postprocess upscale by: 2.0, Postprocess upscaler: Lanczos</p>
}
