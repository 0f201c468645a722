package server

import (
	"math"
	"math/big"
	"regexp"
	"strconv"
	"strings"
	"unicode"

	"github.com/sdapi/sdapi/internal/pyfmt"
)

// pydantic v1's validators (pydantic/validators.py) for the field types of
// A1111's request models, applied to the values json.loads gives
// (pyjson.go). Each returns the value pydantic holds afterwards, or the
// error pydantic raises, as a detail item without its loc.

// fieldError is one pydantic error of a field: loc below the field (list
// indexes, "__key__"), message, type and context.
type fieldError struct {
	sub  []any
	msg  string
	typ  string
	ctxt map[string]any
}

var (
	errNone    = &fieldError{msg: "none is not an allowed value", typ: "type_error.none.not_allowed"}
	errStr     = &fieldError{msg: "str type expected", typ: "type_error.str"}
	errInt     = &fieldError{msg: "value is not a valid integer", typ: "type_error.integer"}
	errFloat   = &fieldError{msg: "value is not a valid float", typ: "type_error.float"}
	errBool    = &fieldError{msg: "value could not be parsed to a boolean", typ: "type_error.bool"}
	errList    = &fieldError{msg: "value is not a valid list", typ: "type_error.list"}
	errDict    = &fieldError{msg: "value is not a valid dict", typ: "type_error.dict"}
	errMissing = &fieldError{msg: "field required", typ: "value_error.missing"}
	// errNotFinite is pydantic's own error for a float field that forbids
	// inf and nan. A1111's fields allow them, and A1111 then fails to
	// render the response (Starlette's allow_nan=False): a 500 after the
	// whole job. This server refuses them up front instead.
	errNotFinite = &fieldError{msg: "ensure this value is a finite number", typ: "value_error.number.not_finite_number"}
)

func (e *fieldError) at(sub ...any) *fieldError {
	c := *e
	c.sub = append(sub, e.sub...)
	return &c
}

// outOfRange refuses an integer Python would hold but that does not fit
// the server's 64-bit fields; A1111 fails later on such values (torch's
// seed, tensor sizes), with an error of its own.
func outOfRange(i *big.Int) *fieldError {
	if i.Sign() > 0 {
		return &fieldError{msg: "ensure this value is less than or equal to 9223372036854775807",
			typ: "value_error.number.not_le", ctxt: map[string]any{"limit_value": int64(math.MaxInt64)}}
	}
	return &fieldError{msg: "ensure this value is greater than or equal to -9223372036854775808",
		typ: "value_error.number.not_ge", ctxt: map[string]any{"limit_value": int64(math.MinInt64)}}
}

// strValue is str_validator: str as is; int and float by str(); else
// refused (bool is an int in Python: "True").
func strValue(v any) (string, *fieldError) {
	switch x := v.(type) {
	case string:
		return x, nil
	case bool:
		if x {
			return "True", nil
		}
		return "False", nil
	case pyInt:
		return x.String(), nil
	case float64:
		return pyfmt.Float(x), nil
	}
	return "", errStr
}

// maxStrInt is pydantic's max_str_int: longer strings are not parsed.
const maxStrInt = 4300

// intValue is int_validator: int as is, bool as 0 or 1, otherwise int(v),
// which truncates a float and parses a string in base 10.
func intValue(v any) (int64, *fieldError) {
	var i *big.Int
	switch x := v.(type) {
	case bool:
		if x {
			return 1, nil
		}
		return 0, nil
	case pyInt:
		i = x.Int
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return 0, errInt // int() raises ValueError, OverflowError
		}
		i, _ = big.NewFloat(math.Trunc(x)).Int(nil)
	case string:
		if len(x) > maxStrInt {
			return 0, errInt
		}
		var ok bool
		if i, ok = pyIntString(x); !ok {
			return 0, errInt
		}
	default:
		return 0, errInt
	}
	if !i.IsInt64() {
		return 0, outOfRange(i)
	}
	return i.Int64(), nil
}

// pyDigits is Python's int()/float() view of a string: surrounding
// whitespace stripped, every Unicode decimal digit read as its ASCII
// digit.
func pyDigits(s string) string {
	s = strings.TrimFunc(s, unicode.IsSpace)
	return strings.Map(func(r rune) rune {
		if r > unicode.MaxASCII && unicode.IsDigit(r) {
			// Decimal digits come in runs of ten starting at zero.
			z := r
			for unicode.IsDigit(z - 1) {
				z--
			}
			return '0' + (r-z)%10
		}
		return r
	}, s)
}

var intLiteral = regexp.MustCompile(`^[+-]?[0-9](_?[0-9])*$`)

