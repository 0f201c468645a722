package onnxpb

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"

	"google.golang.org/protobuf/encoding/protowire"
)

// ErrMalformed is wrapped by ReadIO errors about invalid protobuf data.
var ErrMalformed = errors.New("onnxpb: malformed model")

// maxValueInfoSize bounds one graph input or output message.
const maxValueInfoSize = 1 << 20

// ReadIO returns the declared graph inputs and outputs of the model at
// path. It streams the file and seeks over nodes and initializers, so
// inline weights are never read into memory.
func ReadIO(path string) (inputs, outputs []ValueInfo, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	r := &streamReader{f: f, br: bufio.NewReaderSize(f, 64<<10)}
	sawGraph := false
	for {
		num, typ, err := r.tag()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", path, err)
		}
		if num != 7 || typ != protowire.BytesType {
			if err := r.skipField(typ); err != nil {
				return nil, nil, fmt.Errorf("%s: %w", path, err)
			}
			continue
		}
		n, err := r.varint()
		if err != nil {
			return nil, nil, fmt.Errorf("%s: graph: %w", path, err)
		}
		in, out, err := r.graphIO(r.pos + int64(n))
		if err != nil {
			return nil, nil, fmt.Errorf("%s: graph: %w", path, err)
		}
		// Protobuf merges repeated occurrences of a message field, which
		// concatenates their repeated input and output lists.
		inputs = append(inputs, in...)
		outputs = append(outputs, out...)
		sawGraph = true
	}
	if !sawGraph {
		return nil, nil, fmt.Errorf("%s: %w: no graph", path, ErrMalformed)
	}
	return inputs, outputs, nil
}

type streamReader struct {
	f   io.ReadSeeker
	br  *bufio.Reader
	pos int64
}

func (r *streamReader) readByte() (byte, error) {
	c, err := r.br.ReadByte()
	if err == nil {
		r.pos++
	}
	return c, err
}

func (r *streamReader) varint() (uint64, error) {
	var v uint64
	for shift := uint(0); shift < 64; shift += 7 {
		c, err := r.readByte()
		if err != nil {
			if shift > 0 && errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return 0, err
		}
		v |= uint64(c&0x7f) << shift
		if c < 0x80 {
			return v, nil
		}
	}
	return 0, fmt.Errorf("%w: varint overflow", ErrMalformed)
}

func (r *streamReader) tag() (protowire.Number, protowire.Type, error) {
	v, err := r.varint()
	if err != nil {
		return 0, 0, err
	}
	num, typ := protowire.DecodeTag(v)
	if num < protowire.MinValidNumber {
		return 0, 0, fmt.Errorf("%w: field number %d", ErrMalformed, num)
	}
	return num, typ, nil
}

func (r *streamReader) skip(n int64) error {
	if n < 0 {
		return fmt.Errorf("%w: negative length", ErrMalformed)
	}
	if n <= int64(r.br.Buffered()) {
		_, err := r.br.Discard(int(n))
		r.pos += n
		return err
	}
	r.pos += n
	if _, err := r.f.Seek(r.pos, io.SeekStart); err != nil {
		return err
	}
	r.br.Reset(r.f)
	return nil
}

func (r *streamReader) skipField(typ protowire.Type) error {
	switch typ {
	case protowire.VarintType:
		_, err := r.varint()
		return err
	case protowire.Fixed32Type:
		return r.skip(4)
	case protowire.Fixed64Type:
		return r.skip(8)
	case protowire.BytesType:
		n, err := r.varint()
		if err != nil {
			return err
		}
		return r.skip(int64(n))
	}
	return fmt.Errorf("%w: wire type %d", ErrMalformed, typ)
}

func (r *streamReader) graphIO(end int64) (inputs, outputs []ValueInfo, err error) {
	for r.pos < end {
		num, typ, err := r.tag()
		if err != nil {
			return nil, nil, noEOF(err)
		}
		if (num != 11 && num != 12) || typ != protowire.BytesType {
			if err := r.skipField(typ); err != nil {
				return nil, nil, noEOF(err)
			}
			continue
		}
		n, err := r.varint()
		if err != nil {
			return nil, nil, noEOF(err)
		}
		if n > maxValueInfoSize {
			return nil, nil, fmt.Errorf("%w: value info of %d bytes", ErrMalformed, n)
		}
		buf := make([]byte, n)
		if _, err := io.ReadFull(r.br, buf); err != nil {
			return nil, nil, noEOF(err)
		}
		r.pos += int64(n)
		v, err := parseValueInfo(buf)
		if err != nil {
			return nil, nil, err
		}
		if num == 11 {
			inputs = append(inputs, v)
		} else {
			outputs = append(outputs, v)
		}
	}
	if r.pos != end {
		return nil, nil, fmt.Errorf("%w: graph length mismatch", ErrMalformed)
	}
	return inputs, outputs, nil
}

func noEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// fields is EachField for callers that want the value parts only.
func fields(b []byte, fn func(num protowire.Number, typ protowire.Type, v uint64, sub []byte) error) error {
	return EachField(b, func(f Field) error { return fn(f.Num, f.Type, f.Varint, f.Bytes) })
}

func parseValueInfo(b []byte) (ValueInfo, error) {
	v := ValueInfo{UnknownRank: true}
	err := fields(b, func(num protowire.Number, typ protowire.Type, _ uint64, sub []byte) error {
		switch {
		case num == 1 && typ == protowire.BytesType:
			v.Name = string(sub)
		case num == 2 && typ == protowire.BytesType: // TypeProto
			return fields(sub, func(num protowire.Number, typ protowire.Type, _ uint64, sub []byte) error {
				if num != 1 || typ != protowire.BytesType { // tensor_type only
					return nil
				}
				return parseTensorType(sub, &v)
			})
		}
		return nil
	})
	return v, err
}

func parseTensorType(b []byte, v *ValueInfo) error {
	return fields(b, func(num protowire.Number, typ protowire.Type, x uint64, sub []byte) error {
		switch {
		case num == 1 && typ == protowire.VarintType:
			v.Elem = DataType(x)
		case num == 2 && typ == protowire.BytesType:
			v.UnknownRank = false
			v.Dims = []Dim{}
			return fields(sub, func(num protowire.Number, typ protowire.Type, _ uint64, sub []byte) error {
				if num != 1 || typ != protowire.BytesType {
					return nil
				}
				var d Dim
				err := fields(sub, func(num protowire.Number, typ protowire.Type, x uint64, s []byte) error {
					switch {
					case num == 1 && typ == protowire.VarintType:
						d.Value = int64(x)
					case num == 2 && typ == protowire.BytesType:
						d.Param = string(s)
					}
					return nil
				})
				v.Dims = append(v.Dims, d)
				return err
			})
		}
		return nil
	})
}
