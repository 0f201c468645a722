package infotext

import "strings"

// KV is one "Key: value" entry of an infotext parameters line.
type KV struct {
	Key   string
	Value any // nil entries are skipped, as A1111 skips None
}

// Format builds an infotext the way A1111's create_infotext does:
//
//	prompt + ("\nNegative prompt: " + negative, if not empty) + "\n" + "k: quote(v), ..."
//
// An entry whose value equals its key is written bare, values are rendered
// with Python's str() rules (7.0 → "7.0", true → "True") and then quoted,
// and the result is trimmed of surrounding whitespace.
func Format(prompt, negative string, params []KV) string {
	var parts []string
	for _, kv := range params {
		if kv.Value == nil {
			continue
		}
		if s, ok := kv.Value.(string); ok && s == kv.Key {
			parts = append(parts, kv.Key)
			continue
		}
		parts = append(parts, kv.Key+": "+Quote(pyStr(kv.Value)))
	}
	var b strings.Builder
	b.WriteString(prompt)
	if negative != "" {
		b.WriteString("\nNegative prompt: ")
		b.WriteString(negative)
	}
	b.WriteString("\n")
	b.WriteString(strings.Join(parts, ", "))
	return pyStrip(b.String())
}
