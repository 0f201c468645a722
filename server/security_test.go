package server_test

// Security promises of SECURITY.md that the server package proves.

import (
	"net/http"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/sdapi/sdapi/server"
)

// TestAuthWrongCredentialsEveryOperation: with --api-auth every operation
// of the spec, except A1111's unauthenticated /internal/*, answers 401 to
// wrong credentials, and none reaches its handler.
func TestAuthWrongCredentialsEveryOperation(t *testing.T) {
	t.Parallel()
	env := newGenServer(t, withConfig(func(c *server.Config) {
		c.APIAuth = authPairs
		c.ServerStop = true
	}))
	for _, op := range env.V.Operations() {
		if strings.HasPrefix(op.Path, "/internal/") {
			continue // open in A1111 too; TestAuthCoversEveryOperation checks it
		}
		for _, cr := range []server.Credential{
			{User: "alice", Password: "wonderlan"},
			{User: "alice", Password: "wonderland "},
			{User: "Alice", Password: "wonderland"},
			{User: "bob", Password: "wonderland"},
			{User: "alice:wonderland", Password: ""},
		} {
			t.Run(op.Method+" "+op.Path+" "+cr.User+":"+cr.Password, func(t *testing.T) {
				var body []byte
				if op.HasBody {
					body = mustJSON(t, simpleTxt2Img())
				}
				req := env.newRequest(t, op.Method, op.Path, body)
				req.SetBasicAuth(cr.User, cr.Password)
				res := env.doReq(t, req)
				assertStatus(t, res, http.StatusUnauthorized)
				assertJSON(t, res.Body, incorrectPassword)
			})
		}
	}
	if n := len(env.Runner.Calls()); n != 0 {
		t.Errorf("runner called %d times without valid credentials", n)
	}
	env.Life.assertNoCall(t)
}

// TestCORS: no CORS headers unless --cors-allow-origins, and then only for
// the origins it names.
func TestCORS(t *testing.T) {
	t.Parallel()
	const allowed, other = "https://ui.example", "https://evil.example"
	send := func(t *testing.T, ts *testServer, method, origin string) corsAnswer {
		t.Helper()
		req := ts.newRequest(t, method, "/sdapi/v1/options", nil)
		req.Header.Set("Origin", origin)
		if method == http.MethodOptions {
			req.Header.Set("Access-Control-Request-Method", http.MethodPost)
		}
		r := ts.doRaw(t, req)
		out := corsAnswer{status: r.Status, acao: r.Header.Get("Access-Control-Allow-Origin")}
		for k := range r.Header {
			if strings.HasPrefix(k, "Access-Control-") {
				out.headers = append(out.headers, k)
			}
		}
		return out
	}
	t.Run("off by default", func(t *testing.T) {
		t.Parallel()
		ts := newTestServer(t)
		for _, m := range []string{http.MethodGet, http.MethodOptions} {
			if r := send(t, ts, m, allowed); r.acao != "" {
				t.Errorf("%s: Access-Control-Allow-Origin %q without --cors-allow-origins", m, r.acao)
			}
		}
		for _, m := range []string{http.MethodGet, http.MethodOptions} {
			if r := send(t, ts, m, allowed); len(r.headers) > 0 {
				t.Errorf("%s: CORS headers %v without --cors-allow-origins", m, r.headers)
			}
		}
		// A preflight is a method the route does not have: Starlette's 405.
		if r := send(t, ts, http.MethodOptions, allowed); r.status != http.StatusMethodNotAllowed {
			t.Errorf("preflight without --cors-allow-origins: %d, want 405", r.status)
		}
		if r := ts.doRaw(t, ts.newRequest(t, http.MethodOptions, "/sdapi/v1/no-such-route", nil)); r.Status != http.StatusNotFound {
			t.Errorf("OPTIONS on an unknown path: %d, want 404", r.Status)
		}
	})
	t.Run("listed origins only", func(t *testing.T) {
		t.Parallel()
		ts := newTestServer(t, func(c *server.Config) { c.CORSOrigins = []string{allowed} })
		if r := send(t, ts, http.MethodGet, allowed); r.acao != allowed {
			t.Errorf("GET from %s: Access-Control-Allow-Origin %q", allowed, r.acao)
		}
		if r := send(t, ts, http.MethodOptions, allowed); r.acao != allowed || r.status >= 300 {
			t.Errorf("preflight from %s: %d, Access-Control-Allow-Origin %q", allowed, r.status, r.acao)
		}
		for _, m := range []string{http.MethodGet, http.MethodOptions} {
			if r := send(t, ts, m, other); r.acao != "" {
				t.Errorf("%s from %s: Access-Control-Allow-Origin %q", m, other, r.acao)
			}
		}
	})
}

