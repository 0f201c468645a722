// Command sdapi-conform runs the sdapi conformance suite against any server
// speaking A1111's /sdapi/v1 API and reports, check by check, where it keeps
// the contract and where it breaks it.
//
//	sdapi-conform --target http://127.0.0.1:7860 [--profile a1111 | --profile-file mine.json] [--user U --password P]
//	              [--label-filter 'listings || errors'] [--spec openapi.yaml]
//	              [--report out/report.md --junit out/junit.xml --json out/report.json --evidence-dir out/evidence]
//
//	sdapi-conform --profiles    # every profile's claims and the symptom each must show
//
// A profile's claims are checked, not believed: after the failures it lists
// how they fared (confirmed, not observed, different failure, applies after
// all, routes present after all). It exits 1 when any check failed and 2 on
// a usage error.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/onsi/ginkgo/v2/formatter"
	"github.com/onsi/ginkgo/v2/types"

	"github.com/sdapi/sdapi/conformance"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	cfg := conformance.DefaultConfig()
	fs := flag.NewFlagSet("sdapi-conform", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.Target, "target", os.Getenv("SDAPI_TARGET"), "base URL of the server under test (or $SDAPI_TARGET)")
	fs.StringVar(&cfg.User, "user", os.Getenv("SDAPI_USER"), "HTTP basic auth user (or $SDAPI_USER); enables the auth checks")
	fs.StringVar(&cfg.Password, "password", os.Getenv("SDAPI_PASSWORD"), "HTTP basic auth password (or $SDAPI_PASSWORD)")
	fs.StringVar(&cfg.Profile, "profile", "a1111", "server profile: "+strings.Join(conformance.ProfileNames(), ", "))
	profileFile := fs.String("profile-file", "", "read the profile from a JSON FILE (your own server's claims; see --profiles) instead of --profile")
	labelFilter := fs.String("label-filter", "", "Ginkgo label filter, e.g. 'listings || errors' or '!slow'")
	fs.StringVar(&cfg.SpecPath, "spec", "", "OpenAPI document to validate against (default: the embedded sdapi.yaml)")
	fs.StringVar(&cfg.JUnitReport, "junit", "", "write a JUnit XML report to FILE")
	fs.StringVar(&cfg.JSONReport, "json", "", "write Ginkgo's JSON report to FILE")
	fs.StringVar(&cfg.MarkdownReport, "report", "", "write the markdown report to FILE.md")
	fs.StringVar(&cfg.EvidenceDir, "evidence-dir", "", "write evidence images (determinism pairs, contact sheet) and large request bodies to DIR")
	timeout := fs.Duration("timeout", 30*time.Minute, "limit for the whole run")
	fs.DurationVar(&cfg.Timeout, "request-timeout", 2*time.Minute, "limit for one HTTP exchange")
	fs.BoolVar(&cfg.Destructive, "destructive", false, "also call server-stop/kill/restart, unload/reload-checkpoint, create/* and train/*")
	list := fs.Bool("list", false, "list the checks without running them")
	profiles := fs.Bool("profiles", false, "print each profile's claims with the symptom each must show to be believed (markdown), and exit")
	verbose := fs.Bool("v", false, "print every check as it runs")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "sdapi-conform: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	if *profiles {
		fmt.Fprint(stdout, conformance.ProfileListing())
		return 0
	}
	if *profileFile != "" {
		p, err := conformance.LoadProfileFile(*profileFile)
		if err != nil {
			fmt.Fprintln(stderr, "sdapi-conform:", err)
			return 2
		}
		cfg.Profile, cfg.OwnProfile = p.Name, &p
	} else if _, err := conformance.LookupProfile(cfg.Profile); err != nil {
		fmt.Fprintln(stderr, "sdapi-conform:", err)
		return 2
	}
	if cfg.Target == "" && !*list {
		fmt.Fprintln(stderr, "sdapi-conform: --target URL is required (or set SDAPI_TARGET)")
		return 2
	}
	cfg.LabelFilter = *labelFilter
	cfg.Identity = "sdapi-conform --target " + cfg.Target

	// Progress: with -v or --list Ginkgo prints every check itself;
	// otherwise Ginkgo is silenced and sdapi-conform shows one live line on
	// a terminal, one plain line per check elsewhere (CI logs). Ginkgo's
	// console reporter writes to formatter.ColorableStdOut and RunSpecs
	// takes no writer, so this program, which owns its standard output,
	// points that writer away; the conformance library never touches it.
	tty := isTerminal(stdout)
	var prog *progressPrinter
	if !*verbose && !*list {
		prog = newProgressPrinter(stdout, tty)
		cfg.Progress = prog.event
		formatter.ColorableStdOut = io.Discard
	}

	fmt.Fprintf(stdout, "sdapi-conform: judging %s (profile %s)\n", cfg.Target, cfg.Profile)
	res := conformance.Run(cfg, conformance.RunOptions{
		LabelFilter: *labelFilter, Timeout: *timeout, DryRun: *list,
		Verbose: *verbose || *list, NoColor: !tty,
	})
	if prog != nil {
		prog.finish()
	}

	c := res.Counts
	if r := res.Report; r != nil {
		printFailures(stdout, *r)
	}
	if !*list {
		printClaims(stdout, cfg.Profile, res.Claims, res.Routes)
	}
	if cfg.MarkdownReport != "" && !*list {
		fmt.Fprintf(stdout, "report: %s\n", cfg.MarkdownReport)
	}
	fmt.Fprintf(stdout, "\n%d passed, %d failed, %d skipped\n", c.Passed, c.Failed, c.Skipped)
	if !res.OK {
		return 1
	}
	return 0
}

