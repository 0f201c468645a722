package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/labstack/echo/v4"

	"github.com/sdapi/sdapi/internal/apierr"
	"github.com/sdapi/sdapi/processing"
	"github.com/sdapi/sdapi/processing/options"
)

// apiError is an error answered in A1111's api_middleware shape:
// {"error": <exception class>, "detail", "body", "errors": str(e)}.
type apiError struct {
	Status int
	Class  string
	Detail string
	Errors string
}

func (e *apiError) Error() string { return fmt.Sprintf("%d %s: %s", e.Status, e.Class, e.Errors) }

// httpException is FastAPI's HTTPException as A1111's handler renders it.
// errors is str(e), which is "" with the Starlette A1111 1.10 pins (0.26.1,
// through FastAPI 0.94): its HTTPException has no __str__ (added in 0.29)
// and never passes its keyword arguments to Exception, so args is empty.
func httpException(status int, detail string) *apiError {
	return &apiError{Status: status, Class: "HTTPException", Detail: detail, Errors: ""}
}

// notImplemented is the honest answer of a route this server cannot serve yet.
func notImplemented(what string) *apiError {
	msg := what + " is not implemented by this server yet"
	return &apiError{Status: http.StatusNotImplemented, Class: "NotImplementedError", Errors: msg, Detail: msg}
}

// validationError is a request refused as pydantic refuses it (the
// txt2img and img2img decoder); it is answered as FastAPI's 422 with its
// detail items, in order.
type validationError struct {
	Items []detailItem
}

func (e *validationError) Error() string {
	msgs := make([]string, len(e.Items))
	for i, it := range e.Items {
		msgs[i] = fmt.Sprintf("%v: %s", it.Loc, it.Msg)
	}
	return strings.Join(msgs, "; ")
}

// detailItem is one entry of FastAPI's 422 `detail` list.
type detailItem struct {
	Loc  []any  `json:"loc"`
	Msg  string `json:"msg"`
	Type string `json:"type"`
	// Ctx is pydantic's context of a constraint error ({"limit_value": 150}).
	Ctx map[string]any `json:"ctx,omitempty"`
}

// errorHandler is the one place that turns errors into HTTP answers.
// Internals are logged, never sent: clients see A1111's shapes only.
func errorHandler(log *slog.Logger, red redactor) echo.HTTPErrorHandler {
	return func(err error, c echo.Context) {
		if c.Response().Committed {
			return
		}
		status, body := errorResponse(err, red)
		if status >= 500 && status != http.StatusNotImplemented {
			log.Error("request failed", "method", c.Request().Method, "path", c.Request().URL.Path, "status", status, "err", err)
		}
		if c.Request().Method == http.MethodHead {
			_ = c.NoContent(status)
			return
		}
		// Starlette's JSONResponse: compact, no trailing newline, keys in
		// the order handle_exception builds them.
		b, err := marshalPy(body)
		if raw, ok := body.(json.RawMessage); ok {
			b, err = raw, nil
		}
		if err != nil {
			log.Error("encode error body", "err", err)
			b = []byte(`{"detail":"Internal Server Error"}`)
		}
		_ = c.JSONBlob(status, b)
	}
}

// errorResponse maps an error to a status and a body. It is the one
// error→HTTP table of the server: first the server's own errors, then the
// apierr.Kind the layers below gave theirs (kindResponse), then the rest:
//
//	*http.MaxBytesError            413 HTTPException, the body limit (Limits.MaxBodyBytes)
//	*apiError                      its status, A1111 body as given
//	*remoteError                   the status and body a fleet's worker rendered, as they are
//	an apierr.Kind                 kindResponse
//	context.Canceled, DeadlineExceeded (client gone)  499-like: 503 HTTPException "Request cancelled" (nobody reads it)
//	*validationError               422 FastAPI detail list, as given
//	*jsonDecodeError               422 detail list, loc [body, pos], type value_error.jsondecode
//	*echo.HTTPError                routing 404/405 {"detail"}, 400/422 validation list, 401
//	anything else                  500 Exception "internal server error" (logged, never sent)
func errorResponse(err error, red redactor) (int, any) {
	var (
		ae  *apiError
		ve  *validationError
		he  *echo.HTTPError
		jde *jsonDecodeError
		re  *remoteError
	)
	if limit, ok := isBodyTooLarge(err); ok {
		return http.StatusRequestEntityTooLarge, a1111Body(bodyTooLarge(limit))
	}
	if errors.As(err, &re) {
		return re.Status, re.Body
	}
	if errors.As(err, &ae) {
		return ae.Status, a1111Body(ae)
	}
	if status, body, ok := kindResponse(err, red); ok {
		return status, body
	}
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return http.StatusServiceUnavailable, a1111Body(httpException(http.StatusServiceUnavailable, "Request cancelled"))
	case errors.As(err, &ve):
		return http.StatusUnprocessableEntity, map[string]any{"detail": ve.Items}
	case errors.As(err, &jde):
		return http.StatusUnprocessableEntity, map[string]any{"detail": []detailItem{jde.detail()}}
	case errors.As(err, &he):
		return httpErrorResponse(he)
	}
	// A1111 names the exception's class; an error this server did not
	// classify is reported as Python's plain Exception, its text kept out.
	return http.StatusInternalServerError, a1111Body(&apiError{Status: 500, Class: "Exception", Errors: "internal server error"})
}

