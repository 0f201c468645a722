package onnxpb

import (
	"fmt"

	"google.golang.org/protobuf/encoding/protowire"
)

// Field is one protobuf field of a message: Raw is its whole encoding
// (tag included), Varint the value of a varint field, Bytes the payload
// of a length-delimited one.
type Field struct {
	Num    protowire.Number
	Type   protowire.Type
	Varint uint64
	Bytes  []byte
	Raw    []byte
}

// EachField calls fn for every field of the message b, in order. Errors
// about the encoding wrap ErrMalformed.
func EachField(b []byte, fn func(Field) error) error {
	for len(b) > 0 {
		start := b
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return fmt.Errorf("%w: %v", ErrMalformed, protowire.ParseError(n))
		}
		b = b[n:]
		f := Field{Num: num, Type: typ}
		switch typ {
		case protowire.VarintType:
			f.Varint, n = protowire.ConsumeVarint(b)
		case protowire.BytesType:
			f.Bytes, n = protowire.ConsumeBytes(b)
		default:
			n = protowire.ConsumeFieldValue(num, typ, b)
		}
		if n < 0 {
			return fmt.Errorf("%w: %v", ErrMalformed, protowire.ParseError(n))
		}
		b = b[n:]
		f.Raw = start[:len(start)-len(b)]
		if err := fn(f); err != nil {
			return err
		}
	}
	return nil
}

// AppendString appends a string field; proto2 strings are written even
// when empty.
func AppendString(b []byte, num protowire.Number, s string) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendString(b, s)
}
