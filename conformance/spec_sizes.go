package conformance

import (
	"fmt"
	"strconv"

	. "github.com/onsi/ginkgo/v2"
)

func (suite *Suite) sizeSpecs() {
	Describe("Sizes and counts", func() {
		// Requirement: TXT2IMG-010.
		suite.conformIt("TXT2IMG-010", "generates sizes that are not multiples of 64 and reports them truthfully", func(ctx SpecContext) {
			for _, sz := range [][2]int{{72, 96}, {56, 40}, {100, 68}} {
				w, h := sz[0], sz[1]
				By(fmt.Sprintf("%d×%d", w, h))
				g := suite.txt2img(ctx, suite.smallTxt2Img(map[string]any{"width": w, "height": h, "steps": 2}))
				expectCount(len(g.images), 1, "image")
				iw, ih := g.images[0].Bounds().Dx(), g.images[0].Bounds().Dy()
				infoW, infoH := int(g.infoInt("width")), int(g.infoInt("height"))
				texts := g.infotexts()
				expectCount(len(texts), 1, "infotext")
				p := parseInfotext(texts[0])
				txtW, _ := strconv.Atoi(p["Size-1"])
				txtH, _ := strconv.Atoi(p["Size-2"])
				if infoW != txtW || infoH != txtH {
					failf("expected info and the infotext to report the same size, got info %d×%d and Size: %s×%s", infoW, infoH, p["Size-1"], p["Size-2"])
				}
				if why := sizeVerdict(w, h, iw, ih, infoW, infoH); why != "" {
					failf("%s", why)
				}
			}
		})

		// Requirement: TXT2IMG-011.
		suite.conformIt("TXT2IMG-011", "returns exactly batch_size×n_iter images for large batches", func(ctx SpecContext) {
			for _, c := range [][2]int{{16, 1}, {3, 2}} {
				g := suite.txt2img(ctx, suite.smallTxt2Img(map[string]any{"batch_size": c[0], "n_iter": c[1], "steps": 1}))
				expectCount(len(g.images), c[0]*c[1], fmt.Sprintf("images (batch_size %d × n_iter %d)", c[0], c[1]))
				expectCount(len(g.infoInts("all_seeds")), c[0]*c[1], fmt.Sprintf("info.all_seeds entries (batch_size %d × n_iter %d)", c[0], c[1]))
			}
		})
	})
}

// sizeVerdict judges a w×h request that gave an iw×ih image reported as
// infoW×infoH: "" when A1111 would agree, else the failure sentence. For
// multiples of 8 everything must equal the request; otherwise the image
// must be what info reports, or A1111's own answer (each side rounded down
// to a multiple of 8, info reporting the request).
func sizeVerdict(w, h, iw, ih, infoW, infoH int) string {
	truthful := iw == infoW && ih == infoH
	a1111 := iw == w/8*8 && ih == h/8*8 && infoW == w && infoH == h
	switch {
	case w%8 == 0 && h%8 == 0 && !(truthful && iw == w && ih == h):
		return fmt.Sprintf("expected a %d×%d image reported as %d×%d, got a %d×%d image reported as %d×%d", w, h, w, h, iw, ih, infoW, infoH)
	case !truthful && !a1111:
		return fmt.Sprintf("expected the %d×%d request to give an image of the size info reports, or A1111's %d×%d with info %d×%d, got a %d×%d image reported as %d×%d",
			w, h, w/8*8, h/8*8, w, h, iw, ih, infoW, infoH)
	}
	return ""
}
