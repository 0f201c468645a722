// Command sdapi-milestone writes a milestone's evidence from real runs and
// enforces the project's gates.
//
//	sdapi-milestone new ID --title T
//	sdapi-milestone record ID --conformance report.json [--coverage cover.out] [--bench bench.txt] [--load load.json]
//	                          [--commit SHA --branch B --ci-run ID]
//	sdapi-milestone gate ID [--conformance report.json [--coverage cover.out] [--bench bench.txt]]
//	sdapi-milestone summary ID
//	sdapi-milestone audit ID
//
// Every subcommand takes --dir (the milestones directory, default
// "milestones") and --gates (default DIR/gates.yaml). record takes the
// commit, branch and CI run from the CI's environment (GitHub Actions,
// GitLab CI) or from git; flags override both. gate judges the latest
// recorded run of ID, or, given --conformance, the run those files describe
// without recording it, against the last recorded run on the same target.
//
// Exit status: 0 when done (gate: every gate passed), 1 when a gate broke
// or the work failed, 2 on a usage error.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/sdapi/sdapi/milestones"
)

func main() { os.Exit(run(os.Args[1:], os.Getenv, os.Stdout, os.Stderr)) }

const usage = `usage:
  sdapi-milestone new ID --title T
  sdapi-milestone record ID --conformance report.json [--coverage cover.out] [--bench bench.txt] [--load load.json]
  sdapi-milestone gate ID [--conformance report.json [--coverage cover.out] [--bench bench.txt]]
  sdapi-milestone summary ID
  sdapi-milestone audit ID
flags for every subcommand: --dir milestones --gates DIR/gates.yaml
`

// errUsage marks errors that exit 2.
var errUsage = errors.New("usage")

func run(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	err := dispatch(args, getenv, stdout)
	var broken gateError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &broken):
		for _, v := range broken.verdicts {
			fmt.Fprintf(stderr, "gate %s\n", v)
		}
		return 1
	case errors.Is(err, errUsage):
		fmt.Fprintf(stderr, "sdapi-milestone: %v\n%s", err, usage)
		return 2
	default:
		fmt.Fprintf(stderr, "sdapi-milestone: %v\n", err)
		return 1
	}
}

type gateError struct{ verdicts []milestones.Verdict }

func (e gateError) Error() string { return fmt.Sprintf("%d gates broken", len(e.verdicts)) }

type options struct {
	dir, gates, title            string
	conformance, coverage, bench string
	load                         string
	commit, branch, ciRun        string
}

func dispatch(args []string, getenv func(string) string, stdout io.Writer) error {
	if len(args) < 2 || strings.HasPrefix(args[0], "-") || strings.HasPrefix(args[1], "-") {
		return fmt.Errorf("%w: a subcommand and a milestone ID are required", errUsage)
	}
	cmd, id := args[0], args[1]
	var o options
	fs := flag.NewFlagSet("sdapi-milestone "+cmd, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&o.dir, "dir", "milestones", "the milestones directory")
	fs.StringVar(&o.gates, "gates", "", "gates file (default DIR/gates.yaml)")
	switch cmd {
	case "new":
		fs.StringVar(&o.title, "title", "", "the milestone's title")
	case "record", "gate":
		fs.StringVar(&o.conformance, "conformance", "", "conformance report: Ginkgo JSON (report.md beside it gives the target)")
		fs.StringVar(&o.coverage, "coverage", "", "Go cover profile (go test -coverprofile)")
		fs.StringVar(&o.bench, "bench", "", "go test -bench output")
		fs.StringVar(&o.load, "load", "", "cmd/sdapi-load results (load.json)")
		if cmd == "record" {
			fs.StringVar(&o.commit, "commit", "", "commit (default: from CI env or git)")
			fs.StringVar(&o.branch, "branch", "", "branch (default: from CI env or git)")
			fs.StringVar(&o.ciRun, "ci-run", "", "CI run ID (default: from CI env)")
		}
	case "summary", "audit":
	default:
		return fmt.Errorf("%w: unknown subcommand %q", errUsage, cmd)
	}
	if err := fs.Parse(args[2:]); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	if err := milestones.CheckID(id); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if o.gates == "" {
		o.gates = filepath.Join(o.dir, "gates.yaml")
	}
	gates, err := milestones.LoadGates(o.gates)
	if err != nil {
		return err
	}
	store := milestones.Store{Dir: o.dir}

	switch cmd {
	case "new":
		file, err := store.New(id, o.title, gates)
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, file)
	case "record":
		if o.conformance == "" {
			return fmt.Errorf("%w: record needs --conformance report.json", errUsage)
		}
		in, err := loadInputs(o)
		if err != nil {
			return err
		}
		in.Env = environment(getenv, o)
		res, err := store.Record(id, in, gates)
		if err != nil {
			return err
		}
		what := "recorded"
		if !res.New {
			what = "already recorded (same commit and report); record left as it was"
		}
		fmt.Fprintf(stdout, "%s %s: %s\n", res.Run.Ref(), what, gateSummary(res.Run.Verdicts))
		for _, f := range res.Files {
			fmt.Fprintln(stdout, " ", f)
		}
	case "gate":
		var r *milestones.Run
		if o.conformance != "" {
			in, err := loadInputs(o)
			if err != nil {
				return err
			}
			in.Env = environment(getenv, o)
			r, err = store.Candidate(id, in, gates)
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "%s (unrecorded run of %s, compared with %s): %s\n", id, o.conformance, orNone(r.Previous), gateSummary(r.Verdicts))
		} else {
			if o.coverage != "" || o.bench != "" || o.load != "" {
				return fmt.Errorf("%w: --coverage, --bench and --load go with --conformance", errUsage)
			}
			r, err = store.Latest(id, gates)
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "%s (compared with %s): %s\n", r.Ref(), orNone(r.Previous), gateSummary(r.Verdicts))
		}
		if broken := milestones.Broken(r.Verdicts); len(broken) > 0 {
			return gateError{broken}
		}
	case "summary":
		file, err := store.Summary(id, gates)
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, file)
	case "audit":
		a, file, err := store.Audit(id, gates)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s (score %s)\n", file, a.Score())
	}
	return nil
}

