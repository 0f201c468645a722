package server

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/sdapi/sdapi/gen"
	"github.com/sdapi/sdapi/processing"
)

// decodeOK decodes body (JSON, no Content-Type) for mode, failing t on a
// refusal.
func decodeOK(t *testing.T, mode processing.Mode, body string) *genRequest {
	t.Helper()
	r, err := decodeGeneration(mode, "", []byte(body))
	if err != nil {
		t.Fatalf("decode %s: %v", body, err)
	}
	return r
}

func echoJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := marshalPy(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestDecodeCoercesAsPydantic: what pydantic v1's validators make of each
// JSON value, as Params receives it and as vars(request) echoes it.
func TestDecodeCoercesAsPydantic(t *testing.T) {
	for _, tc := range []struct {
		body  string
		field string
		want  func(r *genRequest) any
		value any    // the Params value
		echo  string // the field in vars(request), as JSON
	}{
		{`{"steps":"2"}`, "steps", func(r *genRequest) any { return r.p.Steps }, 2, `2`},
		{`{"steps":2.7}`, "steps", func(r *genRequest) any { return r.p.Steps }, 2, `2`},
		{`{"steps":-2.7}`, "steps", func(r *genRequest) any { return r.p.Steps }, -2, `-2`},
		{`{"steps":" 3\n"}`, "steps", func(r *genRequest) any { return r.p.Steps }, 3, `3`},
		{`{"steps":"+1_0"}`, "steps", func(r *genRequest) any { return r.p.Steps }, 10, `10`},
		{`{"steps":"٣"}`, "steps", func(r *genRequest) any { return r.p.Steps }, 3, `3`},
		{`{"steps":true}`, "steps", func(r *genRequest) any { return r.p.Steps }, 1, `1`},
		{`{"steps":2.0}`, "steps", func(r *genRequest) any { return r.p.Steps }, 2, `2`},
		{`{"seed":"-5"}`, "seed", func(r *genRequest) any { return r.p.Seed }, int64(-5), `-5`},
		{`{"cfg_scale":"7.5"}`, "cfg_scale", func(r *genRequest) any { return r.p.CFGScale }, 7.5, `7.5`},
		{`{"cfg_scale":7}`, "cfg_scale", func(r *genRequest) any { return r.p.CFGScale }, 7.0, `7.0`},
		{`{"cfg_scale":"1_0.5"}`, "cfg_scale", func(r *genRequest) any { return r.p.CFGScale }, 10.5, `10.5`},
		{`{"cfg_scale":".5e1"}`, "cfg_scale", func(r *genRequest) any { return r.p.CFGScale }, 5.0, `5.0`},
		{`{"cfg_scale":false}`, "cfg_scale", func(r *genRequest) any { return r.p.CFGScale }, 0.0, `0.0`},
		{`{"cfg_scale":1e16}`, "cfg_scale", func(r *genRequest) any { return r.p.CFGScale }, 1e16, `1e+16`},
		{`{"subseed_strength":0}`, "subseed_strength", func(r *genRequest) any { return r.p.SubseedStrength }, 0.0, `0.0`},
		{`{"prompt":123}`, "prompt", func(r *genRequest) any { return r.p.Prompt }, "123", `"123"`},
		{`{"prompt":1.50}`, "prompt", func(r *genRequest) any { return r.p.Prompt }, "1.5", `"1.5"`},
		{`{"prompt":1e20}`, "prompt", func(r *genRequest) any { return r.p.Prompt }, "1e+20", `"1e+20"`},
		{`{"prompt":true}`, "prompt", func(r *genRequest) any { return r.p.Prompt }, "True", `"True"`},
		{`{"prompt":1e999}`, "prompt", func(r *genRequest) any { return r.p.Prompt }, "inf", `"inf"`},
		{`{"send_images":"false"}`, "send_images", func(r *genRequest) any { return r.sendImages }, false, `false`},
		{`{"send_images":0}`, "send_images", func(r *genRequest) any { return r.sendImages }, false, `false`},
		{`{"send_images":"OFF"}`, "send_images", func(r *genRequest) any { return r.sendImages }, false, `false`},
		{`{"send_images":"n"}`, "send_images", func(r *genRequest) any { return r.sendImages }, false, `false`},
		{`{"save_images":1}`, "save_images", func(r *genRequest) any { return r.p.SaveImages }, true, `true`},
		{`{"save_images":1.0}`, "save_images", func(r *genRequest) any { return r.p.SaveImages }, true, `true`},
		{`{"save_images":"Yes"}`, "save_images", func(r *genRequest) any { return r.p.SaveImages }, true, `true`},
		{`{"save_images":"on"}`, "save_images", func(r *genRequest) any { return r.p.SaveImages }, true, `true`},
		{`{"save_images":"t"}`, "save_images", func(r *genRequest) any { return r.p.SaveImages }, true, `true`},
		{`{"tiling":"1"}`, "tiling", func(r *genRequest) any { return *r.p.Tiling }, true, `true`},
		{`{"styles":[1,"a",true]}`, "styles", func(r *genRequest) any { return r.p.Styles }, []string{"1", "a", "True"}, `["1","a","True"]`},
		{`{"override_settings":[["CLIP_stop_at_last_layers",2]]}`, "override_settings",
			func(r *genRequest) any { return r.p.OverrideSettings }, map[string]any{"CLIP_stop_at_last_layers": 2.0}, `{"CLIP_stop_at_last_layers":2}`},
		{`{"override_settings":[[1,"x"]]}`, "override_settings",
			func(r *genRequest) any { return r.p.OverrideSettings }, map[string]any{"1": "x"}, `{"1":"x"}`},
		{`{"alwayson_scripts":["ab"]}`, "alwayson_scripts", func(r *genRequest) any { return r.p.AlwaysonScripts }, map[string]any{"a": "b"}, `{"a":"b"}`},
		{`{"alwayson_scripts":""}`, "alwayson_scripts", func(r *genRequest) any { return r.p.AlwaysonScripts }, map[string]any{}, `{}`},
		{`{"script_args":[1,1.0,"x",{"b":1,"a":2}]}`, "script_args",
			func(r *genRequest) any { return r.p.ScriptArgs }, []any{1.0, 1.0, "x", map[string]any{"a": 2.0, "b": 1.0}}, `[1,1.0,"x",{"b":1,"a":2}]`},
		{`{"denoising_strength":null}`, "denoising_strength", func(r *genRequest) any { return r.p.DenoisingStrength == nil }, true, `null`},
		{`{"seed":null}`, "seed", func(r *genRequest) any { return r.p.Seed }, int64(-1), `null`},
	} {
		t.Run(tc.body, func(t *testing.T) {
			r := decodeOK(t, processing.Txt2Img, tc.body)
			if got := tc.want(r); !reflect.DeepEqual(got, tc.value) {
				t.Errorf("Params: got %#v, want %#v", got, tc.value)
			}
			echo, _ := r.params.get(tc.field)
			if got := echoJSON(t, echo); got != tc.echo {
				t.Errorf("parameters[%s]: got %s, want %s", tc.field, got, tc.echo)
			}
			if !r.p.Set[tc.field] {
				t.Errorf("%s not recorded as set", tc.field)
			}
		})
	}
}

// TestDecodeRefusesAsPydantic: pydantic v1's refusals, each with its loc,
// msg and type, all errors of a body in the model's field order.
func TestDecodeRefusesAsPydantic(t *testing.T) {
	item := func(loc []any, msg, typ string) detailItem { return detailItem{Loc: loc, Msg: msg, Type: typ} }
	notInt := func(f string) detailItem {
		return item([]any{"body", f}, "value is not a valid integer", "type_error.integer")
	}
	notNone := func(loc ...any) detailItem {
		return item(append([]any{"body"}, loc...), "none is not an allowed value", "type_error.none.not_allowed")
	}
	notBool := func(f string) detailItem {
		return item([]any{"body", f}, "value could not be parsed to a boolean", "type_error.bool")
	}
	for _, tc := range []struct {
		name, ctype, body string
		img2img           bool
		want              []detailItem
	}{
		{"string float for int", "", `{"steps":"2.7"}`, false, []detailItem{notInt("steps")}},
		{"empty string for int", "", `{"seed":""}`, false, []detailItem{notInt("seed")}},
		{"double underscore", "", `{"steps":"1__0"}`, false, []detailItem{notInt("steps")}},
		{"hex for int", "", `{"steps":"0x10"}`, false, []detailItem{notInt("steps")}},
		{"list for int", "", `{"steps":[1]}`, false, []detailItem{notInt("steps")}},
		{"inf for int", "", `{"steps":1e999}`, false, []detailItem{notInt("steps")}},
		{"word for float", "", `{"cfg_scale":"abc"}`, false, []detailItem{item([]any{"body", "cfg_scale"}, "value is not a valid float", "type_error.float")}},
		{"nan for float", "", `{"cfg_scale":"nan"}`, false, []detailItem{item([]any{"body", "cfg_scale"}, "ensure this value is a finite number", "value_error.number.not_finite_number")}},
		{"2 for bool", "", `{"tiling":2}`, false, []detailItem{notBool("tiling")}},
		{"padded word for bool", "", `{"tiling":" true"}`, false, []detailItem{notBool("tiling")}},
		{"list for bool", "", `{"enable_hr":[]}`, false, []detailItem{notBool("enable_hr")}},
		{"list for str", "", `{"prompt":["a"]}`, false, []detailItem{item([]any{"body", "prompt"}, "str type expected", "type_error.str")}},
		{"string for list", "", `{"script_args":"x"}`, false, []detailItem{item([]any{"body", "script_args"}, "value is not a valid list", "type_error.list")}},
		{"object for string list", "", `{"styles":{}}`, false, []detailItem{item([]any{"body", "styles"}, "value is not a valid list", "type_error.list")}},
		{"null in string list", "", `{"styles":["a",null,{}]}`, false, []detailItem{notNone("styles", 1),
			item([]any{"body", "styles", 2}, "str type expected", "type_error.str")}},
		{"number for dict", "", `{"alwayson_scripts":5}`, false, []detailItem{item([]any{"body", "alwayson_scripts"}, "value is not a valid dict", "type_error.dict")}},
		{"bad pair for dict", "", `{"comments":[["a"]]}`, false, []detailItem{item([]any{"body", "comments"}, "value is not a valid dict", "type_error.dict")}},
		{"null key", "", `{"override_settings":[[null,1]]}`, false, []detailItem{notNone("override_settings", "__key__")}},
		{"too big", "", `{"seed":18446744073709551616}`, false, []detailItem{{Loc: []any{"body", "seed"},
			Msg: "ensure this value is less than or equal to 9223372036854775807", Type: "value_error.number.not_le", Ctx: map[string]any{"limit_value": int64(9223372036854775807)}}}},
		// Model order: prompt, steps, width, sampler_index, send_images.
		{"errors in field order", "", `{"send_images":"maybe","width":"w","sampler_index":null,"steps":"x","prompt":{}}`, false, []detailItem{
			item([]any{"body", "prompt"}, "str type expected", "type_error.str"), notInt("steps"), notInt("width"),
			notNone("sampler_index"), notBool("send_images")}},
		{"txt2img nulls", "", `{"sampler_index":null,"script_args":null,"send_images":null,"save_images":null,"alwayson_scripts":null,"script_name":null,"infotext":null}`, false,
			[]detailItem{notNone("sampler_index"), notNone("script_args"), notNone("send_images"), notNone("save_images"), notNone("alwayson_scripts")}},
		{"img2img nulls", "", `{"denoising_strength":null,"include_init_images":null,"init_images":null,"mask":null,"mask_blur":null}`, true,
			[]detailItem{notNone("denoising_strength"), notNone("include_init_images")}},
		{"no body", "", ``, false, []detailItem{item([]any{"body"}, "field required", "value_error.missing")}},
		{"null body", "", `null`, false, []detailItem{item([]any{"body"}, "field required", "value_error.missing")}},
		{"number body", "", `5`, false, []detailItem{item([]any{"body"}, "value is not a valid dict", "type_error.dict")}},
		{"string body", "", `"steps"`, false, []detailItem{item([]any{"body"}, "value is not a valid dict", "type_error.dict")}},
		{"text/plain body", "text/plain", `{"steps":2}`, false, []detailItem{item([]any{"body"}, "value is not a valid dict", "type_error.dict")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mode := processing.Txt2Img
			if tc.img2img {
				mode = processing.Img2Img
			}
			_, err := decodeGeneration(mode, tc.ctype, []byte(tc.body))
			ve, ok := err.(*validationError)
			if !ok {
				t.Fatalf("got %v, want a validation error", err)
			}
			if !reflect.DeepEqual(ve.Items, tc.want) {
				t.Errorf("detail:\n got %+v\nwant %+v", ve.Items, tc.want)
			}
		})
	}
}

// TestDecodeBodyAsFastAPI: which bodies FastAPI reads as JSON, and what a
// top-level value other than an object becomes.
func TestDecodeBodyAsFastAPI(t *testing.T) {
	for _, tc := range []struct{ ctype, body string }{
		{"", `{"steps":3}`}, // requests.post(url, data=json.dumps(payload))
		{"application/json", `{"steps":3}`},
		{"application/json; charset=utf-8", `{"steps":3}`},
		{"application/vnd.api+json", `{"steps":3}`},
		{"", `[["steps","3"]]`}, // dict(value)
		{"", ` {"steps": 3} `},
	} {
		r, err := decodeGeneration(processing.Txt2Img, tc.ctype, []byte(tc.body))
		if err != nil || r.p.Steps != 3 {
			t.Errorf("%q %s: %v", tc.ctype, tc.body, err)
		}
	}
	// json.loads's messages and positions (characters, not bytes).
	for body, want := range map[string]string{
		`{bad json`:     `{"loc":["body",1],"msg":"Expecting property name enclosed in double quotes: line 1 column 2 (char 1)","type":"value_error.jsondecode"}`,
		"{\n \"é\": x}": `{"loc":["body",8],"msg":"Expecting value: line 2 column 7 (char 8)","type":"value_error.jsondecode"}`,
		`{"a" 1}`:       `{"loc":["body",5],"msg":"Expecting ':' delimiter: line 1 column 6 (char 5)","type":"value_error.jsondecode"}`,
		`[1 2]`:         `{"loc":["body",3],"msg":"Expecting ',' delimiter: line 1 column 4 (char 3)","type":"value_error.jsondecode"}`,
		`{} {}`:         `{"loc":["body",3],"msg":"Extra data: line 1 column 4 (char 3)","type":"value_error.jsondecode"}`,
		`{"a":"\q"}`:    `{"loc":["body",6],"msg":"Invalid \\escape: line 1 column 7 (char 6)","type":"value_error.jsondecode"}`,
		` `:             `{"loc":["body",1],"msg":"Expecting value: line 1 column 2 (char 1)","type":"value_error.jsondecode"}`,
	} {
		_, err := decodeGeneration(processing.Txt2Img, "", []byte(body))
		jde, ok := err.(*jsonDecodeError)
		if !ok {
			t.Errorf("%q: %v", body, err)
			continue
		}
		d := jde.detail()
		if d.Ctx["doc"] != body || d.Ctx["pos"] != d.Loc[1] {
			t.Errorf("%q: ctx %v", body, d.Ctx)
		}
		d.Ctx = nil
		got, _ := json.Marshal(d)
		if string(got) != want {
			t.Errorf("%q:\n got %s\nwant %s", body, got, want)
		}
	}
}

// TestParametersEcho: vars(request) lists every field of the model in its
// field order, with the defaults as Python holds them.
func TestParametersEcho(t *testing.T) {
	for _, mode := range []processing.Mode{processing.Txt2Img, processing.Img2Img} {
		r := decodeOK(t, mode, `{"unknown":1}`)
		var names []string
		for _, f := range requestFields(mode) {
			names = append(names, f.name)
		}
		if !reflect.DeepEqual(r.params.keys, names) {
			t.Errorf("%s keys:\n got %v\nwant %v", mode, r.params.keys, names)
		}
	}
	got := echoJSON(t, decodeOK(t, processing.Txt2Img, `{"steps":"3","cfg_scale":7}`).params)
	for _, want := range []string{
		`{"prompt":"","negative_prompt":"","styles":null,"seed":-1,"subseed":-1,"subseed_strength":0,`,
		`"steps":3,"cfg_scale":7.0,"width":512,`,
		`"denoising_strength":null,`, `"hr_scale":2.0,`,
		`"force_task_id":null,"sampler_index":"Euler","script_name":null,"script_args":[],"send_images":true,"save_images":false,"alwayson_scripts":{},"infotext":null}`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("echo lacks %s:\n%s", want, got)
		}
	}
	if got := echoJSON(t, decodeOK(t, processing.Img2Img, `{}`).params); !strings.Contains(got, `"denoising_strength":0.75,`) ||
		!strings.Contains(got, `"comments":null,"init_images":null,"resize_mode":0,`) || !json.Valid([]byte(got)) {
		t.Errorf("img2img echo: %s", got)
	}
}

