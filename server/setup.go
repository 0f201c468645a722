package server

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	oapimw "github.com/oapi-codegen/echo-middleware"

	"github.com/sdapi/sdapi/gen"
	"github.com/sdapi/sdapi/server/docs"
)

// SpecURL is where the server publishes its OpenAPI document, as FastAPI does.
const SpecURL = "/openapi.json"

// NewEcho builds the HTTP application: global middleware, the generated
// routes behind auth and request validation, /openapi.json and /docs.
func NewEcho(s *Server) (*echo.Echo, error) {
	spec, err := gen.GetSwagger() // a private copy: the validator mutates it
	if err != nil {
		return nil, fmt.Errorf("load embedded spec: %w", err)
	}
	// The published document has no servers, as FastAPI's /openapi.json:
	// Swagger UI at /docs then sends "Try it out" requests to the origin it
	// was loaded from, not to the spec's default http://127.0.0.1:7860.
	published := *spec
	published.Servers = nil
	specJSON, err := json.Marshal(&published)
	if err != nil {
		return nil, fmt.Errorf("encode spec: %w", err)
	}

	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = errorHandler(s.log, newRedactor(s.cfg.PrivateDirs))
	e.Use(processTime)
	e.Use(middleware.RecoverWithConfig(middleware.RecoverConfig{
		DisablePrintStack: true,
		LogErrorFunc: func(c echo.Context, err error, stack []byte) error {
			s.log.Error("handler panic", "path", c.Request().URL.Path, "err", err, "stack", string(stack))
			return err
		},
	}))
	if s.cfg.APILog {
		e.Use(apiLog(s.log))
	}
	// A1111's 405 names the methods of the one route Starlette matched
	// partially (the first registered for the path), not every method.
	allow := map[string]string{}
	e.Use(routeAllow(allow))
	if len(s.cfg.CORSOrigins) > 0 {
		e.Use(middleware.CORSWithConfig(middleware.CORSConfig{
			AllowOrigins:     s.cfg.CORSOrigins,
			AllowMethods:     []string{http.MethodGet, http.MethodPost, http.MethodOptions},
			AllowHeaders:     []string{"*"},
			AllowCredentials: true,
		}))
	} else {
		e.Use(noPreflight)
	}
	// Before auth and validation, which run per route: an oversized body
	// is refused before anything reads it (and --api-log logs the 413).
	e.Use(bodyLimit(s.cfg.Limits.MaxBodyBytes))

	validator := oapimw.OapiRequestValidatorWithOptions(spec, &oapimw.Options{
		DoNotValidateServers:  true,
		SilenceServersWarning: true,
		Options: openapi3filter.Options{
			MultiError:         true,
			KeepValidatedValue: true,
			// The handlers take defaults from processing and must see
			// which keys the client sent (apply_infotext, vars(request)).
			SkipSettingDefaults: true,
			// Authentication is the auth middleware's job; the spec's
			// HTTPBasic requirement only documents it.
			AuthenticationFunc: openapi3filter.NoopAuthenticationFunc,
		},
		MultiErrorHandler: func(me openapi3.MultiError) *echo.HTTPError {
			return &echo.HTTPError{Code: http.StatusUnprocessableEntity, Message: "validation failed", Internal: me}
		},
		ErrorHandler: func(c echo.Context, he *echo.HTTPError) error { return he },
	})
	var auth []echo.MiddlewareFunc
	if len(s.cfg.APIAuth) > 0 {
		auth = []echo.MiddlewareFunc{basicAuth(s.cfg.APIAuth)}
	}
	// Auth first: FastAPI resolves the HTTPBasic dependency before it
	// validates the body.
	routeMW := append(slices.Clone(auth), validator)
	// txt2img and img2img validate their body themselves, as pydantic
	// does (decodeGeneration): the spec documents the canonical types, and
	// kin-openapi would refuse what pydantic coerces ("steps": "2").
	rr := routeRouter{Echo: e, mw: routeMW, allow: allow, pathMW: map[string][]echo.MiddlewareFunc{
		// A1111's --api-auth does not cover /internal/*.
		internalProgressPath: {validator},
		txt2imgPath:          auth,
		img2imgPath:          auth,
	}}
	if !s.cfg.ServerStop {
		rr.absent = serverStopPaths
	}
	gen.RegisterHandlers(rr, generationRoutes{ServerInterface: gen.NewStrictHandler(s, []gen.StrictMiddlewareFunc{rawBodyMiddleware}), s: s})

	metricsHandler := echo.WrapHandler(s.metrics.handler())
	e.GET(MetricsPath, metricsHandler)
	e.HEAD(MetricsPath, metricsHandler)

	e.GET(SpecURL, func(c echo.Context) error { return c.JSONBlob(http.StatusOK, specJSON) })
	dh := echo.WrapHandler(docs.Handler(SpecURL))
	for _, p := range []string{docs.Prefix, docs.Prefix + "/*"} {
		e.GET(p, dh)
		e.HEAD(p, dh)
	}
	return e, nil
}

// noPreflight answers OPTIONS on a known path 405, as A1111 (Starlette
// without CORSMiddleware) does, instead of Echo's automatic 204 with Allow.
func noPreflight(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if c.Request().Method == http.MethodOptions && c.Path() != "" {
			return echo.ErrMethodNotAllowed
		}
		return next(c)
	}
}