// pyIntString is int(s) in base 10: sign, digits, single underscores
// between digits, whitespace around.
func pyIntString(s string) (*big.Int, bool) {
	s = pyDigits(s)
	if !intLiteral.MatchString(s) {
		return nil, false
	}
	return new(big.Int).SetString(strings.ReplaceAll(s, "_", ""), 10)
}

var floatLiteral = regexp.MustCompile(`^[+-]?([0-9](_?[0-9])*(\.([0-9](_?[0-9])*)?)?|\.[0-9](_?[0-9])*)([eE][+-]?[0-9](_?[0-9])*)?$`)

// pyFloatString is float(s): a decimal literal (underscores between
// digits allowed), or inf, infinity, nan in any case, with a sign.
func pyFloatString(s string) (float64, bool) {
	s = pyDigits(s)
	word := strings.ToLower(strings.TrimLeft(s, "+-"))
	if len(s)-len(word) <= 1 && (word == "inf" || word == "infinity" || word == "nan") {
		f := math.Inf(1)
		if word == "nan" {
			f = math.NaN()
		}
		if s[0] == '-' {
			f = -f
		}
		return f, true
	}
	if !floatLiteral.MatchString(s) {
		return 0, false
	}
	// The literal is valid, so ParseFloat fails only out of range, with
	// ±inf or 0 as Python gives.
	f, _ := strconv.ParseFloat(strings.ReplaceAll(s, "_", ""), 64)
	return f, true
}

// floatValue is float_validator: float as is, otherwise float(v). A
// non-finite result is refused (errNotFinite).
func floatValue(v any) (float64, *fieldError) {
	var f float64
	switch x := v.(type) {
	case float64:
		f = x
	case bool:
		if x {
			return 1, nil
		}
		return 0, nil
	case pyInt:
		f, _ = new(big.Float).SetInt(x.Int).Float64()
	case string:
		var ok bool
		if f, ok = pyFloatString(x); !ok {
			return 0, errFloat
		}
	default:
		return 0, errFloat
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, errNotFinite
	}
	return f, nil
}

// boolValue is bool_validator: a bool; 0 or 1 (1.0 == 1 in Python); or
// one of its words, in any case.
func boolValue(v any) (bool, *fieldError) {
	switch x := v.(type) {
	case bool:
		return x, nil
	case pyInt:
		if x.IsInt64() && (x.Int64() == 0 || x.Int64() == 1) {
			return x.Int64() == 1, nil
		}
	case float64:
		if x == 0 || x == 1 {
			return x == 1, nil
		}
	case string:
		switch strings.ToLower(x) {
		case "1", "on", "t", "true", "y", "yes":
			return true, nil
		case "0", "off", "f", "false", "n", "no":
			return false, nil
		}
	}
	return false, errBool
}

// listValue is list_validator: only a list is a list in JSON.
func listValue(v any) ([]any, *fieldError) {
	if l, ok := v.([]any); ok {
		return l, nil
	}
	return nil, errList
}

// strListValue is list[str]: a list whose items are each str-validated
// (not Optional: a null item is refused).
func strListValue(v any) ([]string, []*fieldError) {
	l, ok := v.([]any)
	if !ok {
		return nil, []*fieldError{errList}
	}
	out := make([]string, len(l))
	var errs []*fieldError
	for i, x := range l {
		if x == nil {
			errs = append(errs, errNone.at(i))
			continue
		}
		s, err := strValue(x)
		if err != nil {
			errs = append(errs, err.at(i))
		}
		out[i] = s
	}
	return out, errs
}

// dictValue is dict_validator: a dict as is, otherwise dict(v), which
// takes a list of key-value pairs (two-item lists, or two-character
// strings) and makes {} of "". With strKeys (dict[str, Any]) each key is
// str-validated; otherwise a key that is not a string is written as
// str() writes it.
func dictValue(v any, strKeys bool) (*pyDict, []*fieldError) {
	switch x := v.(type) {
	case *pyDict:
		return x, nil
	case string:
		if x == "" {
			return newPyDict(), nil
		}
	case []any:
		d := newPyDict()
		var errs []*fieldError
		for _, item := range x {
			var k, val any
			switch it := item.(type) {
			case []any:
				if len(it) != 2 {
					return nil, []*fieldError{errDict}
				}
				k, val = it[0], it[1]
			case string:
				r := []rune(it)
				if len(r) != 2 {
					return nil, []*fieldError{errDict}
				}
				k, val = string(r[0]), string(r[1])
			default:
				return nil, []*fieldError{errDict}
			}
			switch k.(type) {
			case []any, *pyDict:
				return nil, []*fieldError{errDict} // unhashable
			case nil:
				if strKeys {
					errs = append(errs, errNone.at("__key__"))
					continue
				}
				k = "None"
			}
			ks, _ := strValue(k)
			d.set(ks, val)
		}
		return d, errs
	}
	return nil, []*fieldError{errDict}
}
