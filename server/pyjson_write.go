package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"github.com/sdapi/sdapi/internal/pyfmt"
)

// The responses below are written as A1111 writes them: FastAPI passes the
// handler's value through the pydantic response model and Starlette's
// JSONResponse calls json.dumps(ensure_ascii=False, separators=(",", ":")).
// So keys keep the model's field order (the generated structs follow the
// spec's x-order), every float64 prints as Python's repr(float) ("7.0",
// "1e-05") while Go ints print as ints, and "<", ">" and "&" are not
// escaped.

// pyMember is one key of a pyObject.
type pyMember struct {
	Key   string
	Value any
}

// pyObject is a JSON object whose keys keep their order, as a Python dict
// keeps insertion order.
type pyObject []pyMember

// MarshalJSON lets encoding/json (Echo's c.JSON) write it as an object.
func (o pyObject) MarshalJSON() ([]byte, error) { return marshalPy(o) }

// Get returns the value of key, or nil.
func (o pyObject) Get(key string) any {
	for _, m := range o {
		if m.Key == key {
			return m.Value
		}
	}
	return nil
}

// marshalPy encodes v as Starlette's JSONResponse would encode the
// equivalent Python value.
func marshalPy(v any) ([]byte, error) {
	var b bytes.Buffer
	if err := writePy(&b, reflect.ValueOf(v)); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

var (
	marshalerType = reflect.TypeFor[json.Marshaler]()
	pyObjectType  = reflect.TypeFor[pyObject]()
)

func writePy(b *bytes.Buffer, v reflect.Value) error {
	if !v.IsValid() {
		b.WriteString("null")
		return nil
	}
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			b.WriteString("null")
			return nil
		}
		if v.Kind() == reflect.Pointer && v.Type().Implements(marshalerType) && !hasAdditional(v.Type().Elem()) {
			return writeMarshaler(b, v)
		}
		return writePy(b, v.Elem())
	}
	if v.Type() == pyObjectType {
		return writeObject(b, v.Interface().(pyObject))
	}
	if v.Type().Implements(marshalerType) && !hasAdditional(v.Type()) {
		return writeMarshaler(b, v)
	}
	switch v.Kind() {
	case reflect.Bool:
		b.WriteString(strconv.FormatBool(v.Bool()))
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		b.WriteString(strconv.FormatInt(v.Int(), 10))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		b.WriteString(strconv.FormatUint(v.Uint(), 10))
	case reflect.Float32, reflect.Float64:
		f := v.Float()
		if math.IsNaN(f) || math.IsInf(f, 0) {
			// json.dumps(allow_nan=False) refuses these too.
			return fmt.Errorf("pyjson: %v is not valid JSON", f)
		}
		b.WriteString(pyfmt.Float(f))
	case reflect.String:
		writeString(b, v.String())
	case reflect.Slice, reflect.Array:
		if v.Kind() == reflect.Slice && v.IsNil() {
			b.WriteString("null")
			return nil
		}
		if v.Kind() == reflect.Slice && v.Type().Elem().Kind() == reflect.Uint8 {
			return writeMarshaler(b, reflect.ValueOf(rawBytes(v.Bytes())))
		}
		b.WriteByte('[')
		for i := range v.Len() {
			if i > 0 {
				b.WriteByte(',')
			}
			if err := writePy(b, v.Index(i)); err != nil {
				return err
			}
		}
		b.WriteByte(']')
	case reflect.Map:
		if v.IsNil() {
			b.WriteString("null")
			return nil
		}
		if v.Type().Key().Kind() != reflect.String {
			return fmt.Errorf("pyjson: map key %s", v.Type().Key())
		}
		keys := make([]string, 0, v.Len())
		for _, k := range v.MapKeys() {
			keys = append(keys, k.String())
		}
		sort.Strings(keys)
		obj := make(pyObject, len(keys))
		for i, k := range keys {
			obj[i] = pyMember{Key: k, Value: v.MapIndex(reflect.ValueOf(k).Convert(v.Type().Key())).Interface()}
		}
		return writeObject(b, obj)
	case reflect.Struct:
		return writeStruct(b, v)
	default:
		return fmt.Errorf("pyjson: unsupported %s", v.Type())
	}
	return nil
}

// hasAdditional reports a generated struct with additionalProperties: its
// MarshalJSON goes through a map and loses the field order, so writeStruct
// writes it instead.
func hasAdditional(t reflect.Type) bool {
	if t.Kind() != reflect.Struct {
		return false
	}
	f, ok := t.FieldByName("AdditionalProperties")
	return ok && f.Type.Kind() == reflect.Map
}

// writeStruct follows encoding/json's field rules (json tag name,
// omitempty, "-") in declaration order; a generated AdditionalProperties
// map follows the declared fields, sorted.
func writeStruct(b *bytes.Buffer, v reflect.Value) error {
	var obj pyObject
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		if f.Name == "AdditionalProperties" && f.Type.Kind() == reflect.Map {
			m := v.Field(i)
			keys := make([]string, 0, m.Len())
			for _, k := range m.MapKeys() {
				keys = append(keys, k.String())
			}
			sort.Strings(keys)
			for _, k := range keys {
				obj = append(obj, pyMember{Key: k, Value: m.MapIndex(reflect.ValueOf(k)).Interface()})
			}
			continue
		}
		name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		fv := v.Field(i)
		if strings.Contains(opts, "omitempty") && isEmpty(fv) {
			continue
		}
		obj = append(obj, pyMember{Key: name, Value: fv.Interface()})
	}
	return writeObject(b, obj)
}

// isEmpty is encoding/json's omitempty test.
func isEmpty(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Array, reflect.Map, reflect.Slice, reflect.String:
		return v.Len() == 0
	case reflect.Pointer, reflect.Interface:
		return v.IsNil()
	}
	return v.IsZero()
}

func writeObject(b *bytes.Buffer, obj pyObject) error {
	b.WriteByte('{')
	for i, m := range obj {
		if i > 0 {
			b.WriteByte(',')
		}
		writeString(b, m.Key)
		b.WriteByte(':')
		if err := writePy(b, reflect.ValueOf(m.Value)); err != nil {
			return err
		}
	}
	b.WriteByte('}')
	return nil
}

func writeMarshaler(b *bytes.Buffer, v reflect.Value) error {
	raw, err := v.Interface().(json.Marshaler).MarshalJSON()
	if err != nil {
		return err
	}
	return json.Compact(b, raw)
}

// writeString is json.dumps(ensure_ascii=False) of a str: control
// characters, quote and backslash escaped, nothing else.
func writeString(b *bytes.Buffer, s string) {
	var tmp bytes.Buffer
	enc := json.NewEncoder(&tmp)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	b.Write(bytes.TrimSuffix(tmp.Bytes(), []byte("\n")))
}

// pyJSON answers status with body encoded by marshalPy.
type pyJSON struct {
	status int
	body   any
}

func (r pyJSON) visit(w http.ResponseWriter) error {
	b, err := marshalPy(r.body)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(r.status)
	_, err = w.Write(b)
	return err
}

func ok200(body any) pyJSON { return pyJSON{status: http.StatusOK, body: body} }

// rawBytes encodes as encoding/json encodes a []byte: a base64 string.
type rawBytes []byte

func (r rawBytes) MarshalJSON() ([]byte, error) { return json.Marshal([]byte(r)) }
