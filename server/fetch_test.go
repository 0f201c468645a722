package server_test

import (
	"context"
	"fmt"
	"image/color"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sdapi/sdapi/runner/runnertest"
	"github.com/sdapi/sdapi/server"
)

// imageHost is an httptest server that serves a 32×48 PNG at /a.png and
// counts the requests that reach it.
type imageHost struct {
	*httptest.Server
	hits atomic.Int64
	port string
}

func newImageHost(t *testing.T, extra func(mux *http.ServeMux)) *imageHost {
	t.Helper()
	h := &imageHost{}
	png := encodePNG(t, runnertest.SeedImage(3, 32, 48))
	mux := http.NewServeMux()
	mux.HandleFunc("/a.png", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/png")
		_, _ = w.Write(png)
	})
	if extra != nil {
		extra(mux)
	}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.hits.Add(1)
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(h.Close)
	u, _ := url.Parse(h.URL)
	h.port = u.Port()
	return h
}

// fakeResolver answers from a fixed table; unknown hosts do not resolve.
type fakeResolver map[string][]string

func (r fakeResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	addrs, ok := r[host]
	if !ok {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	out := make([]netip.Addr, 0, len(addrs))
	for _, a := range addrs {
		out = append(out, netip.MustParseAddr(a))
	}
	return out, nil
}

func img2imgWith(t *testing.T, key string, value any) []byte {
	t.Helper()
	b := simpleImg2Img(t)
	b[key] = value
	return mustJSON(t, b)
}

// urlCases are the requests that carry an input image as a URL: every
// field A1111 passes to decode_base64_to_image.
func urlCases(t *testing.T, u string) []struct {
	name, path string
	body       []byte
} {
	mask := pngDataURI(t, 64, 64, color.White)
	return []struct {
		name, path string
		body       []byte
	}{
		{"img2img init_images", "/sdapi/v1/img2img", img2imgWith(t, "init_images", []string{u})},
		{"img2img mask", "/sdapi/v1/img2img", img2imgWith(t, "mask", u)},
		{"extra-single-image", "/sdapi/v1/extra-single-image", mustJSON(t, map[string]any{"image": u, "upscaling_resize": 1})},
		{"extra-batch-images", "/sdapi/v1/extra-batch-images", mustJSON(t, map[string]any{"imageList": []any{map[string]any{"data": u, "name": "a"}}, "upscaling_resize": 1})},
		{"png-info", "/sdapi/v1/png-info", mustJSON(t, map[string]any{"image": u})},
		{"mask as data, init as URL", "/sdapi/v1/img2img", func() []byte {
			b := simpleImg2Img(t)
			b["mask"], b["init_images"] = mask, []string{u}
			return mustJSON(t, b)
		}()},
	}
}

// TestInputURLRefusedWithoutFlag: without --api-enable-requests no input
// image URL is fetched, and the answer is A1111's.
func TestInputURLRefusedWithoutFlag(t *testing.T) {
	t.Parallel()
	host := newImageHost(t, nil)
	env := newGenServer(t)
	for _, tc := range urlCases(t, host.URL+"/a.png") {
		t.Run(tc.name, func(t *testing.T) {
			res := env.do(t, http.MethodPost, tc.path, tc.body)
			assertStatus(t, res, http.StatusInternalServerError)
			assertJSON(t, res.Body, httpExc(500, "Requests not allowed"))
		})
	}
	if n := host.hits.Load(); n != 0 {
		t.Errorf("the image host was reached %d times", n)
	}
	if n := len(env.Runner.Calls()); n != 0 {
		t.Errorf("runner called %d times", n)
	}
}

// TestInputURLLocalRefused: with --api-enable-requests and the default
// address policy, a URL that is or resolves to a loopback, link-local or
// private address is refused before any connection is made.
func TestInputURLLocalRefused(t *testing.T) {
	t.Parallel()
	host := newImageHost(t, nil)
	env := newGenServer(t, withConfig(func(c *server.Config) {
		c.EnableRequests = true
		c.Fetcher = &server.URLFetcher{Resolver: fakeResolver{
			"loopback.test": {"127.0.0.1"},
			// One public address does not make the other one safe.
			"mixed.test":    {"8.8.8.8", "127.0.0.1"},
			"metadata.test": {"169.254.169.254"},
			"private.test":  {"192.168.1.10"},
			"mapped.test":   {"::ffff:127.0.0.1"},
		}}
	}))
	for _, u := range []string{
		host.URL + "/a.png", // 127.0.0.1 literal
		"http://[::1]:" + host.port + "/a.png",
		"http://loopback.test:" + host.port + "/a.png",
		"http://mixed.test:" + host.port + "/a.png",
		"http://metadata.test/latest/meta-data/",
		"http://169.254.169.254/latest/meta-data/",
		"http://private.test/a.png",
		"http://10.1.2.3/a.png",
		"http://[fe80::1]/a.png",
		"http://0.0.0.0:" + host.port + "/a.png",
		"http://[::ffff:127.0.0.1]:" + host.port + "/a.png",
		"http://mapped.test:" + host.port + "/a.png",
	} {
		for _, tc := range urlCases(t, u)[:1] {
			t.Run(u, func(t *testing.T) {
				res := env.do(t, http.MethodPost, tc.path, tc.body)
				assertStatus(t, res, http.StatusInternalServerError)
				assertJSON(t, res.Body, httpExc(500, "Request to local resource not allowed"))
			})
		}
	}
	t.Run("png-info", func(t *testing.T) {
		res := env.do(t, http.MethodPost, "/sdapi/v1/png-info", mustJSON(t, map[string]any{"image": host.URL + "/a.png"}))
		assertStatus(t, res, http.StatusInternalServerError)
		assertJSON(t, res.Body, httpExc(500, "Request to local resource not allowed"))
	})
	if n := host.hits.Load(); n != 0 {
		t.Errorf("the loopback image host was reached %d times", n)
	}
	if n := len(env.Runner.Calls()); n != 0 {
		t.Errorf("runner called %d times", n)
	}
}

// TestInputURLAllowed is the allowed path through the resolver and address
// seams: "images.test" resolves to the loopback test host, and the policy
// admits 127.0.0.1 only. Redirects are checked at every hop, and the size
// and time limits hold.
func TestInputURLAllowed(t *testing.T) {
	t.Parallel()
	slowDone := make(chan struct{})
	t.Cleanup(func() { close(slowDone) })
	var host *imageHost
	host = newImageHost(t, func(mux *http.ServeMux) {
		mux.HandleFunc("/big.png", func(w http.ResponseWriter, r *http.Request) {
			_, _ = w.Write(make([]byte, 64<<10))
		})
		mux.HandleFunc("/slow.png", func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-r.Context().Done():
			case <-slowDone:
			}
		})
		mux.HandleFunc("/not-an-image", func(w http.ResponseWriter, r *http.Request) {
			_, _ = w.Write([]byte("<html>hello</html>"))
		})
		mux.HandleFunc("/missing.png", http.NotFound)
		mux.HandleFunc("/ua.png", func(w http.ResponseWriter, r *http.Request) {
			if r.UserAgent() != "sdapi-test" {
				http.NotFound(w, r)
				return
			}
			http.Redirect(w, r, "/a.png", http.StatusFound)
		})
		mux.HandleFunc("/to-other-loopback", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "http://127.0.0.2:"+host.port+"/a.png", http.StatusFound)
		})
		mux.HandleFunc("/to-self", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "http://images.test:"+host.port+"/a.png", http.StatusFound)
		})
	})
	only := netip.MustParseAddr("127.0.0.1")
	env := newGenServer(t, withConfig(func(c *server.Config) {
		c.EnableRequests = true
		c.Fetcher = &server.URLFetcher{
			Resolver:  fakeResolver{"images.test": {"127.0.0.1"}},
			AllowAddr: func(a netip.Addr) bool { return a == only },
			MaxBytes:  32 << 10,
			Timeout:   300 * time.Millisecond,
		}
	}), withSettings(`{"api_useragent": "sdapi-test"}`))
	base := "http://images.test:" + host.port

	t.Run("img2img", func(t *testing.T) {
		res := env.do(t, http.MethodPost, "/sdapi/v1/img2img", img2imgWith(t, "init_images", []string{base + "/a.png"}))
		assertStatus(t, res, http.StatusOK)
		calls := env.Runner.Calls()
		if len(calls) == 0 || calls[len(calls)-1].Init == nil {
			t.Fatalf("runner got no init image")
		}
	})
	t.Run("png-info", func(t *testing.T) {
		res := env.do(t, http.MethodPost, "/sdapi/v1/png-info", mustJSON(t, map[string]any{"image": base + "/a.png"}))
		assertStatus(t, res, http.StatusOK)
	})
	t.Run("api_useragent is the User-Agent", func(t *testing.T) {
		res := env.do(t, http.MethodPost, "/sdapi/v1/png-info", mustJSON(t, map[string]any{"image": base + "/ua.png"}))
		assertStatus(t, res, http.StatusOK)
	})
	t.Run("redirect to the same host", func(t *testing.T) {
		res := env.do(t, http.MethodPost, "/sdapi/v1/extra-single-image", mustJSON(t, map[string]any{"image": base + "/to-self", "upscaling_resize": 1}))
		assertStatus(t, res, http.StatusOK)
	})
	for _, tc := range []struct{ name, path, want string }{
		{"redirect to a refused address", "/to-other-loopback", "Request to local resource not allowed"},
		{"over the size limit", "/big.png", "Invalid image url"},
		{"past the time limit", "/slow.png", "Invalid image url"},
		{"not an image", "/not-an-image", "Invalid image url"},
		{"404", "/missing.png", "Invalid image url"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			res := env.do(t, http.MethodPost, "/sdapi/v1/img2img", img2imgWith(t, "init_images", []string{base + tc.path}))
			assertStatus(t, res, http.StatusInternalServerError)
			assertJSON(t, res.Body, httpExc(500, tc.want))
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("took %v", d)
			}
		})
	}
	t.Run("unresolvable", func(t *testing.T) {
		res := env.do(t, http.MethodPost, "/sdapi/v1/img2img", img2imgWith(t, "init_images", []string{"http://nowhere.test/a.png"}))
		assertStatus(t, res, http.StatusInternalServerError)
		assertJSON(t, res.Body, httpExc(500, "Invalid image url"))
	})
	if strings.Contains(fmt.Sprint(env.Runner.Calls()), "images.test") {
		t.Errorf("the URL reached the runner")
	}
}
