package main

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/onsi/ginkgo/v2/types"

	"github.com/sdapi/sdapi/conformance"
)

// progressPrinter shows the run's progress. On a terminal (live) it keeps
// one line up to date: checks done/total, the running requirement and the
// elapsed time, redrawn on every event and once a second; a failed check is
// printed above it. Elsewhere it prints one plain line per finished check,
// with the first lines of a failure under it.
type progressPrinter struct {
	w     io.Writer
	live  bool
	now   func() time.Time
	start time.Time

	mu      sync.Mutex
	cur     conformance.ProgressEvent
	running bool
	drawn   bool
	stop    chan struct{}
	done    chan struct{}
}

func newProgressPrinter(w io.Writer, live bool) *progressPrinter {
	p := &progressPrinter{w: w, live: live, now: time.Now}
	p.start = p.now()
	if live {
		p.stop, p.done = make(chan struct{}), make(chan struct{})
		go p.tick()
	}
	return p
}

func (p *progressPrinter) tick() {
	defer close(p.done)
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-t.C:
			p.mu.Lock()
			if p.running {
				p.draw()
			}
			p.mu.Unlock()
		}
	}
}

// event is the conformance.Config.Progress hook.
func (p *progressPrinter) event(e conformance.ProgressEvent) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cur = e
	if e.Started {
		p.running = true
		if p.live {
			p.draw()
		}
		return
	}
	p.running = false
	if p.live {
		if e.State.Is(types.SpecStateFailureStates) {
			p.clear()
			fmt.Fprintf(p.w, "✗ %s\n%s", e.Text, indent(firstLines(e.Failure, 6), "    "))
		}
		p.draw()
		return
	}
	fmt.Fprintf(p.w, "[%*d/%d] %-4s %s (%s)\n", width(e.Total), e.Done, e.Total, stateWord(e.State), e.Text, round(e.RunTime))
	if e.State.Is(types.SpecStateFailureStates) {
		fmt.Fprint(p.w, indent(firstLines(e.Failure, 6), "    "))
	}
}

// finish stops the ticker and clears the live line.
func (p *progressPrinter) finish() {
	if p.live {
		close(p.stop)
		<-p.done
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.live {
		p.clear()
	}
}

func (p *progressPrinter) draw() {
	e := p.cur
	id := e.ID
	if id == "" {
		id = e.Text
	}
	if !p.running {
		id = "…"
	}
	line := fmt.Sprintf("[%*d/%d] %s  %s", width(e.Total), e.Done, e.Total, truncate(id, 60), clock(p.now().Sub(p.start)))
	fmt.Fprintf(p.w, "\r\x1b[K%s", line)
	p.drawn = true
}

func (p *progressPrinter) clear() {
	if p.drawn {
		fmt.Fprint(p.w, "\r\x1b[K")
		p.drawn = false
	}
}

func stateWord(s types.SpecState) string {
	switch {
	case s == types.SpecStatePassed:
		return "ok"
	case s.Is(types.SpecStateSkipped | types.SpecStatePending):
		return "skip"
	case s.Is(types.SpecStateFailureStates):
		return "FAIL"
	}
	return s.String()
}

func width(total int) int { return len(fmt.Sprint(total)) }

func round(d time.Duration) time.Duration {
	if d < time.Second {
		return d.Round(time.Millisecond)
	}
	return d.Round(10 * time.Millisecond)
}

// clock formats an elapsed time as m:ss.
func clock(d time.Duration) string {
	s := int(d.Seconds())
	return fmt.Sprintf("%d:%02d", s/60, s%60)
}

func firstLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = append(lines[:n], "…")
	}
	return strings.Join(lines, "\n")
}

func indent(s, pre string) string {
	if s == "" {
		return ""
	}
	return pre + strings.ReplaceAll(s, "\n", "\n"+pre) + "\n"
}
