package ort

import (
	"encoding/binary"
	"fmt"
	"math"

	onnxruntime "github.com/yalue/onnxruntime_go"

	"github.com/sdapi/sdapi/internal/half"
	"github.com/sdapi/sdapi/runner/onnxgen/onnxpb"
)

// values owns the ONNX Runtime values of one model call.
type values []onnxruntime.Value

func (vs *values) add(v onnxruntime.Value, err error) error {
	if err != nil {
		return err
	}
	*vs = append(*vs, v)
	return nil
}

func (vs values) destroy() {
	for _, v := range vs {
		if v != nil {
			v.Destroy()
		}
	}
}

// floatValue wraps data as a float input of the given element type: float32
// without a copy, float16 converted. A rank-0 shape makes a scalar.
func floatValue(elem onnxpb.DataType, shape onnxruntime.Shape, data []float32) (onnxruntime.Value, error) {
	switch elem {
	case onnxpb.Float:
		if len(shape) == 0 {
			return onnxruntime.NewScalar(data[0])
		}
		return onnxruntime.NewTensor(shape, data)
	case onnxpb.Float16:
		if len(shape) == 0 {
			return nil, fmt.Errorf("onnxruntime_go cannot make float16 scalars")
		}
		raw := make([]byte, 2*len(data))
		for i, v := range data {
			binary.LittleEndian.PutUint16(raw[2*i:], half.Bits(v))
		}
		return onnxruntime.NewCustomDataTensor(shape, raw, onnxruntime.TensorElementDataTypeFloat16)
	case onnxpb.Double:
		d := make([]float64, len(data))
		for i, v := range data {
			d[i] = float64(v)
		}
		if len(shape) == 0 {
			return onnxruntime.NewScalar(d[0])
		}
		return onnxruntime.NewTensor(shape, d)
	}
	return nil, fmt.Errorf("unsupported float input type %v", elem)
}

// intValue wraps data as an integer input of the given element type.
func intValue(elem onnxpb.DataType, shape onnxruntime.Shape, data []int64) (onnxruntime.Value, error) {
	switch elem {
	case onnxpb.Int64:
		if len(shape) == 0 {
			return onnxruntime.NewScalar(data[0])
		}
		return onnxruntime.NewTensor(shape, data)
	case onnxpb.Int32:
		d := make([]int32, len(data))
		for i, v := range data {
			d[i] = int32(v)
		}
		if len(shape) == 0 {
			return onnxruntime.NewScalar(d[0])
		}
		return onnxruntime.NewTensor(shape, d)
	}
	return nil, fmt.Errorf("unsupported integer input type %v", elem)
}

// outputValue preallocates an output of the given element type and shape.
func outputValue(elem onnxpb.DataType, shape onnxruntime.Shape) (onnxruntime.Value, error) {
	switch elem {
	case onnxpb.Float:
		return onnxruntime.NewEmptyTensor[float32](shape)
	case onnxpb.Float16:
		return onnxruntime.NewCustomDataTensor(shape, make([]byte, 2*shape.FlattenedSize()), onnxruntime.TensorElementDataTypeFloat16)
	}
	return nil, fmt.Errorf("unsupported output type %v", elem)
}

// floatsOf returns an output's values as float32 (a view for float32
// tensors, a converted copy for float16).
func floatsOf(v onnxruntime.Value) ([]float32, error) {
	switch v := v.(type) {
	case *onnxruntime.Tensor[float32]:
		return v.GetData(), nil
	case *onnxruntime.CustomDataTensor:
		raw := v.GetData()
		out := make([]float32, len(raw)/2)
		for i := range out {
			out[i] = half.Float32(binary.LittleEndian.Uint16(raw[2*i:]))
		}
		return out, nil
	}
	return nil, fmt.Errorf("unexpected output value %T", v)
}

// roundHalfEven rounds as torch.round does.
func roundHalfEven(x float64) float64 { return math.RoundToEven(x) }
