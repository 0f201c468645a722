package milestones

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// Store is a milestones directory (see the package documentation).
type Store struct {
	Dir string
}

// ErrNoPlan is returned for a milestone that has no plan yet.
var ErrNoPlan = errors.New("milestone has no plan")

var (
	validID  = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9._-]*$`)
	runFile  = regexp.MustCompile(`^(.+)_run([0-9]+)\.json$`)
	titleRow = regexp.MustCompile(`^# (\S+) plan: (.*)$`)
)

// CheckID reports whether id can name a milestone ("M01", "M14.1").
func CheckID(id string) error {
	if !validID.MatchString(id) {
		return fmt.Errorf("milestone id %q: use letters, digits, '.', '_' or '-', starting with a letter", id)
	}
	return nil
}

func (s Store) milestoneDir(id string) string { return filepath.Join(s.Dir, id) }

// PlanPath is where the plan of id lives.
func (s Store) PlanPath(id string) string {
	return filepath.Join(s.milestoneDir(id), id+"_plan.md")
}

// Title reads the milestone's title from its plan's first line.
func (s Store) Title(id string) (string, error) {
	data, err := os.ReadFile(s.PlanPath(id))
	if errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("%s: %w (run: sdapi-milestone new %s --title ...)", id, ErrNoPlan, id)
	}
	if err != nil {
		return "", err
	}
	first, _, _ := strings.Cut(string(data), "\n")
	if m := titleRow.FindStringSubmatch(first); m != nil {
		return m[2], nil
	}
	return "", nil
}

// Milestones lists the milestone IDs that have a folder with a plan, in
// natural order (M2 before M10).
func (s Store) Milestones() ([]string, error) {
	entries, err := os.ReadDir(s.Dir)
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, e := range entries {
		if !e.IsDir() || CheckID(e.Name()) != nil {
			continue
		}
		if _, err := os.Stat(s.PlanPath(e.Name())); err == nil {
			ids = append(ids, e.Name())
		}
	}
	sort.Slice(ids, func(i, j int) bool { return naturalLess(ids[i], ids[j]) })
	return ids, nil
}

// Runs reads the recorded runs of id, by run number.
func (s Store) Runs(id string) ([]*Run, error) {
	entries, err := os.ReadDir(s.milestoneDir(id))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var runs []*Run
	for _, e := range entries {
		m := runFile.FindStringSubmatch(e.Name())
		if m == nil || m[1] != id {
			continue
		}
		data, err := os.ReadFile(filepath.Join(s.milestoneDir(id), e.Name()))
		if err != nil {
			return nil, err
		}
		var r Run
		if err := json.Unmarshal(data, &r); err != nil {
			return nil, fmt.Errorf("%s: %w", e.Name(), err)
		}
		runs = append(runs, &r)
	}
	sort.Slice(runs, func(i, j int) bool { return runs[i].N < runs[j].N })
	return runs, nil
}

// AllRuns reads every recorded run: milestones in natural order, runs by
// number. This is the order "previous run" refers to.
func (s Store) AllRuns() ([]*Run, error) {
	ids, err := s.Milestones()
	if err != nil {
		return nil, err
	}
	var all []*Run
	for _, id := range ids {
		runs, err := s.Runs(id)
		if err != nil {
			return nil, err
		}
		all = append(all, runs...)
	}
	return all, nil
}

// previousRun is the last run before (milestone id, run n) in AllRuns
// order against the same target.
func previousRun(all []*Run, run *Run) *Run {
	key := run.Conformance.Target.Key()
	var prev *Run
	for _, r := range all {
		if !runBefore(r, run) {
			continue
		}
		if r.Conformance.Target.Key() == key {
			prev = r
		}
	}
	return prev
}

func runBefore(a, b *Run) bool {
	if a.Milestone != b.Milestone {
		return naturalLess(a.Milestone, b.Milestone)
	}
	return a.N < b.N
}

// writeIfChanged writes data unless the file already holds exactly it,
// so recording the same run twice touches nothing.
func writeIfChanged(file string, data []byte) error {
	old, err := os.ReadFile(file)
	if err == nil && bytes.Equal(old, data) {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		return err
	}
	return os.WriteFile(file, data, 0o644)
}

var digits = regexp.MustCompile(`[0-9]+|[^0-9]+`)

// naturalLess orders IDs with embedded numbers numerically.
func naturalLess(a, b string) bool {
	pa, pb := digits.FindAllString(a, -1), digits.FindAllString(b, -1)
	for i := 0; i < len(pa) && i < len(pb); i++ {
		if pa[i] == pb[i] {
			continue
		}
		na, ea := strconv.Atoi(pa[i])
		nb, eb := strconv.Atoi(pb[i])
		if ea == nil && eb == nil && na != nb {
			return na < nb
		}
		return pa[i] < pb[i]
	}
	return len(pa) < len(pb)
}
