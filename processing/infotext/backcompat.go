package infotext

import (
	"regexp"
	"strconv"
	"strings"
)

// backcompat mirrors infotext_versions.backcompat with opts.auto_backcompat
// on (the default): infotexts written by older A1111 versions get flags that
// make a re-run reproduce them.
func backcompat(res *Params) {
	verText, ok := res.Get("Version")
	if !ok {
		return
	}
	s, ok := verText.(string)
	if !ok {
		return
	}
	ver, ok := parseInfotextVersion(s)
	if !ok {
		return
	}
	if ver.less(v160) && strings.Contains(res.String("Prompt"), "[") {
		res.Set("Old prompt editing timelines", true)
	}
	if sampler := res.String("Sampler"); ver.less(v160) && (sampler == "DDIM" || sampler == "PLMS") {
		res.Set("Pad conds v0", true)
	}
	if ver.less(v170TSNR) {
		res.Set("Downcast alphas_cumprod", true)
	}
	if ver.less(v180) && res.String("Refiner") != "" {
		res.Set("Refiner switch by sampling steps", true)
	}
}

var (
	v160     = mustPEP440("1.6.0")
	v170TSNR = mustPEP440("v1.7.0-225") // 1.7.0.post225
	v180     = mustPEP440("1.8.0")

	// reGitDescribe keeps "v1.7.0-225" of "v1.7.0-225-gabc123" (parse_version).
	reGitDescribe = regexp.MustCompile(`^([^-]+-[^-]+)-`)

	// rePEP440 is packaging.version's VERSION_PATTERN, case-insensitive.
	rePEP440 = regexp.MustCompile(`(?i)^\s*v?(?:([0-9]+)!)?([0-9]+(?:\.[0-9]+)*)` +
		`([-_.]?(a|b|c|rc|alpha|beta|pre|preview)[-_.]?([0-9]+)?)?` +
		`((?:-([0-9]+))|(?:[-_.]?(post|rev|r)[-_.]?([0-9]+)?))?` +
		`([-_.]?(dev)[-_.]?([0-9]+)?)?` +
		`(?:\+([a-z0-9]+(?:[-_.][a-z0-9]+)*))?\s*$`)
)

// pep440 holds the parts of a PEP 440 version that ordering needs. The local
// segment is ignored: it only breaks ties, and none of the constants above
// has one, so it never changes a "less than" answer here.
type pep440 struct {
	epoch   int
	release []int
	hasPre  bool
	preL    string // "a", "b" or "rc"
	preN    int
	hasPost bool
	postN   int
	hasDev  bool
	devN    int
}

func mustPEP440(s string) pep440 {
	v, ok := parseInfotextVersion(s)
	if !ok {
		panic("infotext: bad version constant " + s)
	}
	return v
}

// parseInfotextVersion mirrors infotext_versions.parse_version.
func parseInfotextVersion(text string) (pep440, bool) {
	if m := reGitDescribe.FindStringSubmatch(text); m != nil {
		text = m[1]
	}
	m := rePEP440.FindStringSubmatch(text)
	if m == nil {
		return pep440{}, false
	}
	var v pep440
	v.epoch = atoiOr0(m[1])
	for _, part := range strings.Split(m[2], ".") {
		v.release = append(v.release, atoiOr0(part))
	}
	for len(v.release) > 1 && v.release[len(v.release)-1] == 0 {
		v.release = v.release[:len(v.release)-1]
	}
	if m[3] != "" {
		v.hasPre, v.preN = true, atoiOr0(m[5])
		switch strings.ToLower(m[4]) {
		case "a", "alpha":
			v.preL = "a"
		case "b", "beta":
			v.preL = "b"
		default:
			v.preL = "rc"
		}
	}
	if m[6] != "" {
		v.hasPost = true
		v.postN = atoiOr0(m[7] + m[9])
	}
	if m[10] != "" {
		v.hasDev, v.devN = true, atoiOr0(m[12])
	}
	return v, true
}

func atoiOr0(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0
	}
	return n
}

// less orders versions as packaging.version._cmpkey does.
func (v pep440) less(o pep440) bool {
	if v.epoch != o.epoch {
		return v.epoch < o.epoch
	}
	for i := 0; i < max(len(v.release), len(o.release)); i++ {
		a, b := at(v.release, i), at(o.release, i)
		if a != b {
			return a < b
		}
	}
	if c := cmpPre(v, o); c != 0 {
		return c < 0
	}
	if v.hasPost != o.hasPost {
		return !v.hasPost
	}
	if v.postN != o.postN {
		return v.postN < o.postN
	}
	if v.hasDev != o.hasDev {
		return v.hasDev
	}
	return v.devN < o.devN
}

func at(xs []int, i int) int {
	if i < len(xs) {
		return xs[i]
	}
	return 0
}

// preRank places a release without a pre-release after all pre-releases,
// and a bare dev release before them.
func preRank(v pep440) int {
	switch {
	case !v.hasPre && !v.hasPost && v.hasDev:
		return -1
	case !v.hasPre:
		return 1
	}
	return 0
}

func cmpPre(a, b pep440) int {
	ra, rb := preRank(a), preRank(b)
	if ra != rb || ra != 0 {
		return ra - rb
	}
	if a.preL != b.preL {
		return strings.Compare(a.preL, b.preL)
	}
	return a.preN - b.preN
}
