package conformance

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"image"
	_ "image/jpeg" // A1111 can be set to answer jpg
	"maps"
	"regexp"
	"strings"

	. "github.com/onsi/gomega"
)

// smallTxt2Img is a fast, fully specified txt2img request; overrides
// replace or add keys.
func (suite *Suite) smallTxt2Img(overrides map[string]any) map[string]any {
	req := map[string]any{
		"prompt":          "a red cube on a wooden table",
		"negative_prompt": "blurry",
		"seed":            1234,
		"steps":           smallSteps,
		"cfg_scale":       7,
		"width":           smallSize,
		"height":          smallSize,
		"sampler_name":    suite.currentSampler(),
		"batch_size":      1,
		"n_iter":          1,
	}
	maps.Copy(req, overrides)
	return req
}

// smallImg2Img is smallTxt2Img for img2img with a 64×64 init image.
func (suite *Suite) smallImg2Img(overrides map[string]any) map[string]any {
	req := suite.smallTxt2Img(nil)
	req["init_images"] = []string{pngBase64(testImage(smallSize, smallSize, 7))}
	req["denoising_strength"] = 0.6
	maps.Copy(req, overrides)
	return req
}

// currentSampler is the sampler BeforeSuite picked ("Euler" before it).
func (suite *Suite) currentSampler() string {
	if suite.sampler != "" {
		return suite.sampler
	}
	return "Euler"
}

// genResult is a decoded TextToImageResponse / ImageToImageResponse.
type genResult struct {
	ex      *Exchange
	req     map[string]any
	pngs    [][]byte
	images  []image.Image
	infoRaw string
	info    map[string]any // nil when info is not a JSON object
	params  map[string]any
}

// generate POSTs req to path (/txt2img or /img2img), expects 200 and
// decodes every image. The images are kept for the contact sheet.
func (suite *Suite) generate(ctx context.Context, path string, req map[string]any) *genResult {
	return suite.decodeGen(suite.post(ctx, path, req), path, req)
}

// decodeGen is generate for an exchange already made.
func (suite *Suite) decodeGen(ex *Exchange, path string, req map[string]any) *genResult {
	ExpectWithOffset(1, ex.Status).To(Equal(200), "expected 200 from POST %s, got %s\n%s", path, ex.Seen(), ex.Describe())
	var body struct {
		Images     []string       `json:"images"`
		Parameters map[string]any `json:"parameters"`
		Info       string         `json:"info"`
	}
	ExpectWithOffset(1, json.Unmarshal(ex.Body, &body)).To(Succeed(), "expected {images, parameters, info} from POST %s, got %s\n%s", path, ex.Seen(), ex.Describe())
	g := &genResult{ex: ex, req: req, infoRaw: body.Info, params: body.Parameters}
	dec := json.NewDecoder(strings.NewReader(body.Info))
	dec.UseNumber()
	if dec.Decode(&g.info) != nil {
		g.info = nil
	}
	for i, s := range body.Images {
		ExpectWithOffset(1, s).NotTo(HavePrefix("data:"), "expected images[%d] as plain base64, got a data: URI", i)
		raw, err := base64.StdEncoding.DecodeString(s)
		ExpectWithOffset(1, err).NotTo(HaveOccurred(), "expected images[%d] to be base64, got undecodable text", i)
		img, _, err := image.Decode(bytes.NewReader(raw))
		ExpectWithOffset(1, err).NotTo(HaveOccurred(), "expected images[%d] to decode as an image, got undecodable bytes", i)
		g.pngs = append(g.pngs, raw)
		g.images = append(g.images, img)
		name := "generated"
		if cur := suite.current.Load(); cur != nil {
			name = cur.req.ID
		}
		suite.keepImage(fmt.Sprintf("%s-%d", name, i), img)
	}
	if v, ok := g.info["version"].(string); ok && v != "" {
		suite.noteVersion(v)
	}
	return g
}

// txt2img is generate for /txt2img.
func (suite *Suite) txt2img(ctx context.Context, req map[string]any) *genResult {
	return suite.generate(ctx, "/txt2img", req)
}

