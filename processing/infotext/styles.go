package infotext

// Style extraction of parse_generation_parameters (A1111 1.10,
// modules/infotext_utils.py) with StyleDatabase.extract_styles_from_prompt
// and its helpers (modules/styles.py): styles whose text ends a prompt (or
// wraps it, for a style with "{prompt}") are taken out of the pasted
// prompts and listed in "Styles array".

import (
	"slices"
	"strings"

	"github.com/sdapi/sdapi/processing/styles"
)

// v180HRStyles is infotext_versions.v180_hr_styles: infotexts written by
// later versions apply styles to the hires prompts as well.
var v180HRStyles = mustPEP440("1.8.0-139")

// extractInfotextStyles applies opts.infotext_styles to the parsed prompts
// and returns the prompts to store. It may set "Hires prompt", "Hires
// negative prompt" and "Styles array" in res.
func extractInfotextStyles(res *Params, prompt, negative string, o ParseOptions) (string, string) {
	mode := o.InfotextStyles
	if mode == "" {
		mode = "Apply if any"
	}
	if mode == "Ignore" {
		return prompt, negative
	}
	found, promptNoStyles, negativeNoStyles := extractStylesFromPrompt(o.Styles, prompt, negative)

	same := true
	if (res.Has("Hires prompt") || res.Has("Hires negative prompt")) && hiresStylesVersion(res) {
		hrPrompt, hrNegative := prompt, negative
		if v, ok := res.Get("Hires prompt"); ok {
			hrPrompt = pyStr(v)
		}
		if v, ok := res.Get("Hires negative prompt"); ok {
			hrNegative = pyStr(v)
		}
		hrFound, hrPromptNoStyles, hrNegativeNoStyles := extractStylesFromPrompt(o.Styles, hrPrompt, hrNegative)
		if same = slices.Equal(found, hrFound); same {
			res.Set("Hires prompt", emptyIfSame(hrPromptNoStyles, promptNoStyles))
			res.Set("Hires negative prompt", emptyIfSame(hrNegativeNoStyles, negativeNoStyles))
		}
	}
	if !same {
		return prompt, negative
	}
	if mode == "Apply" || mode == "Apply if any" && len(found) > 0 {
		res.Set("Styles array", found)
	}
	return promptNoStyles, negativeNoStyles
}

// hiresStylesVersion is `infotext_ver > v180_hr_styles` when the Version
// parses, else true.
func hiresStylesVersion(res *Params) bool {
	v, ok := res.Get("Version")
	s, isStr := v.(string)
	if !ok || !isStr {
		return true
	}
	ver, ok := parseInfotextVersion(s)
	if !ok {
		return true
	}
	return v180HRStyles.less(ver)
}

func emptyIfSame(s, other string) string {
	if s == other {
		return ""
	}
	return s
}

// extractStylesFromPrompt is StyleDatabase.extract_styles_from_prompt:
// repeatedly take out the first style (in database order) that matches
// both prompts, and return the names found, last taken out first.
func extractStylesFromPrompt(all []styles.Style, prompt, negative string) ([]string, string, string) {
	// The database is a dict by name: a later row replaces an earlier
	// one's value in the earlier one's place.
	var applicable []styles.Style
	index := map[string]int{}
	for _, s := range all {
		if i, ok := index[s.Name]; ok {
			applicable[i] = s
			continue
		}
		index[s.Name] = len(applicable)
		applicable = append(applicable, s)
	}
	extracted := []string{}
	for {
		found := -1
		for i, s := range applicable {
			if ok, p, n := extractOriginalPrompts(s, prompt, negative); ok {
				found, prompt, negative = i, p, n
				break
			}
		}
		if found < 0 {
			break
		}
		extracted = append(extracted, applicable[found].Name)
		applicable = slices.Delete(applicable, found, found+1)
	}
	slices.Reverse(extracted)
	return extracted, prompt, negative
}

// extractOriginalPrompts is styles.extract_original_prompts: a style
// matches when both its texts match their prompts.
func extractOriginalPrompts(s styles.Style, prompt, negative string) (bool, string, string) {
	if s.Prompt == "" && s.NegativePrompt == "" {
		return false, prompt, negative
	}
	okP, p := extractStyleText(s.Prompt, prompt)
	if !okP {
		return false, prompt, negative
	}
	okN, n := extractStyleText(s.NegativePrompt, negative)
	if !okN {
		return false, prompt, negative
	}
	return true, p, n
}

// extractStyleText is styles.extract_style_text_from_prompt: a style with
// "{prompt}" matches a prompt starting and ending with the text around
// the placeholder, and yields what lies between; any other style matches
// a prompt ending with it, and yields the rest without one trailing ", ".
// Both sides are stripped first. A style with two placeholders makes
// A1111 raise (its split unpacks into two names); here it does not match.
func extractStyleText(styleText, prompt string) (bool, string) {
	sp, st := pyStrip(prompt), pyStrip(styleText)
	if strings.Contains(st, "{prompt}") {
		parts := strings.SplitN(st, "{prompt}", 3)
		if len(parts) != 2 {
			return false, prompt
		}
		left, right := parts[0], parts[1]
		if strings.HasPrefix(sp, left) && strings.HasSuffix(sp, right) {
			start, end := len(left), len(sp)-len(right)
			if end < start { // Python's slice of a reversed range is empty
				return true, ""
			}
			return true, sp[start:end]
		}
		return false, prompt
	}
	if strings.HasSuffix(sp, st) {
		return true, strings.TrimSuffix(sp[:len(sp)-len(st)], ", ")
	}
	return false, prompt
}
