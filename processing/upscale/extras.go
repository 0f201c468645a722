package upscale

import (
	"context"
	"fmt"
	"image"
	"strings"

	"github.com/sdapi/sdapi/internal/apierr"
	"github.com/sdapi/sdapi/processing/infotext"
)

// ExtrasRequest holds the fields of ExtrasSingleImageRequest and
// ExtrasBatchImagesRequest that A1111's run_extras uses. Start from
// DefaultExtrasRequest so unset fields get the API's defaults.
type ExtrasRequest struct {
	// ResizeMode 0 scales by UpscalingResize; 1 scales to
	// UpscalingResizeW × UpscalingResizeH.
	ResizeMode       int
	UpscalingResize  float64
	UpscalingResizeW int
	UpscalingResizeH int
	// UpscalingCrop (mode 1) centres the upscaled image on a black canvas
	// of exactly the target size.
	UpscalingCrop bool

	// Upscaler1 and Upscaler2 are upscaler names; "" means "None".
	Upscaler1           string
	Upscaler2           string
	Upscaler2Visibility float64

	// GFPGANVisibility and CodeFormerVisibility above 0 are refused with
	// ErrFaceRestoreUnavailable. CodeFormerWeight only matters with
	// CodeFormer.
	GFPGANVisibility     float64
	CodeFormerVisibility float64
	CodeFormerWeight     float64

	// UpscaleFirst and ShowExtrasResults are accepted for compatibility
	// and have no effect, as in A1111 v1.10: run_extras no longer passes
	// upscale_first on (the operation order is an option, and without
	// face restoration only the upscale runs), and the API modes always
	// return the images.
	UpscaleFirst      bool
	ShowExtrasResults bool
}

// DefaultExtrasRequest returns the API's defaults (models.py).
func DefaultExtrasRequest() ExtrasRequest {
	return ExtrasRequest{
		UpscalingResize:   2,
		UpscalingResizeW:  512,
		UpscalingResizeH:  512,
		UpscalingCrop:     true,
		Upscaler1:         "None",
		Upscaler2:         "None",
		ShowExtrasResults: true,
	}
}

// ExtrasResult is what run_postprocessing produces for API calls.
type ExtrasResult struct {
	// Images are opaque RGB images, one per input.
	Images []image.Image
	// Infotexts are the per-image postprocessing texts ("Postprocess
	// upscale by: 2.0, Postprocess upscaler: Lanczos"), which A1111 also
	// stores in the image's "postprocessing" PNG text chunk.
	Infotexts []string
	// HTMLInfo is plaintext_to_html of the last image's infotext; for no
	// images, or no upscaling, it is "<p></p>".
	HTMLInfo string
}

// RunExtras is Extras returning only the images and html_info, the two
// things the extras endpoints answer with.
func (r *Registry) RunExtras(ctx context.Context, req ExtrasRequest, imgs []image.Image) ([]image.Image, string, error) {
	res, err := r.Extras(ctx, req, imgs)
	if err != nil {
		return nil, "", err
	}
	return res.Images, res.HTMLInfo, nil
}

// Extras is A1111's run_extras with the built-in Upscale postprocessing
// script (scripts/postprocessing_upscale.py): every image is converted to
// RGB and upscaled by Upscaler1, blended with Upscaler2's result by
// Upscaler2Visibility when that is above 0. Upscaler1 "None" leaves the
// image unchanged and Upscaler2 unchecked, as in A1111.
//
// It returns ErrFaceRestoreUnavailable when face restoration is asked
// for, an error wrapping ErrUpscalerNotFound ("could not find upscaler
// named X") for an unknown name, ErrInvalid for a size that Pillow would
// reject, and ctx.Err() when ctx ends between steps.
func (r *Registry) Extras(ctx context.Context, req ExtrasRequest, imgs []image.Image) (*ExtrasResult, error) {
	if req.GFPGANVisibility > 0 {
		return nil, apierr.Unsupported("%s (gfpgan_visibility %v)", noFaceRestore, req.GFPGANVisibility)
	}
	if req.CodeFormerVisibility > 0 {
		return nil, apierr.Unsupported("%s (codeformer_visibility %v)", noFaceRestore, req.CodeFormerVisibility)
	}
	if req.ResizeMode != 0 && req.ResizeMode != 1 {
		return nil, apierr.Invalid("resize_mode", "resize_mode %d", req.ResizeMode)
	}
	res := &ExtrasResult{}
	infotext := ""
	for _, img := range imgs {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		out, info, err := r.postprocess(ctx, req, toRGB(img))
		if err != nil {
			return nil, err
		}
		infotext = info
		res.Images = append(res.Images, out)
		res.Infotexts = append(res.Infotexts, info)
	}
	res.HTMLInfo = plaintextToHTML(infotext)
	return res, nil
}

// Upscales reports whether the request upscales at all: with upscaler_1
// None the image comes back as it is.
func (req ExtrasRequest) Upscales() bool { return req.Upscaler1 != "" && req.Upscaler1 != "None" }