// infoInt reads an integer key of info.
func (g *genResult) infoInt(key string) int64 {
	n, ok := g.info[key].(json.Number)
	ExpectWithOffset(1, ok).To(BeTrue(), "expected info.%s to be a number, got %s\ninfo: %s", key, shorten(fmt.Sprint(g.info[key]), 60), truncate(g.infoRaw, 800))
	v, err := n.Int64()
	ExpectWithOffset(1, err).NotTo(HaveOccurred(), "expected info.%s to be an integer, got %s", key, n)
	return v
}

// infoInts reads an integer array key of info.
func (g *genResult) infoInts(key string) []int64 {
	arr, ok := g.info[key].([]any)
	ExpectWithOffset(1, ok).To(BeTrue(), "expected info.%s to be an array, got %s\ninfo: %s", key, shorten(fmt.Sprint(g.info[key]), 60), truncate(g.infoRaw, 800))
	out := make([]int64, len(arr))
	for i, x := range arr {
		n, ok := x.(json.Number)
		ExpectWithOffset(1, ok).To(BeTrue(), "expected info.%s[%d] to be a number, got %v", key, i, x)
		v, err := n.Int64()
		ExpectWithOffset(1, err).NotTo(HaveOccurred())
		out[i] = v
	}
	return out
}

// infotexts reads info.infotexts.
func (g *genResult) infotexts() []string {
	arr, ok := g.info["infotexts"].([]any)
	ExpectWithOffset(1, ok).To(BeTrue(), "expected info.infotexts to be an array, got %s\ninfo: %s", shorten(fmt.Sprint(g.info["infotexts"]), 60), truncate(g.infoRaw, 800))
	out := make([]string, len(arr))
	for i, x := range arr {
		s, ok := x.(string)
		ExpectWithOffset(1, ok).To(BeTrue(), "expected info.infotexts[%d] to be a string, got %T", i, x)
		out[i] = s
	}
	return out
}

// A1111's infotext regexes (modules/infotext_utils.py).
var (
	reParam     = regexp.MustCompile(`\s*(\w[\w \-/]+):\s*("(?:\\.|[^\\"])+"|[^,]*)(?:,|$)`)
	reImageSize = regexp.MustCompile(`^(\d+)x(\d+)$`)
)

// parseInfotext is parse_generation_parameters without the defaults and
// backcompat: Prompt, Negative prompt and the key/value pairs of the last
// line (values as strings, WxH split into Key-1/Key-2).
func parseInfotext(x string) map[string]string {
	res := map[string]string{}
	lines := strings.Split(strings.TrimSpace(x), "\n")
	last := lines[len(lines)-1]
	lines = lines[:len(lines)-1]
	if len(reParam.FindAllStringSubmatch(last, -1)) < 3 {
		lines = append(lines, last)
		last = ""
	}
	var prompt, neg []string
	done := false
	for _, line := range lines {
		line = strings.TrimSpace(line)
		if rest, ok := strings.CutPrefix(line, "Negative prompt:"); ok {
			done = true
			line = strings.TrimSpace(rest)
		}
		if done {
			neg = append(neg, line)
		} else {
			prompt = append(prompt, line)
		}
	}
	res["Prompt"] = strings.Join(prompt, "\n")
	res["Negative prompt"] = strings.Join(neg, "\n")
	for _, m := range reParam.FindAllStringSubmatch(last, -1) {
		k, v := m[1], m[2]
		if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
			var s string
			if json.Unmarshal([]byte(v), &s) == nil {
				v = s
			}
		}
		if sz := reImageSize.FindStringSubmatch(v); sz != nil {
			res[k+"-1"], res[k+"-2"] = sz[1], sz[2]
		} else {
			res[k] = v
		}
	}
	return res
}

// fmtNum writes a request number the way A1111's infotext does (7.0 → "7").
func fmtNum(v any) string {
	switch t := v.(type) {
	case float64:
		return strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.4f", t), "0"), ".")
	default:
		return fmt.Sprint(t)
	}
}
