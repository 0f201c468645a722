package conformance_test

// The go test entry point: `go test ./conformance/...` runs the same suite
// as sdapi-conform. With -target / SDAPI_TARGET it judges that server;
// otherwise TestMain builds ../cmd/sdapi-server, emits the tiny random-weight
// test model (runner/onnxgen; a test-only import, the harness itself
// imports nothing of the server side), starts the server on a free loopback
// port with --api-auth and a fresh --data-dir, and runs the suite against it
// under the reference profile. Under `go tool ginkgo -p ./conformance`
// process 1 does all that and runs the ordinary tests; the other processes
// take their share of the checks against the same server (the suite hands
// process 1's target on).

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	"github.com/onsi/gomega"

	"github.com/sdapi/sdapi/conformance"
	"github.com/sdapi/sdapi/internal/refserver"
	"github.com/sdapi/sdapi/internal/testenv"
	"github.com/sdapi/sdapi/runner/onnxgen"
)

var (
	flagTarget    = flag.String("target", os.Getenv("SDAPI_TARGET"), "server under test; empty starts the reference server")
	flagProfile   = flag.String("profile", "", "profile (default: reference when the suite starts the server, else a1111)")
	flagUser      = flag.String("user", os.Getenv("SDAPI_USER"), "basic auth user")
	flagPassword  = flag.String("password", os.Getenv("SDAPI_PASSWORD"), "basic auth password")
	flagReportDir = flag.String("report-dir", os.Getenv("SDAPI_CONFORM_REPORT_DIR"), "write report.md, junit.xml, report.json and evidence/ here")
)

// The suite's own server: credentials it is started with.
const (
	refUser     = "conform"
	refPassword = "s3cret-conform-pass"
)

// serverBin and conformBin are built once by TestMain (faults_test.go
// runs the CLI against fault-injecting proxies); suiteCfg is the
// configuration TestConformance registers the suite with.
var (
	serverBin, conformBin, targetURL string
	suiteCfg                         conformance.Config
	// firstProcess is false on Ginkgo's processes 2..n under `ginkgo -p`:
	// there only TestConformance runs (its share of the checks); the
	// ordinary tests, which run sdapi-conform or conformance.Run
	// themselves, run once, on process 1.
	firstProcess = true
)

func TestMain(m *testing.M) {
	flag.Parse()
	firstProcess = GinkgoParallelProcess() == 1
	os.Exit(testMain(m))
}

// onFirstProcess skips t on Ginkgo's processes 2..n (see firstProcess).
func onFirstProcess(t *testing.T) {
	t.Helper()
	if !firstProcess {
		t.Skip("runs on Ginkgo's process 1 only")
	}
}

func testMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "sdapi-conform-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	if !firstProcess {
		// Ginkgo's processes 2..n judge the server process 1 starts (the
		// suite hands its target on) and run none of the ordinary tests.
		cfg := conformance.DefaultConfig()
		cfg.User, cfg.Password, cfg.Profile = *flagUser, *flagPassword, *flagProfile
		if *flagTarget == "" {
			cfg.User, cfg.Password = refUser, refPassword
			cfg.Profile = cmpOr(cfg.Profile, "reference")
			cfg.Identity = referenceIdentity
		}
		cfg.Profile = cmpOr(cfg.Profile, "a1111")
		suiteCfg = withReports(cfg)
		return m.Run()
	}
	if sc, _ := GinkgoConfiguration(); *flagPrism && sc.ParallelTotal > 1 {
		fmt.Fprintln(os.Stderr, "conformance: -prism runs serially (Prism's Observe hook lives in one process); run it without ginkgo -p")
		return 1
	}
	conformBin = filepath.Join(dir, "sdapi-conform")
	if err := refserver.Build(conformBin, "../cmd/sdapi-conform"); err != nil {
		fmt.Fprintln(os.Stderr, "conformance:", err)
		return 1
	}
	if serverBin, err = refserver.ServerBinary(dir); err != nil {
		fmt.Fprintln(os.Stderr, "conformance:", err)
		return 1
	}

	cfg := conformance.DefaultConfig()
	cfg.Target, cfg.User, cfg.Password, cfg.Profile = *flagTarget, *flagUser, *flagPassword, *flagProfile
	if cfg.Target == "" {
		// The reference server inherits the library's path; without it the
		// server answers 501 to every generation, which CI must not accept.
		if lib, err := testenv.ORTLibrary(); err == nil {
			os.Setenv("ONNXRUNTIME_SHARED_LIBRARY_PATH", lib)
		} else if testenv.CI() {
			fmt.Fprintln(os.Stderr, "conformance:", err, "(CI=true: a missing dependency fails)")
			return 1
		}
		stop, url, err := startReference(dir)
		if err != nil {
			fmt.Fprintln(os.Stderr, "conformance: start the reference server:", err)
			return 1
		}
		defer stop()
		cfg.Target, cfg.User, cfg.Password = url, refUser, refPassword
		cfg.Profile = cmpOr(cfg.Profile, "reference")
		cfg.Identity = referenceIdentity
	}
	cfg.Profile = cmpOr(cfg.Profile, "a1111")
	cfg = withReports(cfg)
	var prism *prismProxy
	if *flagPrism {
		if prism, err = startPrism(&cfg, cfg.Target); err != nil {
			fmt.Fprintln(os.Stderr, "conformance: start prism:", err)
			return 1
		}
	}
	suiteCfg = cfg
	targetURL = cfg.Target
	code := m.Run()
	if prism != nil {
		code = prism.finish(*flagReportDir, code)
	}
	return code
}

// referenceIdentity is how the report names the server TestMain starts.
const referenceIdentity = "reference server built from ./cmd/sdapi-server by conformance_suite_test.go"

// withReports points cfg's report files at -report-dir, when given.
func withReports(cfg conformance.Config) conformance.Config {
	if *flagReportDir != "" {
		cfg.MarkdownReport = filepath.Join(*flagReportDir, "report.md")
		cfg.JUnitReport = filepath.Join(*flagReportDir, "junit.xml")
		cfg.JSONReport = filepath.Join(*flagReportDir, "report.json")
		cfg.EvidenceDir = filepath.Join(*flagReportDir, "evidence")
	}
	return cfg
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// startReference emits the test model and starts sdapi-server on a free
// loopback port (--port 0; the "serving" log line gives the URL).
// SDAPI_CONFORM_SERVER_LOG=1 shows the server's log on stderr.
func startReference(dir string) (stop func(), url string, err error) {
	data := filepath.Join(dir, "data")
	ckpt := os.Getenv("SDAPI_CKPT_DIR")
	if ckpt == "" {
		ckpt = filepath.Join(data, "models", "Stable-diffusion")
		if err := onnxgen.Emit(filepath.Join(ckpt, "sdapi-tiny"), onnxgen.Config{}); err != nil {
			return nil, "", fmt.Errorf("emit the test model: %w", err)
		}
	}
	o := refserver.Options{
		Binary:    serverBin,
		DataDir:   data,
		Args:      []string{"--ckpt-dir", ckpt, "--api-auth", refUser + ":" + refPassword},
		KillAfter: 10 * time.Second,
	}
	if os.Getenv("SDAPI_CONFORM_SERVER_LOG") != "" {
		o.Log, o.LogPrefix = os.Stderr, "sdapi-server: "
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	srv, err := refserver.Start(ctx, o)
	if err != nil {
		return nil, "", err
	}
	return func() { _ = srv.Stop() }, srv.URL, nil
}

func TestConformance(t *testing.T) {
	s := conformance.Register(suiteCfg)
	gomega.RegisterFailHandler(s.Fail)
	RunSpecs(t, "sdapi conformance")
}
