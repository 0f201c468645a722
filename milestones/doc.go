// Package milestones turns real test and conformance runs into milestone
// evidence: a plan per milestone, a record per run, a summary and an audit
// per milestone, and one ledger for the project, all under milestones/.
//
// The layout of a milestones directory:
//
//	gates.yaml            the gates every run is judged by (see Gates)
//	ledger.md             one row per milestone and one per recorded run
//	M01/M01_plan.md       written once by New, then edited by people
//	M01/M01_run1.md       one per recorded run (Record), with
//	M01/M01_run1.json     the data the .md is rendered from; gates,
//	                      summaries and audits read these
//	M01/M01_summary.md    changes since the previous milestone (Summary)
//	M01/M01_audit.md      invariants and gates on the latest run (Audit)
//
// The package imports nothing of the server side: it reads Ginkgo JSON
// reports, Go cover profiles and `go test -bench` output, so it can govern
// any sdapi server. It reads no environment variables; the caller passes
// what it knows about the run (commit, branch, CI run) in Env.
package milestones