// kindResponse answers an error by its apierr.Kind alone; ok is false for
// KindUnknown. The message is the error's whole text (wrapping prefixes
// such as "load model: " kept) with the server's paths cut to their last
// element (redactor.paths): clients learn nothing of its directories.
//
//	KindInvalid             422 detail list: loc [body, Field] or [body], type value_error;
//	                        *processing.LimitError: loc [body, <field>], ctx {limit_value};
//	                        *options.ValueError: loc [body, key], type type_error.<want>
//	KindScript              422 HTTPException, ScriptError.Detail ("Script '<name>' not found")
//	KindQueueFull           503 HTTPException "Queue is full"
//	KindShuttingDown        503 HTTPException "Server is shutting down"
//	KindUnsupported         501 NotImplementedError, detail = what is not supported
//	KindInvalidImageFormat  500 HTTPException "Invalid image format"
//	KindNotFound            500 RuntimeError, detail = A1111's message ("could not find upscaler named X")
//	KindModel               500 RuntimeError, detail = "cannot load the model: " + the model problem
//	KindInvalidImage        500 HTTPException "Invalid encoded image"
//	KindUnknownOption       500 KeyError, errors = repr(key)
func kindResponse(err error, red redactor) (status int, body any, ok bool) {
	switch apierr.KindOf(err) {
	case apierr.KindInvalid:
		return http.StatusUnprocessableEntity, map[string]any{"detail": []detailItem{invalidDetail(err, red)}}, true
	case apierr.KindScript:
		detail := red.paths(err.Error())
		var se *processing.ScriptError
		if errors.As(err, &se) {
			detail = se.Detail()
		}
		return http.StatusUnprocessableEntity, a1111Body(httpException(http.StatusUnprocessableEntity, detail)), true
	case apierr.KindQueueFull:
		return http.StatusServiceUnavailable, a1111Body(httpException(http.StatusServiceUnavailable, "Queue is full")), true
	case apierr.KindShuttingDown:
		return http.StatusServiceUnavailable, a1111Body(httpException(http.StatusServiceUnavailable, "Server is shutting down")), true
	case apierr.KindUnsupported:
		msg := red.paths(err.Error())
		return http.StatusNotImplemented, a1111Body(&apiError{Status: 501, Class: "NotImplementedError", Detail: msg, Errors: msg}), true
	case apierr.KindInvalidImageFormat:
		return http.StatusInternalServerError, a1111Body(httpException(500, "Invalid image format")), true
	case apierr.KindNotFound:
		msg := red.paths(err.Error())
		return http.StatusInternalServerError, a1111Body(&apiError{Status: 500, Class: "RuntimeError", Detail: msg, Errors: msg}), true
	case apierr.KindModel:
		msg := "cannot load the model: " + red.paths(err.Error())
		return http.StatusInternalServerError, a1111Body(&apiError{Status: 500, Class: "RuntimeError", Detail: msg, Errors: msg}), true
	case apierr.KindInvalidImage:
		return http.StatusInternalServerError, a1111Body(httpException(500, "Invalid encoded image")), true
	case apierr.KindUnknownOption:
		msg := red.paths(err.Error())
		var ke *options.KeyError
		if errors.As(err, &ke) {
			msg = ke.Error()
		}
		return http.StatusInternalServerError, a1111Body(&apiError{Status: 500, Class: "KeyError", Errors: msg}), true
	}
	return 0, nil, false
}

// invalidDetail is the 422 item of a KindInvalid error: a limit or an
// option value carry their own loc and type; any other error is a
// value_error at its field.
func invalidDetail(err error, red redactor) detailItem {
	var (
		le   *processing.LimitError
		vale *options.ValueError
		ae   *apierr.Error
	)
	switch {
	case errors.As(err, &le):
		return limitDetail(le)
	case errors.As(err, &vale):
		return detailItem{Loc: []any{"body", vale.Key}, Msg: vale.Error(), Type: "type_error." + vale.Want}
	}
	loc := []any{"body"}
	if errors.As(err, &ae) && ae.Field != "" {
		loc = append(loc, ae.Field)
	}
	return detailItem{Loc: loc, Msg: red.paths(err.Error()), Type: "value_error"}
}

