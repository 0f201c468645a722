package conformance

import (
	"os"
	"strings"
	"testing"
)

func TestSummarizeLeadsWithExpectedAndSeen(t *testing.T) {
	long := strings.Repeat("iVBORw0KGgoAAAANSUhEUg", 40)
	cases := []struct {
		name, msg, head string
		evidence        bool
	}{
		{"plain Equal", "Expected\n    <int>: 2\nto equal\n    <int>: 4", "expected the value to equal 4, got 2", false},
		{"annotated count", "expected 4 images (batch_size 2 × n_iter 2), got 2\nExpected\n    <int>: 2\nto equal\n    <int>: 4",
			"expected 4 images (batch_size 2 × n_iter 2), got 2", false},
		{"HaveLen shows the length", "Expected\n    <[]string | len:1, cap:1>: [\"a\"]\nto have length 4", "expected the value to have length 4, got length 1", false},
		{"annotation without what was seen", "info lacks \"seed\"\nExpected\n    <int>: 7\nto be zero", "info lacks \"seed\" (got 7)", false},
		{"error", "Unexpected error:\n    <*errors.errorString | 0x1>: \n    boom\n    {s: \"boom\"}\noccurred", "expected no error, got: boom", false},
		{"base64 goes to evidence", "expected a PNG, got text\nExpected\n    <string>: " + long + "\nto equal\n    <string>: x", "expected a PNG, got text", true},
	}
	dir := t.TempDir()
	s := &Suite{cfg: Config{EvidenceDir: dir}}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			head, detail := s.summarize("TEST-001", c.msg)
			if head != c.head {
				t.Errorf("headline = %q, want %q", head, c.head)
			}
			if len([]rune(head)) > headlineMax {
				t.Errorf("headline has %d characters, more than %d", len([]rune(head)), headlineMax)
			}
			if got := strings.Contains(detail, "(full text: "+dir); got != c.evidence {
				t.Errorf("detail names an evidence file: %v, want %v\n%s", got, c.evidence, detail)
			}
			if reLongToken.MatchString(detail[:strings.LastIndex(detail+"(full text:", "(full text:")]) {
				t.Errorf("detail still carries a long token:\n%s", detail)
			}
		})
	}
	// The headline is capped even when the annotation is not.
	head, _ := s.summarize("TEST-001", strings.Repeat("word ", 200))
	if n := len([]rune(head)); n > headlineMax {
		t.Errorf("headline has %d characters", n)
	}
	entries, err := os.ReadDir(dir + "/failures")
	if err != nil || len(entries) == 0 {
		t.Errorf("no evidence file written: %v", err)
	}
}

func TestSizeVerdict(t *testing.T) {
	cases := []struct {
		name                       string
		w, h, iw, ih, infoW, infoH int
		ok                         bool
	}{
		{"multiple of 8, exact", 72, 96, 72, 96, 72, 96, true},
		{"multiple of 8 rounded to 64", 72, 96, 64, 64, 64, 64, false},
		{"multiple of 8, info lies", 72, 96, 64, 96, 72, 96, false},
		{"below 64, exact", 56, 40, 56, 40, 56, 40, true},
		{"odd size as A1111 (floor 8, info the request)", 100, 68, 96, 64, 100, 68, true},
		{"odd size, truthful info", 100, 68, 104, 72, 104, 72, true},
		{"odd size rounded to 64 with info the request", 100, 68, 64, 64, 100, 68, false},
	}
	for _, c := range cases {
		why := sizeVerdict(c.w, c.h, c.iw, c.ih, c.infoW, c.infoH)
		if (why == "") != c.ok {
			t.Errorf("%s: verdict %q, want ok=%v", c.name, why, c.ok)
		}
	}
}