func TestPyNumberStrings(t *testing.T) {
	for _, tc := range []struct {
		in    string
		i     int64
		iOK   bool
		f     float64
		fOK   bool
		isInf bool
	}{
		{"12", 12, true, 12, true, false},
		{" -0 ", 0, true, 0, true, false},
		{"1_000", 1000, true, 1000, true, false},
		{"_1", 0, false, 0, false, false},
		{"1_", 0, false, 0, false, false},
		{"1.5", 0, false, 1.5, true, false},
		{"1.", 0, false, 1, true, false},
		{".5", 0, false, 0.5, true, false},
		{"1e3", 0, false, 1000, true, false},
		{"1_0e1_0", 0, false, 1e11, true, false},
		{"-Infinity", 0, false, 0, true, true},
		{"iNf", 0, false, 0, true, true},
		{"--1", 0, false, 0, false, false},
		{"0x1p3", 0, false, 0, false, false},
		{"", 0, false, 0, false, false},
		{"e5", 0, false, 0, false, false},
	} {
		i, ok := pyIntString(tc.in)
		if ok != tc.iOK || ok && i.Int64() != tc.i {
			t.Errorf("int(%q): got %v %v", tc.in, i, ok)
		}
		f, ok := pyFloatString(tc.in)
		if ok != tc.fOK || ok && !tc.isInf && f != tc.f || tc.isInf && !(f > 1e308 || f < -1e308) {
			t.Errorf("float(%q): got %v %v", tc.in, f, ok)
		}
	}
}

