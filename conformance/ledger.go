package conformance

import (
	"encoding/json"
	"fmt"
	"image"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	"github.com/onsi/ginkgo/v2/types"
)

// What the report shows beyond pass and fail (operations called, figures,
// judged claims, evidence images) is collected per check and attached to
// the check's own Ginkgo report as a "sdapi-ledger" entry when it ends.
// The report is then the one channel: under `ginkgo -p` each process's
// checks carry their share to process 1, whose ReportAfterSuite merges the
// entries of the whole run; serially it is the same path.

// ledgerEntryName names the report entry that carries a ledgerEntry.
const ledgerEntryName = "sdapi-ledger"

// maxImages bounds the evidence images one process keeps.
const maxImages = 400

// ledgerEntry is what a check (or the suite's setup) saw.
type ledgerEntry struct {
	Ops     map[string]*opRecord `json:"ops,omitempty"` // by operation ID
	OffSpec int                  `json:"off_spec,omitempty"`
	Figures []figure             `json:"figures,omitempty"`
	// Coverage says why an operation was not exercised (skips).
	Coverage map[string]string      `json:"coverage,omitempty"`
	Claims   []ClaimResult          `json:"claims,omitempty"`
	Routes   map[string]map[int]int `json:"routes,omitempty"` // claimed-missing route → status → count
	// Images are evidence files written under Config.EvidenceDir.
	Images []string `json:"images,omitempty"`
	// Version is info.version of the first generation seen.
	Version string `json:"version,omitempty"`
}

type opRecord struct {
	Calls      int           `json:"calls"`
	Statuses   map[int]int   `json:"statuses"`
	Exercised  bool          `json:"exercised,omitempty"` // a valid request got a 2xx
	Violations []string      `json:"violations,omitempty"`
	Total      time.Duration `json:"total_ns"`
}

type figure struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Value string `json:"value"`
}

// String keeps the entry's text form in report.json short (the JSON form
// carries the data).
func (e *ledgerEntry) String() string {
	calls := e.OffSpec
	for _, r := range e.Ops {
		calls += r.Calls
	}
	return fmt.Sprintf("%d exchanges, %d figures, %d claims, %d images", calls, len(e.Figures), len(e.Claims), len(e.Images))
}

func (e *ledgerEntry) empty() bool {
	return len(e.Ops) == 0 && e.OffSpec == 0 && len(e.Figures) == 0 && len(e.Coverage) == 0 &&
		len(e.Claims) == 0 && len(e.Routes) == 0 && len(e.Images) == 0 && e.Version == ""
}

func newLedgerEntry() *ledgerEntry {
	return &ledgerEntry{Ops: map[string]*opRecord{}, Coverage: map[string]string{}, Routes: map[string]map[int]int{}}
}

// add merges o into e.
func (e *ledgerEntry) add(o *ledgerEntry) {
	for id, r := range o.Ops {
		t := e.Ops[id]
		if t == nil {
			t = &opRecord{Statuses: map[int]int{}}
			e.Ops[id] = t
		}
		t.Calls += r.Calls
		for code, n := range r.Statuses {
			t.Statuses[code] += n
		}
		t.Exercised = t.Exercised || r.Exercised
		for _, v := range r.Violations {
			if len(t.Violations) < 5 {
				t.Violations = append(t.Violations, v)
			}
		}
		t.Total += r.Total
	}
	e.OffSpec += o.OffSpec
	e.Figures = append(e.Figures, o.Figures...)
	for id, why := range o.Coverage {
		e.Coverage[id] = why
	}
	e.Claims = append(e.Claims, o.Claims...)
	for route, codes := range o.Routes {
		if e.Routes[route] == nil {
			e.Routes[route] = map[int]int{}
		}
		for code, n := range codes {
			e.Routes[route][code] += n
		}
	}
	e.Images = append(e.Images, o.Images...)
	if e.Version == "" {
		e.Version = o.Version
	}
}

// recorder collects what the running check sees (exchanges may come from
// its goroutines, hence the lock).
type recorder struct {
	mu      sync.Mutex
	pending *ledgerEntry
	images  []namedImage // kept since the last flush
	kept    int          // images kept by this process
	version string       // info.version, once seen in this process
}

type namedImage struct {
	Name string
	Img  image.Image
}

// with runs f on the pending entry under the lock.
func (r *recorder) with(f func(e *ledgerEntry)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.pending == nil {
		r.pending = newLedgerEntry()
	}
	f(r.pending)
}

