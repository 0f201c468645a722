package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"strconv"
	"strings"
	"unicode/utf8"
)

// A request body is read into a tree of Python's json.loads values, so
// that the decoder can apply pydantic's rules to what Python would hold:
//
//	null → nil, true/false → bool, "…" → string,
//	an integer literal → pyInt, any other number → float64,
//	[…] → []any, {…} → *pyDict (keys in the order sent).
//
// Python tells an int from a float by the literal (1 and 1.0 differ), and
// keeps an object's keys in order; both show in the parameters echo.

// pyInt is a JSON integer literal, exact: Python's int has no range.
type pyInt struct{ *big.Int }

// pyDict is a JSON object (a Python dict) with its keys in insertion order;
// a repeated key keeps its first place and its last value, as dict does.
type pyDict struct {
	keys []string
	vals map[string]any
}

func newPyDict() *pyDict { return &pyDict{vals: map[string]any{}} }

func (d *pyDict) set(k string, v any) {
	if _, ok := d.vals[k]; !ok {
		d.keys = append(d.keys, k)
	}
	d.vals[k] = v
}

// MarshalJSON writes the dict in its key order, through marshalPy as
// every response body: ints as ints, floats as Python's repr (7.0).
func (d *pyDict) MarshalJSON() ([]byte, error) {
	obj := make(pyObject, len(d.keys))
	for i, k := range d.keys {
		obj[i] = pyMember{Key: k, Value: d.vals[k]}
	}
	return marshalPy(obj)
}

func (d *pyDict) get(k string) (any, bool) {
	v, ok := d.vals[k]
	return v, ok
}

// jsonDecodeError is json.JSONDecodeError: where and why the body is not
// JSON. FastAPI answers it as a 422 at ["body", pos].
type jsonDecodeError struct {
	Msg string
	Pos int64 // a byte offset into Doc
	Doc []byte
}

func (e *jsonDecodeError) Error() string {
	pos, line, col := e.position()
	return fmt.Sprintf("%s: line %d column %d (char %d)", e.Msg, line, col, pos)
}

// position is Python's view of Pos: a character offset, and its line and
// column counted from 1.
func (e *jsonDecodeError) position() (pos, line, col int) {
	before := string(e.Doc[:min(int(e.Pos), len(e.Doc))])
	pos = utf8.RuneCountInString(before)
	line = strings.Count(before, "\n") + 1
	col = pos + 1
	if i := strings.LastIndexByte(before, '\n'); i >= 0 {
		col = utf8.RuneCountInString(before[i+1:]) + 1
	}
	return pos, line, col
}

// parsePyJSON reads one JSON document as json.loads does (see above).
func parsePyJSON(body []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	v, err := readValue(dec)
	if err == nil {
		if _, err = dec.Token(); errors.Is(err, io.EOF) {
			return v, nil
		}
	}
	return nil, decodeErr(body)
}

func readValue(dec *json.Decoder) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			d := newPyDict()
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				k, _ := kt.(string) // the decoder allows only strings here
				v, err := readValue(dec)
				if err != nil {
					return nil, err
				}
				d.set(k, v)
			}
			if _, err := dec.Token(); err != nil { // '}'
				return nil, err
			}
			return d, nil
		case '[':
			list := []any{}
			for dec.More() {
				v, err := readValue(dec)
				if err != nil {
					return nil, err
				}
				list = append(list, v)
			}
			if _, err := dec.Token(); err != nil { // ']'
				return nil, err
			}
			return list, nil
		}
		return nil, fmt.Errorf("unexpected %v", t)
	case json.Number:
		return pyNumber(t), nil
	}
	return tok, nil // nil, bool or string
}

// pyNumber is the Python value of a JSON number literal: an int when it
// has no fraction and no exponent, else a float (±inf past float64's
// range, as Python's float() gives).
func pyNumber(n json.Number) any {
	s := string(n)
	if !strings.ContainsAny(s, ".eE") {
		if i, ok := new(big.Int).SetString(s, 10); ok {
			return pyInt{i}
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return math.NaN() // unreachable: the decoder checked the syntax
	}
	return f
}

// decodeErr locates and words the syntax error of body as Python's json
// module does, for the common cases. The token reader reports where a
// token started; the scanner of json.Unmarshal finds the offending byte.
func decodeErr(body []byte) error {
	var v any
	err := json.Unmarshal(body, &v)
	var se *json.SyntaxError
	if !errors.As(err, &se) {
		return &jsonDecodeError{Msg: "Expecting value", Pos: int64(len(body)), Doc: body}
	}
	pos := max(se.Offset-1, 0)
	msg := "Expecting value"
	if se.Offset >= int64(len(body)) && strings.Contains(se.Error(), "unexpected end") {
		pos = int64(len(body))
	}
	for _, m := range []struct{ goSays, pySays string }{
		{"looking for beginning of object key string", "Expecting property name enclosed in double quotes"},
		{"after object key:value pair", "Expecting ',' delimiter"},
		{"after object key", "Expecting ':' delimiter"},
		{"after array element", "Expecting ',' delimiter"},
		{"after top-level value", "Extra data"},
		{"in string literal", "Invalid control character at"},
		{"in string escape code", "Invalid \\escape"},
	} {
		if strings.Contains(se.Error(), m.goSays) {
			msg = m.pySays
			break
		}
	}
	if strings.Contains(se.Error(), "in string escape code") {
		pos-- // Python points at the backslash
	}
	return &jsonDecodeError{Msg: msg, Pos: pos, Doc: body}
}

// plainValue converts a Python value tree into the plain JSON values
// processing reads from scripts' args and options: float64 numbers,
// map[string]any objects.
func plainValue(v any) any {
	switch v := v.(type) {
	case pyInt:
		f, _ := new(big.Float).SetInt(v.Int).Float64()
		return f
	case *pyDict:
		out := make(map[string]any, len(v.keys))
		for _, k := range v.keys {
			out[k] = plainValue(v.vals[k])
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = plainValue(x)
		}
		return out
	}
	return v
}

// detail is FastAPI's item for a body json.loads refuses: msg is
// str(JSONDecodeError), ctx its attributes (doc is the body).
func (e *jsonDecodeError) detail() detailItem {
	pos, line, col := e.position()
	return detailItem{Loc: []any{"body", pos}, Msg: e.Error(), Type: "value_error.jsondecode",
		Ctx: map[string]any{"msg": e.Msg, "doc": string(e.Doc), "pos": pos, "lineno": line, "colno": col}}
}
