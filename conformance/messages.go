package conformance

import (
	"fmt"
	"image"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"unicode/utf8"

	. "github.com/onsi/gomega"

	. "github.com/onsi/ginkgo/v2"
)

// A failure message starts with one sentence, at most headlineMax
// characters, saying what was expected and what was seen; what follows is
// detail. Details longer than detailMax, and any base64 or pixel dump, go
// to a file under the evidence folder whose path the message names.
const (
	headlineMax = 300
	detailMax   = 1500
	valueMax    = 80
)

var (
	// a run of base64 (images) or of numbers (pixel arrays) too long to read
	reLongToken = regexp.MustCompile(`[A-Za-z0-9+/=]{160,}|(?:\d{1,3},\s*){60,}\d{0,3}`)
	reSpaces    = regexp.MustCompile(`\s+`)
	reLen       = regexp.MustCompile(`^<[^>]*\blen:(\d+)[^>]*>:`)
	reTypeTag   = regexp.MustCompile(`^<[^>]*>:\s*`)
)

// failf fails the running check with a message whose first sentence is
// format's; detail (bodies, lists) follows on the next lines.
func failf(format string, args ...any) {
	ExpectWithOffset(1, false).To(BeTrue(), append([]any{format}, args...)...)
}

// expectCount fails unless got == want, saying "expected <want> <what>,
// got <got>" (what may carry the reason: "images (batch_size 2 × n_iter 2)").
func expectCount(got, want int, what string) {
	ExpectWithOffset(1, got).To(Equal(want), "expected %d %s, got %d", want, what, got)
}

// expectImageSize fails unless img is w×h pixels.
func expectImageSize(img image.Image, w, h int, what string) {
	b := img.Bounds()
	ExpectWithOffset(1, [2]int{b.Dx(), b.Dy()}).To(Equal([2]int{w, h}),
		"expected %s to be %d×%d pixels, got %d×%d", what, w, h, b.Dx(), b.Dy())
}

// summarize splits a Gomega failure into the headline sentence and the
// detail; long or unreadable detail is moved to an evidence file.
func (suite *Suite) summarize(id, message string) (head, detail string) {
	annotation, actual, phrase, expected, isErr := parseGomega(message)
	switch {
	case annotation != "":
		head = firstLine(annotation)
		if actual != "" && !isErr && actual != "false" && actual != "true" && !strings.Contains(head, "got") && utf8.RuneCountInString(actual) <= valueMax {
			head += fmt.Sprintf(" (got %s)", actual)
		}
		if isErr && !strings.Contains(head, "error") {
			head += fmt.Sprintf(" (error: %s)", actual)
		}
	case isErr:
		head = "expected no error, got: " + actual
	case phrase != "":
		head = fmt.Sprintf("expected the value %s", phrase)
		if expected != "" {
			head += " " + expected
		}
		head += ", got " + actual
	default:
		head = firstLine(message)
	}
	head = shorten(strings.TrimSpace(head), headlineMax)
	// failf's boolean carries no information; a detail that only repeats
	// the headline is dropped.
	detail = strings.TrimSpace(strings.Replace(message, "Expected\n    <bool>: false\nto be true", "", 1))
	if detail == head {
		detail = ""
	}
	if len(detail) > detailMax || reLongToken.MatchString(detail) {
		short := reLongToken.ReplaceAllStringFunc(detail, func(s string) string {
			return fmt.Sprintf("%s…(%d characters elided)", s[:16], len(s))
		})
		if len(short) > detailMax {
			short = short[:detailMax] + "…"
		}
		if p := suite.evidenceText(id, "failure", message); p != "" {
			short += "\n(full text: " + p + ")"
		}
		detail = short
	}
	return head, detail
}

// parseGomega reads Gomega's standard failure layout: the annotation, then
// "Expected\n    <T>: actual\nto <phrase>\n    <T>: expected", or
// "Unexpected error:" / "Expected success, but got an error:" and the error.
func parseGomega(msg string) (annotation, actual, phrase, expected string, isErr bool) {
	lines := strings.Split(msg, "\n")
	start := -1
	for i, l := range lines {
		if l == "Expected" || l == "Unexpected error:" || l == "Expected success, but got an error:" {
			start = i
			break
		}
	}
	if start < 0 {
		return strings.TrimSpace(msg), "", "", "", false
	}
	annotation = strings.TrimSpace(strings.Join(lines[:start], "\n"))
	rest := lines[start+1:]
	indented := func(from int) (string, int) {
		var vals []string
		i := from
		for ; i < len(rest) && strings.HasPrefix(rest[i], "    "); i++ {
			vals = append(vals, strings.TrimSpace(rest[i]))
		}
		return strings.Join(vals, " "), i
	}
	if lines[start] != "Expected" {
		// "<*T | 0x…>: " then the error text on the next line(s)
		v, _ := indented(0)
		v = reTypeTag.ReplaceAllString(v, "")
		if i := strings.LastIndex(v, " {"); i > 0 {
			v = v[:i]
		}
		return annotation, shorten(v, valueMax*2), "", "", true
	}
	a, i := indented(0)
	if m := reLen.FindStringSubmatch(a); m != nil && i < len(rest) && strings.HasPrefix(rest[i], "to have length") {
		a = "length " + m[1]
	}
	actual = value(a)
	if i < len(rest) {
		phrase = strings.TrimSpace(rest[i])
		e, _ := indented(i + 1)
		expected = value(e)
	}
	return annotation, actual, phrase, expected, false
}

