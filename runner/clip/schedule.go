package clip

import (
	"math"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// ScheduledPrompt is one entry of A1111's prompt schedule: Prompt is used up to and
// including step EndAtStep.
type ScheduledPrompt struct {
	EndAtStep int
	Prompt    string
}

// ScheduledPrompts is A1111's get_learned_conditioning_prompt_schedules for one prompt
// without hires steps: prompt editing [from:to:when], [to:when], [from::when] (when
// with a "." is a fraction of steps, otherwise a step) and alternation [a|b|c], which
// picks option (step-1) mod n at every step. Emphasis brackets are left in the text.
// A prompt that A1111's grammar rejects (a stray "|", a trailing backslash) is
// returned unchanged for all steps.
func ScheduledPrompts(prompt string, steps int) []ScheduledPrompt {
	p := &schedParser{s: prompt, memo: map[int]schedMemo{}}
	tree, ok := p.parseStart()
	if !ok {
		return []ScheduledPrompt{{steps, prompt}}
	}
	set := map[int]bool{steps: true}
	collectSteps(tree, steps, set)
	ends := make([]int, 0, len(set))
	for s := range set {
		ends = append(ends, s)
	}
	sort.Ints(ends)
	out := make([]ScheduledPrompt, len(ends))
	for i, step := range ends {
		var sb strings.Builder
		render(&sb, tree, step)
		out[i] = ScheduledPrompt{step, sb.String()}
	}
	return out
}

// sitem is a node of the parse: literal text, a scheduled edit, or an alternation.
// Emphasis groups are flattened into their bracket text and children.
type sitem struct {
	text    string
	sched   bool
	alt     bool
	before  []sitem // scheduled; nil when absent
	after   []sitem
	number  string // scheduled: the NUMBER token
	when    int
	options [][]sitem // alternate
}

type schedMemo struct {
	items []sitem
	end   int
	ok    bool
}

type schedParser struct {
	s    string
	memo map[int]schedMemo // structured parses by start offset, for linear time
}

func (p *schedParser) parseStart() ([]sitem, bool) {
	var out []sitem
	for pos := 0; ; {
		items, q := p.prompt(pos)
		out = append(out, items...)
		if q == len(p.s) {
			return out, true
		}
		if !strings.ContainsRune("[]():", rune(p.s[q])) {
			return nil, false // "|" or an unescapable backslash: lark fails
		}
		out = append(out, sitem{text: p.s[q : q+1]})
		pos = q + 1
	}
}

// prompt parses `prompt: (emphasized | scheduled | alternate | plain | WHITESPACE)*`
// from pos and returns where it stopped.
func (p *schedParser) prompt(pos int) ([]sitem, int) {
	var out []sitem
	for pos < len(p.s) {
		switch c := p.s[pos]; c {
		case '(', '[':
			items, q, ok := p.structured(pos)
			if !ok {
				return out, pos
			}
			out, pos = append(out, items...), q
		case ')', ']', ':', '|':
			return out, pos
		case '\\':
			r, n := utf8.DecodeRuneInString(p.s[pos+1:])
			if n == 0 || r == '\n' {
				return out, pos
			}
			out, pos = append(out, sitem{text: p.s[pos : pos+1+n]}), pos+1+n
		default:
			end := pos + strings.IndexAny(p.s[pos:], `\[]():|`)
			if end < pos {
				end = len(p.s)
			}
			out, pos = append(out, sitem{text: p.s[pos:end]}), end
		}
	}
	return out, pos
}

func (p *schedParser) structured(pos int) ([]sitem, int, bool) {
	if m, ok := p.memo[pos]; ok {
		return m.items, m.end, m.ok
	}
	var m schedMemo
	if p.s[pos] == '(' {
		m.items, m.end, m.ok = p.paren(pos)
	} else {
		m.items, m.end, m.ok = p.bracket(pos)
	}
	p.memo[pos] = m
	return m.items, m.end, m.ok
}

func (p *schedParser) at(pos int, c byte) bool { return pos < len(p.s) && p.s[pos] == c }

func (p *schedParser) paren(pos int) ([]sitem, int, bool) {
	p1, q := p.prompt(pos + 1)
	out := append([]sitem{{text: "("}}, p1...)
	if p.at(q, ':') {
		var p2 []sitem
		p2, q = p.prompt(q + 1)
		out = append(append(out, sitem{text: ":"}), p2...)
	}
	if !p.at(q, ')') {
		return nil, 0, false
	}
	return append(out, sitem{text: ")"}), q + 1, true
}

func (p *schedParser) bracket(pos int) ([]sitem, int, bool) {
	p1, q := p.prompt(pos + 1)
	switch {
	case p.at(q, ']'):
		return append(append([]sitem{{text: "["}}, p1...), sitem{text: "]"}), q + 1, true
	case p.at(q, '|'):
		opts := [][]sitem{p1}
		for p.at(q, '|') {
			var o []sitem
			o, q = p.prompt(q + 1)
			opts = append(opts, o)
		}
		if !p.at(q, ']') {
			return nil, 0, false
		}
		return []sitem{{alt: true, options: opts}}, q + 1, true
	case p.at(q, ':'):
		if num, r, ok := p.whenClose(q + 1); ok { // [after:when]
			return []sitem{{sched: true, after: p1, number: num}}, r, true
		}
		p2, r := p.prompt(q + 1)
		if !p.at(r, ':') {
			return nil, 0, false
		}
		num, r, ok := p.whenClose(r + 1)
		if !ok {
			return nil, 0, false
		}
		if p1 == nil {
			p1 = []sitem{} // present but empty: renders as ""
		}
		return []sitem{{sched: true, before: p1, after: p2, number: num}}, r, true
	}
	return nil, 0, false
}

// whenClose parses `[WHITESPACE] NUMBER [WHITESPACE] "]"` (lark's SIGNED_NUMBER).
func (p *schedParser) whenClose(pos int) (string, int, bool) {
	pos = p.skipSpace(pos)
	start := pos
	if p.at(pos, '+') || p.at(pos, '-') {
		pos++
	}
	digits := func() int {
		n := 0
		for pos < len(p.s) && p.s[pos] >= '0' && p.s[pos] <= '9' {
			pos, n = pos+1, n+1
		}
		return n
	}
	intPart := digits()
	frac := 0
	if p.at(pos, '.') {
		pos++
		frac = digits()
	}
	if intPart == 0 && frac == 0 {
		return "", 0, false
	}
	if p.at(pos, 'e') || p.at(pos, 'E') {
		save := pos
		pos++
		if p.at(pos, '+') || p.at(pos, '-') {
			pos++
		}
		if digits() == 0 {
			pos = save
		}
	}
	num := p.s[start:pos]
	pos = p.skipSpace(pos)
	if !p.at(pos, ']') {
		return "", 0, false
	}
	return num, pos + 1, true
}

func (p *schedParser) skipSpace(pos int) int {
	for pos < len(p.s) {
		r, n := utf8.DecodeRuneInString(p.s[pos:])
		if !isPySpace(r) {
			break
		}
		pos += n
	}
	return pos
}

// collectSteps is A1111's CollectSteps visitor; it also resolves each edit's step.
func collectSteps(items []sitem, steps int, set map[int]bool) {
	for i := range items {
		it := &items[i]
		switch {
		case it.sched:
			v, _ := strconv.ParseFloat(it.number, 64)
			if strings.Contains(it.number, ".") {
				v *= float64(steps)
			}
			v = math.Max(math.Min(math.Trunc(v), float64(steps)), math.MinInt32)
			it.when = int(v)
			if it.when >= 1 {
				set[it.when] = true
			}
			collectSteps(it.before, steps, set)
			collectSteps(it.after, steps, set)
		case it.alt:
			for s := 1; s <= steps; s++ {
				set[s] = true
			}
			for _, o := range it.options {
				collectSteps(o, steps, set)
			}
		}
	}
}

// render is A1111's AtStep transformer.
func render(sb *strings.Builder, items []sitem, step int) {
	for _, it := range items {
		switch {
		case it.sched && step <= it.when:
			render(sb, it.before, step)
		case it.sched:
			render(sb, it.after, step)
		case it.alt:
			render(sb, it.options[(step-1)%len(it.options)], step)
		default:
			sb.WriteString(it.text)
		}
	}
}
