// Package imagemeta reads the text metadata that A1111's /png-info reports
// and writes the metadata its generation endpoints attach to images.
//
// Read mirrors what Pillow puts in image.info for PNG, JPEG, GIF and WEBP
// and what modules/images.py read_info_from_image (A1111 v1.10) does with
// it. Items hold the text entries plus the few scalar entries that are cheap
// to reproduce (PNG gamma, srgb, aspect; JPEG adobe, adobe_transform; GIF
// version, transparency). Not reproduced: PNG tRNS "transparency", GIF
// "extension", JPEG MPO/"mp" data, and the NovelAI conversion.
package imagemeta

import (
	"bytes"
	"image"
	_ "image/gif" // registered for image.DecodeConfig
	_ "image/jpeg"
	_ "image/png"

	"github.com/sdapi/sdapi/internal/apierr"
)

// Info is what /png-info reports about an image.
type Info struct {
	// Format is "png", "jpeg", "gif" or "webp".
	Format string
	// Parameters is the infotext: the PNG "parameters" text, overridden by a
	// non-empty EXIF UserComment, or the GIF/JPEG comment when there is no
	// EXIF at all. It is "" when the image carries none.
	Parameters string
	// Items holds the remaining image.info entries after A1111 drops
	// IGNORED_INFO_KEYS. Values are strings, except the scalar entries
	// listed in the package comment.
	Items map[string]any
	// Keys lists the Items keys in Pillow's insertion order.
	Keys []string
}

// ignoredInfoKeys is IGNORED_INFO_KEYS in modules/images.py.
var ignoredInfoKeys = []string{
	"jfif", "jfif_version", "jfif_unit", "jfif_density", "dpi", "exif",
	"loop", "background", "timestamp", "duration", "progressive", "progression",
	"icc_profile", "chromaticity", "photoshop",
}

// Read extracts the metadata of an image. Data that is not a PNG, JPEG, GIF
// or WEBP image, or whose header does not decode, gives an error wrapping
// ErrInvalidImage. Read never panics.
func Read(data []byte) (Info, error) {
	var (
		info   orderedInfo
		format string
		err    error
	)
	switch {
	case bytes.HasPrefix(data, pngSignature):
		format, err = "png", readPNG(data, &info)
	case bytes.HasPrefix(data, []byte{0xff, 0xd8, 0xff}):
		format, err = "jpeg", readJPEG(data, &info)
	case bytes.HasPrefix(data, []byte("GIF87a")) || bytes.HasPrefix(data, []byte("GIF89a")):
		format, err = "gif", readGIF(data, &info)
	case len(data) >= 12 && bytes.HasPrefix(data, []byte("RIFF")) && string(data[8:12]) == "WEBP":
		format, err = "webp", readWEBP(data, &info)
	case knownUnsupported(data):
		return Info{}, apierr.InvalidImage("%w", ErrUnsupportedFormat)
	default:
		return Info{}, apierr.InvalidImage("unrecognized data")
	}
	if err != nil {
		return Info{}, err
	}
	if format != "webp" {
		// The standard library has no WEBP decoder; readWEBP checks the container only.
		if _, _, err := image.DecodeConfig(bytes.NewReader(data)); err != nil {
			return Info{}, apierr.InvalidImage("%s: %w", format, err)
		}
	}
	return infoFromItems(format, &info), nil
}

// infoFromItems is read_info_from_image minus the NovelAI branch.
func infoFromItems(format string, items *orderedInfo) Info {
	geninfo, _ := items.pop("parameters")
	if exif, ok := items.get("exif"); ok {
		raw, _ := exif.([]byte)
		if c := decodeUserComment(exifUserComment(raw)); c != "" {
			geninfo = c
		}
	} else if c, ok := items.get("comment"); ok { // GIF, and JPEG COM segments
		if b, ok := c.([]byte); ok {
			geninfo = decodeUTF8Ignore(b)
		}
	}
	for _, k := range ignoredInfoKeys {
		items.pop(k)
	}
	out := Info{Format: format, Items: make(map[string]any, len(items.keys))}
	out.Parameters, _ = geninfo.(string)
	for _, k := range items.keys {
		out.Keys = append(out.Keys, k)
		v := items.values[k]
		if b, ok := v.([]byte); ok {
			// FastAPI's jsonable_encoder sends bytes values as decoded text.
			v = decodeUTF8Replace(b)
		}
		out.Items[k] = v
	}
	return out
}

// knownUnsupported recognises formats Pillow opens but this package does not.
func knownUnsupported(data []byte) bool {
	for _, magic := range [][]byte{
		[]byte("BM"), []byte("II*\x00"), []byte("MM\x00*"), []byte("\x00\x00\x01\x00"), []byte("\x00\x00\x00\x0cjP  "),
	} {
		if bytes.HasPrefix(data, magic) {
			return true
		}
	}
	return false
}

// orderedInfo models Pillow's image.info dict: insertion-ordered, and
// assigning an existing key keeps its position.
type orderedInfo struct {
	keys   []string
	values map[string]any
}

func (o *orderedInfo) set(k string, v any) {
	if o.values == nil {
		o.values = make(map[string]any)
	}
	if _, ok := o.values[k]; !ok {
		o.keys = append(o.keys, k)
	}
	o.values[k] = v
}

func (o *orderedInfo) get(k string) (any, bool) {
	v, ok := o.values[k]
	return v, ok
}

func (o *orderedInfo) pop(k string) (any, bool) {
	v, ok := o.values[k]
	if !ok {
		return nil, false
	}
	delete(o.values, k)
	for i, key := range o.keys {
		if key == k {
			o.keys = append(o.keys[:i], o.keys[i+1:]...)
			break
		}
	}
	return v, true
}
