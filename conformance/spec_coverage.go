package conformance

import (
	"fmt"
	"net/http"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// destructiveOps are the operations the sweep calls only with Destructive:
// they stop the server, unload its model or write files on it.
var destructiveOps = map[string]string{
	"/server-kill":         "would end the target process",
	"/server-restart":      "would restart the target",
	"/server-stop":         "would stop the target",
	"/unload-checkpoint":   "would unload the target's model in the middle of the run",
	"/reload-checkpoint":   "would reload the target's model in the middle of the run",
	"/create/embedding":    "would write an embedding file on the target",
	"/create/hypernetwork": "would write a hypernetwork file on the target",
	"/train/embedding":     "would start training on the target",
	"/train/hypernetwork":  "would start training on the target",
}

// globalOps act on whatever the target is running: under ginkgo -p they
// would interrupt another process's generation, so their sweep is Serial
// (as is every destructive operation's).
var globalOps = map[string]bool{"/interrupt": true, "/skip": true}

func (suite *Suite) coverageSpecs() {
	Describe("Operation coverage", func() {
		spec, err := suite.tree, suite.treeErr
		if err != nil {
			It("loads the spec", func() { Fail(err.Error()) })
			return
		}
		for _, op := range spec.Operations() {
			short := strings.TrimPrefix(op.Path, APIPrefix)
			var decorators []any
			if _, ok := destructiveOps[short]; ok {
				decorators = append(decorators, labelsOf(LDestructive), Serial)
			} else if globalOps[short] {
				decorators = append(decorators, Serial)
			}
			// Requirement: COV-001.
			suite.conformIt("COV-001", fmt.Sprintf("%s %s answers a valid request", op.Method, op.Path), append(decorators, func(ctx SpecContext) {
				if why, ok := destructiveOps[short]; ok && !suite.cfg.Destructive {
					suite.recordNotExercised(op.ID, "not called: "+why+" (run with --destructive)")
					Skip(fmt.Sprintf("%s %s %s; run with --destructive to include it", op.Method, op.Path, why))
				}
				r := Request{Method: op.Method, Path: op.Path}
				if jsonBodySchema(op.Op) != nil {
					b, err := jsonMarshal(suite.validBody(op.Path))
					Expect(err).NotTo(HaveOccurred())
					r.Body = b
				}
				ex := suite.client.Do(ctx, r)
				Expect(ex.Err).NotTo(HaveOccurred())
				skipIfSubstituted(ex)
				if why, ok := suite.profile.routeMissing(op.Method, op.Path); ok && missingStatus(ex.Status) {
					suite.recordNotExercised(op.ID, fmt.Sprintf("missing (documented for profile %s: %s)", suite.profile.Name, why))
					Skip(fmt.Sprintf("%s on profile %s: %s %s answered %d (%s)", RouteMissingConfirmed, suite.profile.Name, op.Method, op.Path, ex.Status, why))
				}
				if ex.Status == http.StatusNotImplemented {
					suite.recordNotExercised(op.ID, "present but answers 501 Not Implemented")
					Skip(fmt.Sprintf("skipped: the target answered 501 Not Implemented for %s %s", op.Method, op.Path))
				}
				if ex.Status < 200 || ex.Status > 299 {
					suite.recordNotExercised(op.ID, fmt.Sprintf("a valid request answered %d", ex.Status))
				}
				Expect(ex.Status).To(And(BeNumerically(">=", 200), BeNumerically("<", 300)), "a valid request MUST get a 2xx\n%s", ex.Describe())
				Expect(ex.Violation).To(BeEmpty(), "the response breaks the contract:\n%s", ex.Describe())
			})...)
		}
	})
}