// TestRequestFieldsMatchSpec: the spec's request schemas document exactly
// the decoder's fields, with their canonical type, nullable where the
// model's field is Optional, and the model's default.
func TestRequestFieldsMatchSpec(t *testing.T) {
	spec, err := gen.GetSwagger()
	if err != nil {
		t.Fatal(err)
	}
	for schema, mode := range map[string]processing.Mode{
		"StableDiffusionProcessingTxt2Img": processing.Txt2Img,
		"StableDiffusionProcessingImg2Img": processing.Img2Img,
	} {
		props := spec.Components.Schemas[schema].Value.Properties
		fields := requestFields(mode)
		if len(props) != len(fields) {
			t.Errorf("%s: %d properties, %d fields", schema, len(props), len(fields))
		}
		for _, f := range fields {
			ref, ok := props[f.name]
			if !ok {
				t.Errorf("%s: no property %s", schema, f.name)
				continue
			}
			p := ref.Value
			typ := ""
			switch {
			case p.Type != nil && len(*p.Type) == 1:
				typ = (*p.Type)[0]
			case len(p.AnyOf) > 0: // inpainting_mask_invert: int, bool documented
				typ = (*p.AnyOf[0].Value.Type)[0]
			}
			if p.Type.Is("array") && p.Items.Value.Type.Is("string") {
				typ = "array of string"
			}
			want := map[kind][]string{kStr: {"string"}, kInt: {"integer"}, kFloat: {"number"}, kBool: {"boolean"},
				kStrList: {"array of string"}, kList: {"array", "array of string"}, kDict: {"object"}, kStrDict: {"object"}}[f.kind]
			if !slices.Contains(want, typ) {
				t.Errorf("%s.%s: spec type %q, decoder kind %v", schema, f.name, typ, want)
			}
			if p.Nullable != f.optional {
				t.Errorf("%s.%s: nullable %v, model Optional %v", schema, f.name, p.Nullable, f.optional)
			}
			if !sameDefault(p.Default, f.def) {
				t.Errorf("%s.%s: spec default %#v, model default %#v", schema, f.name, p.Default, f.def)
			}
		}
	}
}