// printFailures lists every failed check with the curl line that
// reproduces it (the last "Reproduce with" of its message).
func printFailures(w io.Writer, r types.Report) {
	first := true
	for _, s := range r.SpecReports {
		if !s.State.Is(types.SpecStateFailureStates) {
			continue
		}
		if first {
			fmt.Fprintln(w, "\nFailures:")
			first = false
		}
		msg := s.Failure.Message
		head, _, _ := strings.Cut(msg, "\n")
		name := s.LeafNodeText
		if name == "" {
			name = s.LeafNodeType.String()
		}
		fmt.Fprintf(w, "  ✗ %s\n    %s\n", name, head)
		if i := strings.LastIndex(msg, "Reproduce with:"); i >= 0 {
			rest := strings.TrimSpace(msg[i+len("Reproduce with:"):])
			line, _, _ := strings.Cut(rest, "\n")
			fmt.Fprintf(w, "    reproduce: %s\n", truncate(line, 2000))
		}
	}
}

// printClaims summarises how the profile's claims fared and names every
// claim that was not observed as documented: those are what the profile's
// author must fix (stale claims) or look at (different failures).
func printClaims(w io.Writer, profile string, claims []conformance.ClaimResult, routes []conformance.RouteObservation) {
	counts := map[conformance.Outcome]int{}
	var notable []conformance.ClaimResult
	for _, c := range claims {
		counts[c.Outcome]++
		if !c.Outcome.Skips() {
			notable = append(notable, c)
		}
	}
	var present []string
	for _, r := range routes {
		if r.Present() {
			present = append(present, r.Route)
		}
	}
	if len(claims) == 0 && len(present) == 0 {
		return
	}
	var parts []string
	for _, o := range []conformance.Outcome{conformance.DivergenceConfirmed, conformance.NotApplicableConfirmed,
		conformance.RouteMissingConfirmed, conformance.DivergenceNotObserved, conformance.AppliesAfterAll, conformance.DifferentFailure} {
		if counts[o] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", counts[o], o))
		}
	}
	if len(parts) == 0 {
		parts = append(parts, "no check judged against a claim")
	}
	fmt.Fprintf(w, "\nProfile %s claims: %s\n", profile, strings.Join(parts, ", "))
	for _, c := range notable {
		fmt.Fprintf(w, "  ! %s: %s %s (%s), check %q\n", c.Outcome, c.Kind, c.Key, truncate(c.Why, 200), truncate(c.Spec, 120))
	}
	for _, r := range present {
		fmt.Fprintf(w, "  ! route present after all: %s is claimed missing but answered\n", r)
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