// Scale is the factor the upscale applies to a w×h image: upscaling_resize,
// or for resize mode 1 the larger of the two ratios to the target size.
func (req ExtrasRequest) Scale(w, h int) float64 {
	if req.ResizeMode == 1 {
		return max(float64(req.UpscalingResizeW)/float64(w), float64(req.UpscalingResizeH)/float64(h))
	}
	return req.UpscalingResize
}

// postprocess is ScriptPostprocessingUpscale.process for one RGB image.
func (r *Registry) postprocess(ctx context.Context, req ExtrasRequest, img *image.NRGBA) (*image.NRGBA, string, error) {
	var info ppInfo
	if !req.Upscales() {
		return img, info.String(), nil
	}
	up1, err := r.Lookup(req.Upscaler1)
	if err != nil {
		return nil, "", err
	}
	var up2 *Upscaler
	if req.Upscaler2 != "" && req.Upscaler2 != "None" {
		u, err := r.Lookup(req.Upscaler2)
		if err != nil {
			return nil, "", err
		}
		up2 = &u
	}
	out, err := extrasUpscale(ctx, img, &info, up1, req)
	if err != nil {
		return nil, "", err
	}
	info.set("Postprocess upscaler", up1.Name)
	if up2 != nil && req.Upscaler2Visibility > 0 {
		second, err := extrasUpscale(ctx, img, &info, *up2, req)
		if err != nil {
			return nil, "", err
		}
		if out, err = blend(out, second, req.Upscaler2Visibility); err != nil {
			return nil, "", err
		}
		info.set("Postprocess upscaler 2", up2.Name)
	}
	return out, info.String(), nil
}

// extrasUpscale is ScriptPostprocessingUpscale.upscale (the API never sets
// max_side_length, so that branch is absent).
func extrasUpscale(ctx context.Context, img *image.NRGBA, info *ppInfo, up Upscaler, req ExtrasRequest) (*image.NRGBA, error) {
	scale := req.Scale(img.Rect.Dx(), img.Rect.Dy())
	if req.ResizeMode == 1 {
		w, h := req.UpscalingResizeW, req.UpscalingResizeH
		if w <= 0 || h <= 0 {
			return nil, apierr.Invalid("", "upscale to %dx%d", w, h)
		}
		info.set("Postprocess upscale to", fmt.Sprintf("%dx%d", w, h))
	} else {
		info.set("Postprocess upscale by", scale)
	}
	if !(scale > 0) {
		return nil, apierr.Invalid("", "upscale by %v", scale)
	}
	out, err := up.Upscale(ctx, img, scale)
	if err != nil {
		return nil, err
	}
	if req.ResizeMode == 1 && req.UpscalingCrop {
		w, h := req.UpscalingResizeW, req.UpscalingResizeH
		cropped := newBlack(w, h)
		pasteRGB(cropped, out, w/2-out.Rect.Dx()/2, h/2-out.Rect.Dy()/2)
		out = cropped
		info.set("Postprocess crop to", fmt.Sprintf("%dx%d", w, h))
	}
	return out, nil
}

// blend is Pillow's Image.blend(a, b, alpha) for 0 < alpha: each byte is
// a + alpha*(b-a) in single precision, truncated.
func blend(a, b *image.NRGBA, alpha float64) (*image.NRGBA, error) {
	if a.Rect.Size() != b.Rect.Size() {
		return nil, apierr.Invalid("", "blending %v with %v: images do not match", a.Rect.Size(), b.Rect.Size())
	}
	if alpha == 1 {
		return cloneNRGBA(b), nil
	}
	al := float32(alpha)
	out := image.NewNRGBA(a.Rect)
	for i := range out.Pix {
		v := float32(a.Pix[i]) + float32(al*float32(int(b.Pix[i])-int(a.Pix[i])))
		if alpha > 1 || alpha < 0 {
			v = min(max(v, 0), 255)
		}
		out.Pix[i] = uint8(v)
	}
	return out, nil
}

// ppInfo is PostprocessedImage.info: an insertion-ordered dict whose
// re-assigned keys keep their first position.
type ppInfo struct {
	kv []infotext.KV
}

func (p *ppInfo) set(key string, v any) {
	for i := range p.kv {
		if p.kv[i].Key == key {
			p.kv[i].Value = v
			return
		}
	}
	p.kv = append(p.kv, infotext.KV{Key: key, Value: v})
}

// String is run_postprocessing's infotext: "k: quote(v)" joined by ", ",
// a value equal to its key written bare.
func (p *ppInfo) String() string {
	return infotext.Format("", "", p.kv)
}

// plaintextToHTML is A1111's ui_common.plaintext_to_html without a class.
func plaintextToHTML(text string) string {
	lines := strings.Split(text, "\n")
	for i, l := range lines {
		lines[i] = pyHTMLEscape.Replace(l)
	}
	return "<p>" + strings.Join(lines, "<br>\n") + "</p>"
}

// pyHTMLEscape is Python's html.escape(s, quote=True).
var pyHTMLEscape = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;", "'", "&#x27;")