// sameDefault compares a spec default (as kin-openapi reads YAML) with a
// model default.
func sameDefault(spec, model any) bool {
	switch m := model.(type) {
	case int64:
		return spec == float64(m) || spec == int(m)
	case float64:
		return spec == m || spec == int(m) && float64(int(m)) == m
	case []any:
		l, ok := spec.([]any)
		return ok && len(l) == 0 && len(m) == 0
	case map[string]any:
		d, ok := spec.(map[string]any)
		return ok && len(d) == 0 && len(m) == 0
	}
	return reflect.DeepEqual(spec, model)
}

// TestTypedCallUsesTheDecoder: a caller holding gen's typed body goes
// through the same decoder as an HTTP request.
func TestTypedCallUsesTheDecoder(t *testing.T) {
	s := New(Config{}, Deps{})
	_, err := s.Text2imgapiSdapiV1Txt2imgPost(t.Context(), gen.Text2imgapiSdapiV1Txt2imgPostRequestObject{})
	if ve, ok := err.(*validationError); !ok || ve.Items[0].Type != "value_error.missing" {
		t.Errorf("no body: %v", err)
	}
	steps := 2
	_, err = s.Img2imgapiSdapiV1Img2imgPost(t.Context(), gen.Img2imgapiSdapiV1Img2imgPostRequestObject{Body: &gen.StableDiffusionProcessingImg2Img{Steps: &steps}})
	if ae, ok := err.(*apiError); !ok || ae.Detail != "Init image not found" {
		t.Errorf("img2img without init_images: %v", err)
	}
}