func orNone(s string) string {
	if s == "" {
		return "no earlier run on this target"
	}
	return s
}

func gateSummary(vs []milestones.Verdict) string {
	broken := milestones.Broken(vs)
	if len(broken) == 0 {
		return fmt.Sprintf("all %d gates pass", len(vs))
	}
	return fmt.Sprintf("%d of %d gates broken", len(broken), len(vs))
}

func loadInputs(o options) (milestones.Inputs, error) {
	var in milestones.Inputs
	var err error
	if in.Conformance, err = milestones.LoadConformance(o.conformance); err != nil {
		return in, err
	}
	if o.coverage != "" {
		c, err := milestones.LoadCoverProfile(o.coverage)
		if err != nil {
			return in, err
		}
		in.Coverage = &c
	}
	if o.bench != "" {
		if in.Benchmarks, err = milestones.LoadBench(o.bench); err != nil {
			return in, err
		}
	}
	if o.load != "" {
		if in.Load, err = milestones.LoadLoad(o.load); err != nil {
			return in, err
		}
	}
	return in, nil
}

// environment describes where the run happened: the CI's variables first
// (GitHub Actions, GitLab CI), then git, then the flags over both.
func environment(getenv func(string) string, o options) milestones.Env {
	var e milestones.Env
	switch {
	case getenv("GITHUB_ACTIONS") == "true" || getenv("GITHUB_SHA") != "":
		e.CIProvider = "GitHub Actions"
		e.Commit, e.Branch = getenv("GITHUB_SHA"), getenv("GITHUB_REF_NAME")
		if id := getenv("GITHUB_RUN_ID"); id != "" {
			e.CIRunID = id
			if a := getenv("GITHUB_RUN_ATTEMPT"); a != "" && a != "1" {
				e.CIRunID += "/attempt " + a
			}
			if srv, repo := getenv("GITHUB_SERVER_URL"), getenv("GITHUB_REPOSITORY"); srv != "" && repo != "" {
				e.CIRunURL = srv + "/" + repo + "/actions/runs/" + id
			}
		}
	case getenv("GITLAB_CI") == "true" || getenv("CI_COMMIT_SHA") != "":
		e.CIProvider = "GitLab CI"
		e.Commit, e.Branch = getenv("CI_COMMIT_SHA"), getenv("CI_COMMIT_REF_NAME")
		e.CIRunID, e.CIRunURL = getenv("CI_PIPELINE_ID"), getenv("CI_PIPELINE_URL")
	}
	if e.Commit == "" {
		e.Commit = git("rev-parse", "HEAD")
	}
	if e.Branch == "" {
		if b := git("rev-parse", "--abbrev-ref", "HEAD"); b != "HEAD" {
			e.Branch = b
		}
	}
	if e.Commit != "" && e.Commit == git("rev-parse", "HEAD") {
		e.Dirty = git("status", "--porcelain", "--untracked-files=no") != ""
	}
	if o.commit != "" {
		e.Commit, e.Dirty = o.commit, false
	}
	if o.branch != "" {
		e.Branch = o.branch
	}
	if o.ciRun != "" {
		e.CIRunID = o.ciRun
	}
	return e
}

// git runs git and returns its trimmed output ("" when git fails).
func git(args ...string) string {
	out, err := exec.Command("git", args...).Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}
