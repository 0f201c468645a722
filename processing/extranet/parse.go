// Package extranet is A1111's extra networks for the ONNX server: the
// `<name:arg:...>` prompt syntax (modules/extra_networks.py), the LoRA
// files under the Lora directory (extensions-builtin/Lora networks.py,
// network.py NetworkOnDisk) and the textual-inversion embeddings under
// the embeddings directory (modules/textual_inversion EmbeddingDatabase).
// It decides which networks a batch uses; runner/ort applies them.
package extranet

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// reExtraNet is A1111's re_extra_net `<(\w+):([^>]+)>`; Python 3's \w on
// str matches Unicode letters and digits too.
var reExtraNet = regexp.MustCompile(`<([\p{L}\p{N}_]+):([^>]+)>`)

// Params is ExtraNetworkParams: the colon-separated items of one tag,
// split into positional ones and name=value ones.
type Params struct {
	Items      []string
	Positional []string
	Named      map[string]string
}

func newParams(items []string) Params {
	p := Params{Items: items, Named: map[string]string{}}
	for _, it := range items {
		// Python's item.split('=', 2): exactly two parts is a named item.
		if parts := strings.SplitN(it, "=", 3); len(parts) == 2 {
			p.Named[parts[0]] = parts[1]
		} else {
			p.Positional = append(p.Positional, it)
		}
	}
	return p
}

// Data maps an extra network name ("lora", "hypernet", ...) to its tags in
// prompt order.
type Data map[string][]Params

// ParsePrompt is parse_prompt: it removes every tag from prompt.
func ParsePrompt(prompt string) (string, Data) {
	res := Data{}
	out := reExtraNet.ReplaceAllStringFunc(prompt, func(m string) string {
		sm := reExtraNet.FindStringSubmatch(m)
		res[sm[1]] = append(res[sm[1]], newParams(strings.Split(sm[2], ":")))
		return ""
	})
	return out, res
}

// ParsePrompts is parse_prompts: every prompt loses its tags, and the
// networks of the batch are those of its first prompt (A1111 applies one
// set of networks to a whole batch).
func ParsePrompts(prompts []string) ([]string, Data) {
	out := make([]string, len(prompts))
	var data Data
	for i, p := range prompts {
		s, d := ParsePrompt(p)
		if data == nil {
			data = d
		}
		out[i] = s
	}
	return out, data
}

// LoraUse is one `<lora:...>` tag as ExtraNetworkLora.activate reads it.
type LoraUse struct {
	Name string
	TE   float64
	UNet float64
	// DynDim is the dyn= rank limit; 0 when not given.
	DynDim int
}

// LoraUses is ExtraNetworkLora.activate's argument parsing: name, then te
// (default 1), unet (default te), dyn, each overridable by te=, unet=,
// dyn=. A1111 raises on a tag without a name or with a number Python
// cannot parse, which aborts activate for the whole batch; so does this.
func LoraUses(ps []Params) ([]LoraUse, error) {
	var out []LoraUse
	for _, p := range ps {
		if len(p.Positional) == 0 {
			return nil, fmt.Errorf("lora tag %q has no name", strings.Join(p.Items, ":"))
		}
		u := LoraUse{Name: p.Positional[0], TE: 1}
		var err error
		num := func(s string) float64 {
			if err != nil {
				return 0
			}
			var v float64
			v, err = pyFloat(s)
			return v
		}
		if len(p.Positional) > 1 {
			u.TE = num(p.Positional[1])
		}
		if s, ok := p.Named["te"]; ok {
			u.TE = num(s)
		}
		u.UNet = u.TE
		if len(p.Positional) > 2 {
			u.UNet = num(p.Positional[2])
		}
		if s, ok := p.Named["unet"]; ok {
			u.UNet = num(s)
		}
		dyn := ""
		if len(p.Positional) > 3 {
			dyn = p.Positional[3]
		}
		if s, ok := p.Named["dyn"]; ok {
			dyn = s
		}
		if dyn != "" && err == nil {
			var d int64
			d, err = strconv.ParseInt(strings.TrimSpace(dyn), 10, 64)
			u.DynDim = int(d)
		}
		if err != nil {
			return nil, fmt.Errorf("lora tag %q: %w", strings.Join(p.Items, ":"), err)
		}
		out = append(out, u)
	}
	return out, nil
}

// pyFloat parses as Python's float() does for the forms prompts use.
func pyFloat(s string) (float64, error) {
	v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil {
		return 0, fmt.Errorf("could not convert string to float: '%s'", s)
	}
	return v, nil
}