// a1111Body is handle_exception's dict, in its key order.
func a1111Body(e *apiError) pyObject {
	return pyObject{{Key: "error", Value: e.Class}, {Key: "detail", Value: e.Detail}, {Key: "body", Value: ""}, {Key: "errors", Value: e.Errors}}
}

// httpErrorResponse handles Echo's own errors: routing (404, 405), the
// request validator and body binding (answered as FastAPI's 422), limits.
func httpErrorResponse(he *echo.HTTPError) (int, any) {
	switch he.Code {
	case http.StatusBadRequest, http.StatusUnprocessableEntity:
		var cause error = he
		if he.Internal != nil {
			cause = he.Internal
		}
		return http.StatusUnprocessableEntity, map[string]any{"detail": validationDetail(cause)}
	case http.StatusUnauthorized:
		return he.Code, a1111Body(httpException(he.Code, "Not authenticated"))
	}
	text := http.StatusText(he.Code)
	if text == "" {
		text = "Error"
	}
	return he.Code, map[string]string{"detail": text}
}

// validationDetail flattens kin-openapi's errors into FastAPI's detail list,
// with loc pointing at the offending field (["body","steps"]).
func validationDetail(err error) []detailItem {
	var out []detailItem
	var walk func(err error, loc []any)
	walk = func(err error, loc []any) {
		var (
			me  openapi3.MultiError
			re  *openapi3filter.RequestError
			se  *openapi3.SchemaError
			pe  *openapi3filter.ParseError
			hee *echo.HTTPError
		)
		switch {
		case errors.As(err, &me):
			for _, e := range me {
				walk(e, loc)
			}
		case errors.As(err, &re):
			switch {
			case re.Parameter != nil:
				loc = []any{re.Parameter.In, re.Parameter.Name}
			case re.RequestBody != nil:
				loc = []any{"body"}
			}
			if re.Err == nil {
				out = append(out, detailItem{Loc: loc, Msg: re.Reason, Type: "value_error"})
				return
			}
			if errors.Is(re.Err, openapi3filter.ErrInvalidRequired) {
				out = append(out, detailItem{Loc: loc, Msg: "field required", Type: "value_error.missing"})
				return
			}
			if re.Parameter != nil && errors.As(re.Err, &pe) {
				// A query value that does not parse as its type: pydantic
				// reports the parameter itself, not a JSON position.
				out = append(out, paramParseDetail(loc, re.Parameter))
				return
			}
			walk(re.Err, loc)
		case errors.As(err, &se):
			l := append([]any{}, loc...)
			for _, p := range se.JSONPointer() {
				if n, err := strconv.Atoi(p); err == nil {
					l = append(l, n)
				} else {
					l = append(l, p)
				}
			}
			typ := "value_error." + se.SchemaField
			if se.SchemaField == "type" && se.Schema != nil && se.Schema.Type != nil && len(*se.Schema.Type) > 0 {
				typ = "type_error." + (*se.Schema.Type)[0]
			}
			out = append(out, detailItem{Loc: l, Msg: se.Reason, Type: typ})
		case errors.As(err, &pe):
			out = append(out, detailItem{Loc: append(loc, 0), Msg: pe.Error(), Type: "value_error.jsondecode"})
		case errors.As(err, &hee):
			out = append(out, detailItem{Loc: loc, Msg: fmt.Sprint(hee.Message), Type: "value_error"})
		default:
			msg := err.Error()
			typ := "value_error"
			if strings.Contains(msg, "Content-Type") {
				typ = "type_error.dict"
			}
			out = append(out, detailItem{Loc: loc, Msg: msg, Type: typ})
		}
	}
	walk(err, []any{"body"})
	if len(out) == 0 {
		out = []detailItem{{Loc: []any{"body"}, Msg: "invalid request", Type: "value_error"}}
	}
	return out
}

// paramParseDetail is pydantic v1's error for a parameter value that is not
// of its schema type, e.g. ?skip_current_image=notabool.
func paramParseDetail(loc []any, p *openapi3.Parameter) detailItem {
	var typ *openapi3.Types
	if p.Schema != nil && p.Schema.Value != nil {
		typ = p.Schema.Value.Type
	}
	switch {
	case typ.Is(openapi3.TypeBoolean):
		return detailItem{Loc: loc, Msg: "value could not be parsed to a boolean", Type: "type_error.bool"}
	case typ.Is(openapi3.TypeInteger):
		return detailItem{Loc: loc, Msg: "value is not a valid integer", Type: "type_error.integer"}
	case typ.Is(openapi3.TypeNumber):
		return detailItem{Loc: loc, Msg: "value is not a valid float", Type: "type_error.float"}
	}
	return detailItem{Loc: loc, Msg: "invalid value", Type: "value_error"}
}
