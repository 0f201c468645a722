package clip

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// ErrPrompt is wrapped by errors about prompt syntax A1111 itself fails on, such as
// an unparsable weight in "(a:1.2.3)".
var ErrPrompt = errors.New("invalid prompt")

// Weighted is a run of prompt text with its attention weight, one element of
// A1111's parse_prompt_attention result. A BREAK marker has Text "BREAK" and Weight -1.
type Weighted struct {
	Text   string
	Weight float64
}

// IsBreak reports whether w is A1111's BREAK marker (["BREAK", -1]).
func (w Weighted) IsBreak() bool { return w.Text == "BREAK" && w.Weight == -1 }

// reAttention is A1111's re_attention; `\d` is widened to Unicode digits as in Python.
var reAttention = regexp.MustCompile(`\\\(|\\\)|\\\[|\\]|\\\\|\\|\(|\[|:([+-]?[.\p{Nd}]+)\)|\)|]|[^\\()\[\]:]+|:`)

const (
	roundMul  = 1.1
	squareMul = 1 / 1.1
)

// ParseAttention is A1111's prompt_parser.parse_prompt_attention: (x) multiplies by
// 1.1, [x] divides by 1.1, (x:1.3) multiplies by 1.3, \( \) \[ \] \\ are literals,
// unclosed brackets apply up to the end, BREAK splits, and runs of equal weight merge.
func ParseAttention(text string) ([]Weighted, error) {
	var res []Weighted
	var round, square []int
	mul := func(start int, m float64) {
		for p := start; p < len(res); p++ {
			res[p].Weight *= m
		}
	}
	for _, m := range reAttention.FindAllStringSubmatchIndex(text, -1) {
		tok := text[m[0]:m[1]]
		switch {
		case strings.HasPrefix(tok, `\`):
			res = append(res, Weighted{tok[1:], 1})
		case tok == "(":
			round = append(round, len(res))
		case tok == "[":
			square = append(square, len(res))
		case m[2] >= 0 && len(round) > 0:
			w, err := parsePyFloat(text[m[2]:m[3]])
			if err != nil {
				return nil, fmt.Errorf("%w: weight in %q: %w", ErrPrompt, tok, err)
			}
			mul(round[len(round)-1], w)
			round = round[:len(round)-1]
		case tok == ")" && len(round) > 0:
			mul(round[len(round)-1], roundMul)
			round = round[:len(round)-1]
		case tok == "]" && len(square) > 0:
			mul(square[len(square)-1], squareMul)
			square = square[:len(square)-1]
		default:
			for i, part := range splitBreak(tok) {
				if i > 0 {
					res = append(res, Weighted{"BREAK", -1})
				}
				res = append(res, Weighted{part, 1})
			}
		}
	}
	for _, p := range round {
		mul(p, roundMul)
	}
	for _, p := range square {
		mul(p, squareMul)
	}
	if len(res) == 0 {
		res = []Weighted{{"", 1}}
	}
	for i := 0; i+1 < len(res); {
		if res[i].Weight == res[i+1].Weight {
			res[i].Text += res[i+1].Text
			res = append(res[:i+1], res[i+2:]...)
		} else {
			i++
		}
	}
	return res, nil
}

// parsePyFloat parses what Python's float() accepts from `[+-]?[.\d]+`, including
// non-ASCII decimal digits.
func parsePyFloat(s string) (float64, error) {
	b := []byte{}
	for _, r := range s {
		if r > unicode.MaxASCII && unicode.IsDigit(r) {
			b = append(b, byte('0'+digitValue(r)))
		} else {
			b = append(b, string(r)...)
		}
	}
	return strconv.ParseFloat(string(b), 64)
}

// digitValue returns the value of a Unicode decimal digit (Nd digits come in runs
// starting at zero).
func digitValue(r rune) int {
	start := r
	for unicode.IsDigit(start - 1) {
		start--
	}
	return int(r-start) % 10
}

// isPyWord is Python re's Unicode \w.
func isPyWord(r rune) bool { return r == '_' || unicode.IsLetter(r) || unicode.IsNumber(r) }

// splitBreak is re.split(r"\s*\bBREAK\b\s*", s) with Python's Unicode \s and \b.
func splitBreak(s string) []string {
	var parts []string
	last, from := 0, 0
	for {
		i := strings.Index(s[from:], "BREAK")
		if i < 0 {
			break
		}
		i += from
		end := i + len("BREAK")
		before, after := lastRune(s[:i]), firstRune(s[end:])
		if (before >= 0 && isPyWord(before)) || (after >= 0 && isPyWord(after)) {
			from = i + 1
			continue
		}
		start := i
		for start > last {
			r := lastRune(s[:start])
			if !isPySpace(r) {
				break
			}
			start -= utf8.RuneLen(r)
		}
		for end < len(s) {
			r := firstRune(s[end:])
			if !isPySpace(r) {
				break
			}
			end += utf8.RuneLen(r)
		}
		parts = append(parts, s[last:start])
		last, from = end, end
	}
	return append(parts, s[last:])
}

func lastRune(s string) rune {
	if s == "" {
		return -1
	}
	r, _ := utf8.DecodeLastRuneInString(s)
	return r
}

func firstRune(s string) rune {
	if s == "" {
		return -1
	}
	r, _ := utf8.DecodeRuneInString(s)
	return r
}
