package server

import (
	"mime"
	"strings"

	"github.com/sdapi/sdapi/processing"
)

// decodeGeneration is the one decoder of a txt2img or img2img request:
// the body, as FastAPI 0.94 reads it, validated against mode's model as
// pydantic v1 validates it, into Params (from processing's defaults) and
// vars(request). Every refusal is pydantic's, all of them in one 422, in
// the model's field order.
func decodeGeneration(mode processing.Mode, contentType string, body []byte) (*genRequest, error) {
	if len(body) == 0 {
		return nil, errBodyMissing()
	}
	if !isJSON(contentType) {
		// FastAPI hands the bytes to the model, which is not a dict.
		return nil, refusal(errDict)
	}
	v, err := parsePyJSON(body)
	if err != nil {
		return nil, err
	}
	if v == nil {
		return nil, errBodyMissing()
	}
	// Model.validate takes a dict, or makes one with dict(value).
	obj, errs := dictValue(v, false)
	if errs != nil {
		return nil, refusal(errs...)
	}
	return validateFields(mode, obj)
}

// isJSON is FastAPI's test: no Content-Type at all, or application/json
// or application/*+json with any parameters.
func isJSON(contentType string) bool {
	if contentType == "" {
		return true
	}
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false // email.message reads an unparsable type as text/plain
	}
	sub, ok := strings.CutPrefix(mt, "application/")
	return ok && (sub == "json" || strings.HasSuffix(sub, "+json"))
}

// validateFields validates obj's fields against mode's model; unknown
// keys are ignored, as pydantic does.
func validateFields(mode processing.Mode, obj *pyDict) (*genRequest, error) {
	r := &genRequest{p: processing.DefaultTxt2Img(), params: newPyDict(), sendImages: true}
	if mode == processing.Img2Img {
		r.p = processing.DefaultImg2Img()
	}
	var items []detailItem
	for _, f := range requestFields(mode) {
		raw, present := obj.get(f.name)
		if !present {
			r.params.set(f.name, copyDefault(f.def))
			continue
		}
		r.p.Set[f.name] = true
		if raw == nil {
			if !f.optional {
				items = append(items, errNone.detail(f.name))
			}
			// None: vars(request) shows it; Params keeps its default,
			// which is what None means to A1111 for these fields.
			r.params.set(f.name, nil)
			continue
		}
		v, echo, errs := validate(f.kind, raw)
		for _, e := range errs {
			items = append(items, e.detail(f.name))
		}
		if errs != nil {
			continue
		}
		r.params.set(f.name, echo)
		if f.set != nil {
			f.set(r, v)
		}
	}
	if items != nil {
		return nil, &validationError{Items: items}
	}
	// The API overwrites both with not save_images.
	r.p.DoNotSaveSamples, r.p.DoNotSaveGrid = !r.p.SaveImages, !r.p.SaveImages
	return r, nil
}

// validate runs kind's validator on a non-null value. It returns the value
// for Params (string, int64, float64, bool, []string, []any or *pyDict)
// and the one for vars(request).
func validate(k kind, raw any) (v, echo any, errs []*fieldError) {
	var err *fieldError
	switch k {
	case kStr:
		v, err = strValue(raw)
	case kInt:
		v, err = intValue(raw)
	case kFloat:
		v, err = floatValue(raw)
	case kBool:
		v, err = boolValue(raw)
	case kList:
		v, err = listValue(raw)
	case kStrList:
		l, es := strListValue(raw)
		return l, toAny(l), es
	case kDict, kStrDict:
		d, es := dictValue(raw, k == kStrDict)
		return d, d, es
	}
	if err != nil {
		return nil, nil, []*fieldError{err}
	}
	return v, v, nil
}

func toAny(l []string) []any {
	out := make([]any, len(l))
	for i, s := range l {
		out[i] = s
	}
	return out
}

// copyDefault gives each request its own copy of a mutable default.
func copyDefault(def any) any {
	switch def.(type) {
	case []any:
		return []any{}
	case map[string]any:
		return newPyDict()
	}
	return def
}

// detail is e at ["body", field, ...].
func (e *fieldError) detail(field string) detailItem {
	return detailItem{Loc: append([]any{"body", field}, e.sub...), Msg: e.msg, Type: e.typ, Ctx: e.ctxt}
}

// refusal is a 422 about the body as a whole.
func refusal(errs ...*fieldError) error {
	items := make([]detailItem, len(errs))
	for i, e := range errs {
		items[i] = detailItem{Loc: append([]any{"body"}, e.sub...), Msg: e.msg, Type: e.typ, Ctx: e.ctxt}
	}
	return &validationError{Items: items}
}

// errBodyMissing is FastAPI's answer to a POST without a body (or null).
func errBodyMissing() error { return refusal(errMissing) }
