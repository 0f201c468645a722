package processing

import (
	"testing"
	"time"
)

// fakeClock advances only when told to, so ETA figures are exact.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

func TestStateIdle(t *testing.T) {
	s := NewState(nil)
	got := s.Snapshot()
	if got.JobCount != 0 || got.Progress != 0 || got.EtaRelative != 0 || got.JobTimestamp != "0" || got.Job != "" || got.Textinfo != nil {
		t.Fatalf("idle snapshot = %+v", got)
	}
}

func TestStateInterruptAndSkip(t *testing.T) {
	s := NewState(nil)
	s.Interrupt()
	s.Skip()
	got := s.Snapshot()
	if !got.Interrupted || !got.Skipped {
		t.Fatalf("flags not set while idle: %+v", got)
	}
	if !s.TakeSkip() || s.TakeSkip() {
		t.Fatal("TakeSkip must report one skip once")
	}
	s.Begin("txt2img", 1)
	if s.Interrupted() || s.Snapshot().Skipped {
		t.Fatal("Begin must clear interrupt and skip")
	}
}

func TestStateProgress(t *testing.T) {
	c := &fakeClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	s := NewState(c.now)
	s.Begin("txt2img", 2)
	s.NextBatch(1, 10)
	s.Step(5)
	c.t = c.t.Add(3 * time.Second)
	got := s.Snapshot()
	// A1111: 0.01 + 1/2 + 1/2*5/10 = 0.76; eta = 3/0.76 - 3.
	const wantProgress = 0.76
	if diff := got.Progress - wantProgress; diff > 1e-9 || diff < -1e-9 {
		t.Fatalf("progress = %v, want %v", got.Progress, wantProgress)
	}
	wantEta := 3/wantProgress - 3
	if diff := got.EtaRelative - wantEta; diff > 1e-9 || diff < -1e-9 {
		t.Fatalf("eta = %v, want %v", got.EtaRelative, wantEta)
	}
	// modules/progress.py's figures: no head start, the elapsed time.
	if diff := got.Done - 0.75; diff > 1e-9 || diff < -1e-9 || got.Elapsed != 3 {
		t.Fatalf("done = %v, elapsed = %v, want 0.75 and 3", got.Done, got.Elapsed)
	}
	if got.JobTimestamp != "20260102030405" || got.Job != "txt2img" || got.SamplingStep != 5 {
		t.Fatalf("snapshot = %+v", got)
	}
	s.End()
	if got := s.Snapshot(); got.JobCount != 0 || got.Progress != 0 {
		t.Fatalf("after End = %+v", got)
	}
}
