package milestones

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// LedgerName is the ledger's file name in the milestones directory.
const LedgerName = "ledger.md"

const ledgerIntro = `# sdapi milestone ledger

One row per milestone and one per recorded run, written by ` + "`sdapi-milestone`" + ` from the run
records. ` + "`record`" + ` and ` + "`audit`" + ` add or update rows in place (the first column is the key);
text outside the tables is kept.
`

var (
	milestoneHeader = []string{"milestone", "title", "runs", "latest commit", "CI runs", "latest gates", "audit score"}
	runHeader       = []string{"run", "date", "commit", "branch", "CI run", "target", "result", "coverage", "gates", "identity"}
)

// updateLedger upserts the row of every recorded run and every milestone.
func (s Store) updateLedger(gates Gates) (string, error) {
	file := filepath.Join(s.Dir, LedgerName)
	doc, err := os.ReadFile(file)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	ids, err := s.Milestones()
	if err != nil {
		return "", err
	}
	all, err := s.AllRuns()
	if err != nil {
		return "", err
	}
	var mrows, rrows []string
	for _, id := range ids {
		a, err := s.audit(id, gates, all)
		if err != nil {
			return "", err
		}
		mrows = append(mrows, milestoneRow(a))
	}
	for _, r := range all {
		rrows = append(rrows, runRow(r))
	}
	text := string(doc)
	if text == "" {
		text = ledgerIntro
	}
	text = UpsertTable(text, "milestones", "Milestones", milestoneHeader, mrows)
	text = UpsertTable(text, "runs", "Runs", runHeader, rrows)
	return file, writeIfChanged(file, []byte(text))
}

func milestoneRow(a *AuditResult) string {
	latestCommit, ci, gates := "—", "—", "—"
	var ids []string
	for _, r := range a.Runs {
		if r.Env.CIRunID != "" {
			ids = append(ids, r.Env.CIRunID)
		}
	}
	if len(ids) > 0 {
		ci = strings.Join(ids, ", ")
	}
	score := "—"
	if a.Latest != nil {
		latestCommit = shortCommit(a.Latest.Env)
		broken := len(Broken(a.Latest.Verdicts))
		gates = fmt.Sprintf("%s (%d of %d pass)", strings.ToLower(verdictWord(a.Latest.Verdicts)), len(a.Latest.Verdicts)-broken, len(a.Latest.Verdicts))
		score = a.Score()
	}
	return tableRow(fmt.Sprintf("[%s](%s/%s_plan.md)", a.ID, a.ID, a.ID), a.Title, fmt.Sprint(len(a.Runs)), latestCommit, ci, gates, score)
}

func runRow(r *Run) string {
	c := r.Conformance
	cov := "—"
	if r.Coverage != nil {
		cov = fmt.Sprintf("%.1f%%", r.Coverage.Percent())
	}
	broken := len(Broken(r.Verdicts))
	gates := fmt.Sprintf("%s (%d of %d pass)", strings.ToLower(verdictWord(r.Verdicts)), len(r.Verdicts)-broken, len(r.Verdicts))
	target := cmpOr(c.Target.Identity, c.Target.URL)
	if c.Target.Profile != "" {
		target += " (" + c.Target.Profile + ")"
	}
	return tableRow(
		fmt.Sprintf("[%s](%s/%s.md)", r.Ref(), r.Milestone, r.BaseName()),
		r.Date.UTC().Format("2006-01-02 15:04Z"),
		shortCommit(r.Env), orDash(r.Env.Branch), orDash(r.Env.CIRunID),
		target, c.Counts().String(), cov, gates, code(shortIdentity(r.Identity)))
}

func shortCommit(e Env) string {
	if e.Commit == "" {
		return "—"
	}
	c := e.Commit
	if len(c) > 12 {
		c = c[:12]
	}
	s := "`" + c + "`"
	if e.Dirty {
		s += "+changes"
	}
	return s
}

// shortIdentity abbreviates the commit and digest of an identity.
func shortIdentity(id string) string {
	commit, digest, ok := strings.Cut(id, "+report:")
	if !ok {
		return id
	}
	if len(commit) > 12 {
		commit = commit[:12]
	}
	if len(digest) > 16 {
		digest = digest[:16]
	}
	return commit + "+report:" + digest
}

func tableRow(cells ...string) string {
	for i, c := range cells {
		cells[i] = cell(c)
	}
	return "| " + strings.Join(cells, " | ") + " |"
}

// UpsertTable adds or updates rows of the managed table name in doc (a
// block between <!-- sdapi-milestone:name --> markers under a "## heading";
// created at the end when missing). A row replaces the row with the same
// first cell in place; rows with new keys are appended; other rows and all
// text outside the block are kept.
func UpsertTable(doc, name, heading string, header []string, rows []string) string {
	begin, end := "<!-- sdapi-milestone:"+name+" -->", "<!-- /sdapi-milestone:"+name+" -->"
	head := tableRow(header...) + "\n" + "|" + strings.Repeat("---|", len(header))
	i := strings.Index(doc, begin)
	j := strings.Index(doc, end)
	var existing []string
	if i < 0 || j < i {
		if !strings.HasSuffix(doc, "\n") {
			doc += "\n"
		}
		doc += "\n## " + heading + "\n\n" + begin + "\n" + end + "\n"
		i, j = strings.Index(doc, begin), strings.Index(doc, end)
	} else {
		for _, line := range strings.Split(doc[i+len(begin):j], "\n") {
			line = strings.TrimSpace(line)
			if strings.HasPrefix(line, "|") {
				existing = append(existing, line)
			}
		}
		if len(existing) >= 2 {
			existing = existing[2:] // header and separator
		} else {
			existing = nil
		}
	}
	pos := map[string]int{}
	for k, line := range existing {
		pos[firstCell(line)] = k
	}
	for _, r := range rows {
		if k, ok := pos[firstCell(r)]; ok {
			existing[k] = r
			continue
		}
		pos[firstCell(r)] = len(existing)
		existing = append(existing, r)
	}
	body := head + "\n"
	for _, r := range existing {
		body += r + "\n"
	}
	return doc[:i] + begin + "\n" + body + doc[j:]
}

func firstCell(row string) string {
	cells := tableCells(row)
	if len(cells) == 0 {
		return row
	}
	return cells[0]
}
