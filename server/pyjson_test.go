package server

import (
	"math"
	"testing"
)

func TestMarshalPy(t *testing.T) {
	t.Parallel()
	type item struct {
		B     string   `json:"b"`
		A     *float64 `json:"a"`
		Skip  int      `json:"skip,omitempty"`
		Inner any      `json:"inner"`
	}
	f := 2.0
	for _, tc := range []struct {
		name string
		in   any
		want string
	}{
		{"struct order, null, float", item{B: "<x>&", A: &f, Inner: map[string]any{"z": 1, "y": 0.5}}, `{"b":"<x>&","a":2.0,"inner":{"y":0.5,"z":1}}`},
		{"nil pointer", item{}, `{"b":"","a":null,"inner":null}`},
		{"ordered object", pyObject{{"z", int64(3)}, {"a", []any{true, nil, "é"}}}, `{"z":3,"a":[true,null,"é"]}`},
		{"nil slice", []string(nil), `null`},
	} {
		got, err := marshalPy(tc.in)
		if err != nil || string(got) != tc.want {
			t.Errorf("%s: got %s (%v), want %s", tc.name, got, err, tc.want)
		}
	}
	if _, err := marshalPy(math.NaN()); err == nil {
		t.Error("NaN encoded; json.dumps(allow_nan=False) refuses it")
	}
}