// value strips Gomega's type tag and shortens the rest for a headline.
func value(v string) string {
	v = reTypeTag.ReplaceAllString(strings.TrimSpace(v), "")
	v = reSpaces.ReplaceAllString(v, " ")
	if reLongToken.MatchString(v) {
		return "(a long value: see the evidence file)"
	}
	return shorten(v, valueMax)
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return l
}

func shorten(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// Evidence files written while the suite runs (failure texts, images a
// failure refers to) live under Config.EvidenceDir, or under a temporary
// folder of the run when none is configured, so a message can always name
// a path.
func (suite *Suite) liveEvidenceDir() string {
	if suite.cfg.EvidenceDir != "" {
		return suite.cfg.EvidenceDir
	}
	suite.evidenceTmpOnce.Do(func() {
		if d, err := os.MkdirTemp("", "sdapi-conform-evidence-"); err == nil {
			suite.evidenceTmp = d
		}
	})
	return suite.evidenceTmp
}

// evidenceFile writes data under the evidence folder as
// failures/<id>-<n>-<name> (<id>-p<process>-<n>-<name> under ginkgo -p)
// and returns its absolute path ("" on error).
func (suite *Suite) evidenceFile(id, name string, data []byte) string {
	dir := suite.liveEvidenceDir()
	if dir == "" {
		return ""
	}
	dir = filepath.Join(dir, "failures")
	if os.MkdirAll(dir, 0o755) != nil {
		return ""
	}
	seq := fmt.Sprintf("%03d", suite.evidenceSeq.Add(1))
	if proc := GinkgoParallelProcess(); proc > 1 {
		seq = fmt.Sprintf("p%d-%s", proc, seq)
	}
	p := filepath.Join(dir, fmt.Sprintf("%s-%s-%s", sanitize(cmpStr(id, "suite")), seq, fileName(name)))
	if os.WriteFile(p, data, 0o644) != nil {
		return ""
	}
	if abs, err := filepath.Abs(p); err == nil {
		p = abs
	}
	return p
}

func (suite *Suite) evidenceText(id, name, text string) string {
	return suite.evidenceFile(id, name+".txt", []byte(text))
}

// evidenceImageIf is evidenceImage when cond holds (a message argument is
// evaluated whether or not the check fails) and "" otherwise.
func (suite *Suite) evidenceImageIf(cond bool, name string, img image.Image) string {
	if !cond {
		return ""
	}
	return suite.evidenceImage(name, img)
}

// evidenceImage writes img as a PNG evidence file and returns its path.
func (suite *Suite) evidenceImage(name string, img image.Image) string {
	id := ""
	if cur := suite.current.Load(); cur != nil {
		id = cur.req.ID
	}
	return suite.evidenceFile(id, name+".png", encodePNG(img))
}

// bodyForMessage is a response body as a failure message shows it: short
// bodies whole, long ones elided; FailHandler saves the last exchange's
// whole body to an evidence file when it is long.
func bodyForMessage(ex *Exchange) string {
	if len(ex.Body) <= 300 && !reLongToken.Match(ex.Body) {
		return "body: " + string(ex.Body)
	}
	short := reLongToken.ReplaceAllStringFunc(string(ex.Body), func(s string) string { return s[:16] + "…" })
	return fmt.Sprintf("body (%d bytes): %s", len(ex.Body), shorten(short, 300))
}

// saveBody writes ex's body to an evidence file when it is too long for a
// message and returns a line naming it ("" otherwise).
func (suite *Suite) saveBody(id string, ex *Exchange) string {
	if ex == nil || (len(ex.Body) <= 300 && !reLongToken.Match(ex.Body)) {
		return ""
	}
	if p := suite.evidenceFile(id, fmt.Sprintf("response-%05d.json", ex.N), ex.Body); p != "" {
		return fmt.Sprintf("last response body (%s %s → %d): %s", ex.Req.Method, ex.Req.Path, ex.Status, p)
	}
	return ""
}

// fileName keeps letters, digits, '-', '_' and '.' of name.
func fileName(name string) string {
	return strings.Map(func(r rune) rune {
		if r == '.' {
			return r
		}
		return []rune(sanitize(string(r)))[0]
	}, name)
}
