package milestones

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// Benchmark is one benchmark's figures from `go test -bench` output.
type Benchmark struct {
	// Package is the import path from the "pkg:" line above it.
	Package string `json:"package,omitempty"`
	// Name is the benchmark's name without the -GOMAXPROCS suffix.
	Name  string `json:"name"`
	Procs int    `json:"procs,omitempty"`
	// Runs is how many result lines were merged (go test -count).
	Runs int `json:"runs"`
	// Metrics are the medians over the runs, in the order first seen
	// (ns/op first, then B/op, allocs/op and custom metrics).
	Metrics []Metric `json:"metrics"`
}

// Metric is one value and unit of a benchmark line.
type Metric struct {
	Unit  string  `json:"unit"`
	Value float64 `json:"value"`
}

// Key identifies the benchmark across runs.
func (b Benchmark) Key() string {
	if b.Package == "" {
		return b.Name
	}
	return b.Package + "." + b.Name
}

// Metric returns the value for unit.
func (b Benchmark) Metric(unit string) (float64, bool) {
	for _, m := range b.Metrics {
		if m.Unit == unit {
			return m.Value, true
		}
	}
	return 0, false
}

// LoadBench reads a file of `go test -bench` output.
func LoadBench(file string) ([]Benchmark, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := ParseBench(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return b, nil
}

var procsSuffix = regexp.MustCompile(`-([0-9]+)$`)

// ParseBench reads `go test -bench` output (plain or -v; other lines are
// ignored). Repeated results of one benchmark (-count N) are merged into
// their median.
func ParseBench(r io.Reader) ([]Benchmark, error) {
	type acc struct {
		b      Benchmark
		values map[string][]float64
		units  []string
	}
	byKey := map[string]*acc{}
	var order []string
	pkg := ""
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1024*1024), 1024*1024)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if p, ok := strings.CutPrefix(line, "pkg: "); ok {
			pkg = strings.TrimSpace(p)
			continue
		}
		fields := strings.Fields(line)
		if len(fields) < 4 || !strings.HasPrefix(fields[0], "Benchmark") || len(fields)%2 != 0 {
			continue
		}
		if _, err := strconv.ParseInt(fields[1], 10, 64); err != nil {
			continue // "--- FAIL", a log line, …
		}
		name, procs := fields[0], 0
		if m := procsSuffix.FindStringSubmatch(name); m != nil {
			procs, _ = strconv.Atoi(m[1])
			name = strings.TrimSuffix(name, m[0])
		}
		var metrics []Metric
		ok := true
		for i := 2; i+1 < len(fields); i += 2 {
			v, err := strconv.ParseFloat(fields[i], 64)
			if err != nil {
				ok = false
				break
			}
			metrics = append(metrics, Metric{Unit: fields[i+1], Value: v})
		}
		if !ok || len(metrics) == 0 {
			continue
		}
		key := pkg + "\x00" + name
		a := byKey[key]
		if a == nil {
			a = &acc{b: Benchmark{Package: pkg, Name: name, Procs: procs}, values: map[string][]float64{}}
			byKey[key] = a
			order = append(order, key)
		}
		a.b.Runs++
		for _, m := range metrics {
			if _, seen := a.values[m.Unit]; !seen {
				a.units = append(a.units, m.Unit)
			}
			a.values[m.Unit] = append(a.values[m.Unit], m.Value)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	out := make([]Benchmark, 0, len(order))
	for _, key := range order {
		a := byKey[key]
		for _, u := range a.units {
			a.b.Metrics = append(a.b.Metrics, Metric{Unit: u, Value: median(a.values[u])})
		}
		out = append(out, a.b)
	}
	return out, nil
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	sort.Float64s(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}