// serverStopPaths are the routes A1111 registers only with --api-server-stop.
var serverStopPaths = []string{"/sdapi/v1/server-stop", "/sdapi/v1/server-kill", "/sdapi/v1/server-restart"}

// routeRouter registers the generated routes with route-level middleware,
// so auth and validation run only for matched routes: unknown paths still
// answer 404 and wrong methods 405, as Starlette does.
type routeRouter struct {
	*echo.Echo
	mw []echo.MiddlewareFunc
	// absent are paths A1111 would not register: every method answers 404,
	// before auth, as for any unknown path.
	absent []string
	// pathMW replaces mw for the paths it names.
	pathMW map[string][]echo.MiddlewareFunc
	// allow records, per path, the method of the route registered first:
	// FastAPI's APIRoute for it is the one a wrong method meets.
	allow map[string]string
}

func (r routeRouter) record(method, p string) {
	if _, ok := r.allow[p]; !ok && r.allow != nil {
		r.allow[p] = method
	}
}

// routeAllow sets the Allow header of a 405 to what Starlette's Route
// sends: the methods of the first route of the path (FastAPI adds no HEAD
// to an APIRoute), instead of Echo's list of every method.
func routeAllow(allow map[string]string) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			err := next(c)
			var he *echo.HTTPError
			if errors.As(err, &he) && he.Code == http.StatusMethodNotAllowed {
				if m, ok := allow[c.Request().URL.Path]; ok {
					c.Response().Header().Set(echo.HeaderAllow, m)
				}
			}
			return err
		}
	}
}

// internalProgressPath is A1111's UI progress route, outside --api-auth.
const internalProgressPath = "/internal/progress"

// The generation routes, which decode their own body.
const (
	txt2imgPath = "/sdapi/v1/txt2img"
	img2imgPath = "/sdapi/v1/img2img"
)

func (r routeRouter) middleware(p string) []echo.MiddlewareFunc {
	if mw, ok := r.pathMW[p]; ok {
		return mw
	}
	return r.mw
}

func (r routeRouter) GET(p string, h echo.HandlerFunc, m ...echo.MiddlewareFunc) *echo.Route {
	if slices.Contains(r.absent, p) {
		return r.notFound(http.MethodGet, p)
	}
	r.record(http.MethodGet, p)
	return r.Echo.GET(p, h, append(slices.Clone(r.middleware(p)), m...)...)
}

func (r routeRouter) POST(p string, h echo.HandlerFunc, m ...echo.MiddlewareFunc) *echo.Route {
	if slices.Contains(r.absent, p) {
		return r.notFound(http.MethodPost, p)
	}
	r.record(http.MethodPost, p)
	return r.Echo.POST(p, h, append(slices.Clone(r.middleware(p)), m...)...)
}

// notFound registers p for every method with a handler answering 404, and
// returns its route for method.
func (r routeRouter) notFound(method, p string) *echo.Route {
	var out *echo.Route
	for _, rt := range r.Echo.Any(p, func(echo.Context) error { return echo.ErrNotFound }) {
		if rt.Method == method {
			out = rt
		}
	}
	return out
}

var _ gen.EchoRouter = routeRouter{}

// processTime sets A1111's X-Process-Time header (seconds, as a float).
func processTime(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		c.Response().Before(func() {
			c.Response().Header().Set("X-Process-Time", strconv.FormatFloat(time.Since(start).Seconds(), 'f', -1, 64))
		})
		return next(c)
	}
}

// apiLog logs one line per request, as A1111's --api-log does.
func apiLog(log *slog.Logger) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			start := time.Now()
			err := next(c)
			if err != nil {
				c.Error(err)
			}
			log.Info("api", "status", c.Response().Status, "proto", c.Request().Proto, "client", c.RealIP(),
				"method", c.Request().Method, "path", c.Request().URL.Path, "duration", time.Since(start))
			return nil
		}
	}
}

// basicAuth is A1111's --api-auth: HTTPBasic on every /sdapi route, with
// FastAPI's messages. Each configured pair is compared in constant time,
// and all pairs are compared, so timing tells nothing about which was close.
func basicAuth(creds []Credential) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			user, pass, ok := c.Request().BasicAuth()
			if !ok {
				// FastAPI's HTTPBasic: the scheme is what precedes the
				// first space (get_authorization_scheme_param); any Basic
				// header that yields no "user:password", empty included
				// ("Basic" once the server trims the space), is "Invalid
				// authentication credentials".
				h := c.Request().Header.Get(echo.HeaderAuthorization)
				scheme, _, _ := strings.Cut(h, " ")
				if h == "" || !strings.EqualFold(scheme, "basic") {
					return httpException(http.StatusUnauthorized, "Not authenticated")
				}
				return httpException(http.StatusUnauthorized, "Invalid authentication credentials")
			}
			match := 0
			for _, cr := range creds {
				u := subtle.ConstantTimeCompare([]byte(user), []byte(cr.User))
				p := subtle.ConstantTimeCompare([]byte(pass), []byte(cr.Password))
				match |= u & p
			}
			if match != 1 {
				return httpException(http.StatusUnauthorized, "Incorrect username or password")
			}
			return next(c)
		}
	}
}
