package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/onsi/ginkgo/v2/types"

	"github.com/sdapi/sdapi/conformance"
)

func events() []conformance.ProgressEvent {
	return []conformance.ProgressEvent{
		{Done: 0, Total: 12, ID: "LIST-001", Text: "Listings LIST-001 every listing answers", Started: true},
		{Done: 1, Total: 12, ID: "LIST-001", Text: "Listings LIST-001 every listing answers", State: types.SpecStatePassed, RunTime: 12 * time.Millisecond},
		{Done: 1, Total: 12, ID: "PROG-002", Text: "Progress PROG-002 progress advances", Started: true},
		{Done: 2, Total: 12, ID: "PROG-002", Text: "Progress PROG-002 progress advances", State: types.SpecStateFailed, RunTime: 1500 * time.Millisecond,
			Failure: "PROG-002 violated: ...\nexpected 200\ngot 500"},
		{Done: 2, Total: 12, ID: "AUTH-001", Text: "Auth AUTH-001 no credentials", Started: true},
		{Done: 3, Total: 12, ID: "AUTH-001", Text: "Auth AUTH-001 no credentials", State: types.SpecStateSkipped, Failure: "no credentials given"},
	}
}

// Not a terminal: one plain line per finished check, failures indented
// under their line, no control characters.
func TestProgressPlain(t *testing.T) {
	var b bytes.Buffer
	p := newProgressPrinter(&b, false)
	for _, e := range events() {
		p.event(e)
	}
	p.finish()
	want := strings.Join([]string{
		"[ 1/12] ok   Listings LIST-001 every listing answers (12ms)",
		"[ 2/12] FAIL Progress PROG-002 progress advances (1.5s)",
		"    PROG-002 violated: ...",
		"    expected 200",
		"    got 500",
		"[ 3/12] skip Auth AUTH-001 no credentials (0s)",
		"",
	}, "\n")
	if got := b.String(); got != want {
		t.Errorf("plain progress:\n%s\nwant:\n%s", got, want)
	}
	if strings.ContainsAny(b.String(), "\r\x1b") {
		t.Error("plain progress contains terminal control characters")
	}
}

// A terminal: one line redrawn in place with done/total, the running
// requirement and the elapsed time; failures above it; cleared at the end.
func TestProgressLive(t *testing.T) {
	var b bytes.Buffer
	p := newProgressPrinter(&b, true)
	clock0 := p.start
	p.now = func() time.Time { return clock0.Add(65 * time.Second) }
	for _, e := range events() {
		p.event(e)
	}
	p.finish()
	out := b.String()
	for _, want := range []string{
		"\r\x1b[K[ 0/12] LIST-001  1:05",
		"\r\x1b[K[ 1/12] PROG-002  1:05",
		"\r\x1b[K✗ Progress PROG-002 progress advances\n    PROG-002 violated: ...\n",
		"\r\x1b[K[ 2/12] AUTH-001  1:05",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("live progress lacks %q:\n%q", want, out)
		}
	}
	if !strings.HasSuffix(out, "\r\x1b[K") {
		t.Errorf("live progress does not clear its line at the end: %q", out)
	}
	if strings.Count(out, "\n") != 4 { // the failure block only
		t.Errorf("live progress printed %d newlines, want 4 (the failure block): %q", strings.Count(out, "\n"), out)
	}
}
