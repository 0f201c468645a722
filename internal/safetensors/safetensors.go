// Package safetensors reads and writes the safetensors format (an 8-byte
// little-endian header length, a JSON header, then raw tensor bytes) for
// LoRA and embedding files: no pickle, no dependency. Only the float
// dtypes those files use (F16, BF16, F32) are decoded.
package safetensors

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"sort"

	"github.com/sdapi/sdapi/internal/half"
)

// maxHeader bounds the JSON header, so a corrupt length cannot make the
// reader allocate gigabytes (safetensors itself caps it at 100 MB).
const maxHeader = 100 << 20

// ErrFormat wraps every malformed-file error.
var ErrFormat = errors.New("not a valid safetensors file")

// Tensor describes one tensor of a file.
type Tensor struct {
	Name  string
	DType string // "F16", "BF16", "F32", ... as the header says
	Shape []int64
	begin int64 // offsets in the data section
	end   int64
}

// Numel is the tensor's element count.
func (t Tensor) Numel() int64 {
	n := int64(1)
	for _, d := range t.Shape {
		n *= d
	}
	return n
}

// File is a parsed header; tensor data is read on demand from Path.
type File struct {
	Path     string
	Metadata map[string]string // the header's __metadata__, nil when absent
	Tensors  map[string]Tensor
	// HeaderLen is the JSON header's length; data starts at 8+HeaderLen.
	HeaderLen int64
	size      int64
}

