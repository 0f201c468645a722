package conformance

import (
	"fmt"
	"slices"

	. "github.com/onsi/ginkgo/v2"
)

// The label vocabulary. Every label a spec carries comes from this list;
// labelsOf panics on anything else so a typo cannot create a label that no
// filter selects.
const (
	LSchema      = "schema"      // responses validated against the spec
	LStatus      = "status"      // status codes of ordinary exchanges
	LErrors      = "errors"      // error bodies and negative data
	LNegative    = "negative"    // generated invalid requests
	LListings    = "listings"    // GET routes returning lists
	LOptions     = "options"     // /options and override_settings
	LTxt2Img     = "txt2img"     // POST /txt2img
	LImg2Img     = "img2img"     // POST /img2img
	LExtras      = "extras"      // POST /extra-*
	LPNGInfo     = "pnginfo"     // POST /png-info and PNG metadata
	LSeeds       = "seeds"       // seed resolution and all_seeds
	LDeterminism = "determinism" // same seed, same pixels
	LInfotext    = "infotext"    // infotexts and their parsing
	LProgress    = "progress"    // /progress and /internal/progress
	LRouting     = "routing"     // black-box runner routing (progress during a job)
	LInterrupt   = "interrupt"   // /interrupt and /skip
	LAuth        = "auth"        // HTTP basic auth
	LCoverage    = "coverage"    // every operation called once
	LGeneration  = "generation"  // needs a target that generates images
	LSlow        = "slow"        // runs a generation long enough to watch
	LDestructive = "destructive" // stops the server, unloads models or writes files
	LReference   = "reference"   // checks behaviour only the reference server has
)

// Vocabulary lists every label in the order the report shows them.
var Vocabulary = []string{
	LSchema, LStatus, LErrors, LNegative, LListings, LOptions, LTxt2Img, LImg2Img, LExtras,
	LPNGInfo, LSeeds, LDeterminism, LInfotext, LProgress, LRouting, LInterrupt, LAuth,
	LCoverage, LGeneration, LSlow, LDestructive, LReference,
}

// labelsOf checks names against the vocabulary and returns a Ginkgo Label.
func labelsOf(names ...string) Labels {
	for _, n := range names {
		if !slices.Contains(Vocabulary, n) {
			panic(fmt.Sprintf("conformance: label %q is not in the vocabulary (labels.go)", n))
		}
	}
	return Label(names...)
}
