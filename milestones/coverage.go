package milestones

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path"
	"sort"
	"strconv"
	"strings"
)

// Coverage is statement coverage computed from a Go cover profile.
type Coverage struct {
	Mode       string            `json:"mode"`
	Statements int               `json:"statements"`
	Covered    int               `json:"covered"`
	Packages   []PackageCoverage `json:"packages"`
}

// PackageCoverage is the statement coverage of one package.
type PackageCoverage struct {
	Path       string `json:"path"`
	Statements int    `json:"statements"`
	Covered    int    `json:"covered"`
}

// Percent is the share of statements covered, 0–100.
func (c Coverage) Percent() float64 { return percent(c.Covered, c.Statements) }

// Percent is the share of the package's statements covered, 0–100.
func (p PackageCoverage) Percent() float64 { return percent(p.Covered, p.Statements) }

func percent(n, of int) float64 {
	if of == 0 {
		return 0
	}
	return 100 * float64(n) / float64(of)
}

// LoadCoverProfile reads a cover profile file (go test -coverprofile).
func LoadCoverProfile(file string) (Coverage, error) {
	f, err := os.Open(file)
	if err != nil {
		return Coverage{}, err
	}
	defer f.Close()
	c, err := ParseCoverProfile(f)
	if err != nil {
		return Coverage{}, fmt.Errorf("%s: %w", file, err)
	}
	return c, nil
}

// ParseCoverProfile computes statement coverage the way `go tool cover
// -func` does: a block counts once however often it appears (profiles
// merged from several packages or -coverpkg runs repeat blocks), and it
// is covered when any appearance has a non-zero count.
func ParseCoverProfile(r io.Reader) (Coverage, error) {
	type block struct {
		stmts   int
		covered bool
	}
	blocks := map[string]*block{}
	var order []string
	var c Coverage
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1024*1024), 1024*1024)
	lineNo := 0
	for sc.Scan() {
		lineNo++
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		if mode, ok := strings.CutPrefix(line, "mode: "); ok {
			if c.Mode == "" {
				c.Mode = mode
			}
			continue
		}
		// file.go:12.34,15.2 3 1
		fields := strings.Fields(line)
		if len(fields) != 3 {
			return Coverage{}, fmt.Errorf("line %d: want \"file:range stmts count\", got %q", lineNo, line)
		}
		if !strings.Contains(fields[0], ":") {
			return Coverage{}, fmt.Errorf("line %d: no file:range in %q", lineNo, line)
		}
		stmts, err := strconv.Atoi(fields[1])
		if err != nil {
			return Coverage{}, fmt.Errorf("line %d: statements: %w", lineNo, err)
		}
		count, err := strconv.ParseInt(fields[2], 10, 64)
		if err != nil {
			return Coverage{}, fmt.Errorf("line %d: count: %w", lineNo, err)
		}
		b := blocks[fields[0]]
		if b == nil {
			b = &block{stmts: stmts}
			blocks[fields[0]] = b
			order = append(order, fields[0])
		}
		b.covered = b.covered || count > 0
	}
	if err := sc.Err(); err != nil {
		return Coverage{}, err
	}
	if c.Mode == "" {
		return Coverage{}, fmt.Errorf("no \"mode:\" line: not a cover profile")
	}
	pkgs := map[string]*PackageCoverage{}
	for _, key := range order {
		b := blocks[key]
		file, _, _ := strings.Cut(key, ":")
		dir := path.Dir(file)
		p := pkgs[dir]
		if p == nil {
			p = &PackageCoverage{Path: dir}
			pkgs[dir] = p
		}
		p.Statements += b.stmts
		c.Statements += b.stmts
		if b.covered {
			p.Covered += b.stmts
			c.Covered += b.stmts
		}
	}
	for _, p := range pkgs {
		c.Packages = append(c.Packages, *p)
	}
	sort.Slice(c.Packages, func(i, j int) bool { return c.Packages[i].Path < c.Packages[j].Path })
	return c, nil
}