// Names returns the tensor names, sorted.
func (f *File) Names() []string {
	out := make([]string, 0, len(f.Tensors))
	for n := range f.Tensors {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

type rawTensor struct {
	DType   string  `json:"dtype"`
	Shape   []int64 `json:"shape"`
	Offsets []int64 `json:"data_offsets"`
}

// Open reads and checks the header of the file at path: every tensor's
// offsets must lie in the file and match its dtype and shape.
func Open(path string) (*File, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	st, err := fh.Stat()
	if err != nil {
		return nil, err
	}
	var lenBuf [8]byte
	if _, err := io.ReadFull(fh, lenBuf[:]); err != nil {
		return nil, fmt.Errorf("%w: %d bytes, too short for a header", ErrFormat, st.Size())
	}
	n := binary.LittleEndian.Uint64(lenBuf[:])
	if n < 2 || n > maxHeader || int64(n) > st.Size()-8 {
		return nil, fmt.Errorf("%w: header length %d in a file of %d bytes", ErrFormat, n, st.Size())
	}
	hdr := make([]byte, n)
	if _, err := io.ReadFull(fh, hdr); err != nil {
		return nil, fmt.Errorf("%w: header: %v", ErrFormat, err)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(bytes.TrimRight(hdr, " "), &raw); err != nil {
		return nil, fmt.Errorf("%w: header JSON: %v", ErrFormat, err)
	}
	f := &File{Path: path, Tensors: map[string]Tensor{}, HeaderLen: int64(n), size: st.Size()}
	dataLen := st.Size() - 8 - int64(n)
	for name, v := range raw {
		if name == "__metadata__" {
			if err := json.Unmarshal(v, &f.Metadata); err != nil {
				return nil, fmt.Errorf("%w: __metadata__ is not a string map: %v", ErrFormat, err)
			}
			continue
		}
		var rt rawTensor
		if err := json.Unmarshal(v, &rt); err != nil {
			return nil, fmt.Errorf("%w: tensor %q: %v", ErrFormat, name, err)
		}
		if len(rt.Offsets) != 2 || rt.Offsets[0] < 0 || rt.Offsets[1] < rt.Offsets[0] || rt.Offsets[1] > dataLen {
			return nil, fmt.Errorf("%w: tensor %q: offsets %v outside the %d data bytes", ErrFormat, name, rt.Offsets, dataLen)
		}
		t := Tensor{Name: name, DType: rt.DType, Shape: rt.Shape, begin: rt.Offsets[0], end: rt.Offsets[1]}
		for _, d := range t.Shape {
			if d < 0 {
				return nil, fmt.Errorf("%w: tensor %q: shape %v", ErrFormat, name, t.Shape)
			}
		}
		if size, ok := dtypeSize[t.DType]; ok && size*t.Numel() != t.end-t.begin {
			return nil, fmt.Errorf("%w: tensor %q: %s%v needs %d bytes, offsets give %d", ErrFormat, name, t.DType, t.Shape, size*t.Numel(), t.end-t.begin)
		}
		f.Tensors[name] = t
	}
	return f, nil
}

var dtypeSize = map[string]int64{"F16": 2, "BF16": 2, "F32": 4, "F64": 8, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1, "BOOL": 1}

// Floats reads a float tensor as float32.
func (f *File) Floats(name string) ([]float32, error) {
	t, ok := f.Tensors[name]
	if !ok {
		return nil, fmt.Errorf("no tensor %q", name)
	}
	fh, err := os.Open(f.Path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	buf := make([]byte, t.end-t.begin)
	if _, err := fh.ReadAt(buf, 8+f.HeaderLen+t.begin); err != nil {
		return nil, fmt.Errorf("tensor %q: %w", name, err)
	}
	n := int(t.Numel())
	out := make([]float32, n)
	switch t.DType {
	case "F32":
		for i := range out {
			out[i] = math.Float32frombits(binary.LittleEndian.Uint32(buf[4*i:]))
		}
	case "F16":
		for i := range out {
			out[i] = half.Float32(binary.LittleEndian.Uint16(buf[2*i:]))
		}
	case "BF16":
		for i := range out {
			out[i] = math.Float32frombits(uint32(binary.LittleEndian.Uint16(buf[2*i:])) << 16)
		}
	case "F64":
		for i := range out {
			out[i] = float32(math.Float64frombits(binary.LittleEndian.Uint64(buf[8*i:])))
		}
	default:
		return nil, fmt.Errorf("tensor %q has dtype %s, not a float type", name, t.DType)
	}
	return out, nil
}

// AddnetHash is kohya-ss's hash of a safetensors file, which A1111
// (modules/hashes.py addnet_hash_safetensors) uses for LoRA files: the
// sha256 of everything after the JSON header, so editing metadata keeps it.
func AddnetHash(path string) (string, error) {
	fh, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer fh.Close()
	var lenBuf [8]byte
	if _, err := io.ReadFull(fh, lenBuf[:]); err != nil {
		return "", fmt.Errorf("%w: too short", ErrFormat)
	}
	n := binary.LittleEndian.Uint64(lenBuf[:])
	if n > maxHeader {
		return "", fmt.Errorf("%w: header length %d", ErrFormat, n)
	}
	if _, err := fh.Seek(int64(8+n), io.SeekStart); err != nil {
		return "", err
	}
	h := sha256.New()
	if _, err := io.Copy(h, fh); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// FileSHA256 is the sha256 of the whole file, as A1111 hashes embeddings.
func FileSHA256(path string) (string, error) {
	fh, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer fh.Close()
	h := sha256.New()
	if _, err := io.Copy(h, fh); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// WriteTensor is one float32 tensor to write; F16 stores it as float16.
type WriteTensor struct {
	Name  string
	Shape []int64
	Data  []float32
	F16   bool
}

// WriteFile writes tensors and metadata as a safetensors file, tensors in
// the order given.
func WriteFile(path string, tensors []WriteTensor, metadata map[string]string) error {
	hdr := map[string]any{}
	if metadata != nil {
		hdr["__metadata__"] = metadata
	}
	var data []byte
	for _, t := range tensors {
		begin := len(data)
		dt := "F32"
		for _, v := range t.Data {
			if t.F16 {
				data = binary.LittleEndian.AppendUint16(data, half.Bits(v))
			} else {
				data = binary.LittleEndian.AppendUint32(data, math.Float32bits(v))
			}
		}
		if t.F16 {
			dt = "F16"
		}
		shape := t.Shape
		if shape == nil {
			shape = []int64{}
		}
		hdr[t.Name] = rawTensor{DType: dt, Shape: shape, Offsets: []int64{int64(begin), int64(len(data))}}
	}
	js, err := json.Marshal(hdr)
	if err != nil {
		return err
	}
	for len(js)%8 != 0 {
		js = append(js, ' ')
	}
	out := binary.LittleEndian.AppendUint64(nil, uint64(len(js)))
	out = append(out, js...)
	out = append(out, data...)
	return os.WriteFile(path, out, 0o644)
}