func (r *recorder) exchange(ex *Exchange) {
	r.with(func(e *ledgerEntry) {
		if ex.OperationID == "" {
			e.OffSpec++
			return
		}
		o := e.Ops[ex.OperationID]
		if o == nil {
			o = &opRecord{Statuses: map[int]int{}}
			e.Ops[ex.OperationID] = o
		}
		o.Calls++
		o.Statuses[ex.Status]++
		o.Total += ex.Elapsed
		if !ex.Req.Negative && ex.Status >= 200 && ex.Status < 300 && ex.Violation == "" {
			o.Exercised = true
		}
		if ex.Violation != "" && len(o.Violations) < 5 {
			o.Violations = append(o.Violations, fmt.Sprintf("%d: %s", ex.Status, firstLines(ex.Violation, 3)))
		}
	})
}

// recordFigure keeps a measured value for the report.
func (suite *Suite) recordFigure(id, name string, v any) {
	suite.rec.with(func(e *ledgerEntry) { e.Figures = append(e.Figures, figure{id, name, fmt.Sprint(v)}) })
}

// recordNotExercised says why a valid request to opID did not count.
func (suite *Suite) recordNotExercised(opID, why string) {
	suite.rec.with(func(e *ledgerEntry) { e.Coverage[opID] = why })
}

// keepImage records a generated image under name (ID-prefixed) for the
// evidence folder and the contact sheet.
func (suite *Suite) keepImage(name string, img image.Image) {
	suite.rec.mu.Lock()
	defer suite.rec.mu.Unlock()
	if suite.rec.kept < maxImages {
		suite.rec.kept++
		suite.rec.images = append(suite.rec.images, namedImage{name, img})
	}
}

// noteVersion records info.version the first time a generation shows one.
func (suite *Suite) noteVersion(v string) {
	suite.rec.mu.Lock()
	seen := suite.rec.version != ""
	suite.rec.version = cmpStr(suite.rec.version, v)
	suite.rec.mu.Unlock()
	if !seen {
		suite.rec.with(func(e *ledgerEntry) { e.Version = v })
	}
}

// flush attaches what was recorded since the last flush to the running
// node's report, writing the kept images under Config.EvidenceDir first.
func (suite *Suite) flush() {
	suite.rec.mu.Lock()
	e, images := suite.rec.pending, suite.rec.images
	suite.rec.pending, suite.rec.images = nil, nil
	suite.rec.mu.Unlock()
	if e == nil {
		e = newLedgerEntry()
	}
	if dir := suite.cfg.EvidenceDir; dir != "" && len(images) > 0 {
		if err := os.MkdirAll(dir, 0o755); err == nil {
			for _, ni := range images {
				name := suite.imageFileName(ni.Name)
				if os.WriteFile(filepath.Join(dir, name), encodePNG(ni.Img), 0o644) == nil {
					e.Images = append(e.Images, name)
				}
			}
		}
	}
	if !e.empty() {
		AddReportEntry(ledgerEntryName, e, ReportEntryVisibilityNever)
	}
}

// imageFileName numbers the process's images in order; under ginkgo -p a
// process prefix keeps the processes' names apart.
func (suite *Suite) imageFileName(name string) string {
	n := suite.evidenceImages.Add(1) - 1
	if p := GinkgoParallelProcess(); p > 1 {
		return fmt.Sprintf("p%d-%03d-%s.png", p, n, sanitize(name))
	}
	return fmt.Sprintf("%03d-%s.png", n, sanitize(name))
}

// mergeLedger merges the ledger entries of a whole run's report, in the
// report's order.
func mergeLedger(r types.Report) (*ledgerEntry, error) {
	all := newLedgerEntry()
	for _, s := range r.SpecReports {
		for _, re := range s.ReportEntries {
			if re.Name != ledgerEntryName {
				continue
			}
			e, err := decodeLedgerEntry(re)
			if err != nil {
				return all, fmt.Errorf("%s of %q: %w", ledgerEntryName, s.FullText(), err)
			}
			all.add(e)
		}
	}
	slices.Sort(all.Images) // process 1's numbered files first, in order, then p2-…, p3-…
	return all, nil
}

// decodeLedgerEntry reads an entry in-process (the value itself) or after
// it crossed from another process (decoded JSON).
func decodeLedgerEntry(re types.ReportEntry) (*ledgerEntry, error) {
	if e, ok := re.Value.GetRawValue().(*ledgerEntry); ok {
		return e, nil
	}
	raw := []byte(re.Value.AsJSON)
	if len(raw) == 0 {
		var err error
		if raw, err = json.Marshal(re.Value.GetRawValue()); err != nil {
			return nil, err
		}
	}
	e := newLedgerEntry()
	if err := json.Unmarshal(raw, e); err != nil {
		return nil, err
	}
	return e, nil
}