// corsAnswer is what TestCORS reads from a response.
type corsAnswer struct {
	status  int
	acao    string
	headers []string // every Access-Control-* header
}

// TestPathOptionsStayInside: options that are paths (x-sdapi-path) refuse
// absolute paths and "..", through /options and through override_settings,
// and restricted options (x-sdapi-restrict-api) cannot be set by the API.
func TestPathOptionsStayInside(t *testing.T) {
	t.Parallel()
	env := newGenServer(t)
	for _, key := range []string{"outdir_samples", "outdir_txt2img_samples", "outdir_grids", "outdir_save", "outdir_init_images", "temp_dir", "outdir_extras_samples"} {
		for _, v := range []string{"/etc", "../outside", "outputs/../../outside", `..\outside`, "/"} {
			t.Run(key+"="+v, func(t *testing.T) {
				before := env.getOptions(t)
				res := env.do(t, http.MethodPost, "/sdapi/v1/options", mustJSON(t, map[string]any{key: v}))
				assertStatus(t, res, http.StatusUnprocessableEntity)
				if loc := validationDetail(t, res.Body)[0].Loc; !reflect.DeepEqual(loc, []any{"body", key}) {
					t.Errorf("loc %v", loc)
				}
				if after := env.getOptions(t); !reflect.DeepEqual(after, before) {
					t.Errorf("a refused path changed the options")
				}
				b := simpleTxt2Img()
				b["override_settings"] = map[string]any{key: v}
				res = env.do(t, http.MethodPost, "/sdapi/v1/txt2img", mustJSON(t, b))
				if res.Status == http.StatusOK {
					t.Errorf("override_settings %s=%q accepted", key, v)
				}
			})
		}
	}
	t.Run("restricted options", func(t *testing.T) {
		env.postOptions(t, `{"api_enable_requests": true, "api_forbid_local_requests": false}`)
		o := env.getOptions(t)
		if o["api_forbid_local_requests"] != true {
			t.Errorf("api_forbid_local_requests set through the API: %v", o["api_forbid_local_requests"])
		}
	})
	if n := len(env.Runner.Calls()); n != 0 {
		t.Errorf("runner ran %d jobs with a refused path", n)
	}
}

// TestModelNamesOnlyListed: checkpoint and VAE names resolve among the
// installed models only; a path is never opened.
func TestModelNamesOnlyListed(t *testing.T) {
	t.Parallel()
	env := newGenServer(t)
	outside := filepath.Join(filepath.Dir(env.Dirs.Checkpoints), "outside")
	env.Dirs.addCheckpoint(t, "../outside") // a real model dir next to, not in, the checkpoint dir
	names := []string{"../outside", outside, "tiny-sd/../../outside", "/etc", "..", "tiny-sd/"}
	for _, name := range names {
		t.Run("options "+name, func(t *testing.T) {
			res := env.do(t, http.MethodPost, "/sdapi/v1/options", mustJSON(t, map[string]any{"sd_model_checkpoint": name}))
			assertStatus(t, res, http.StatusInternalServerError)
			if e := decode[a1111Error](t, res.Body); e.Error != "RuntimeError" || !strings.Contains(e.Errors, "not found") {
				t.Errorf("body %s", res.Body)
			}
		})
		t.Run("override "+name, func(t *testing.T) {
			b := simpleTxt2Img()
			b["override_settings"] = map[string]any{"sd_model_checkpoint": name}
			env.do(t, http.MethodPost, "/sdapi/v1/txt2img", mustJSON(t, b))
		})
		t.Run("sd_vae "+name, func(t *testing.T) {
			b := simpleTxt2Img()
			b["override_settings"] = map[string]any{"sd_vae": name}
			if res := env.do(t, http.MethodPost, "/sdapi/v1/txt2img", mustJSON(t, b)); res.Status == http.StatusOK {
				t.Errorf("sd_vae %q accepted", name)
			}
		})
	}
	for _, o := range env.Runner.Opened() {
		if filepath.Dir(o[0]) != env.Dirs.Checkpoints || (o[1] != "" && filepath.Dir(o[1]) != env.Dirs.VAEs) {
			t.Errorf("opened %v: outside the model directories", o)
		}
	}
	if len(env.Runner.Opened()) == 0 {
		t.Errorf("no model was loaded: the override cases did not run")
	}
}
