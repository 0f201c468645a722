package processing

import (
	"github.com/sdapi/sdapi/processing/infotext"
	"github.com/sdapi/sdapi/processing/options"
	"github.com/sdapi/sdapi/processing/styles"
)

// InfotextParseOptions gathers what A1111's parse_generation_parameters
// reads besides the text: opts.infotext_styles with the prompt styles
// (shared.prompt_styles) and opts.infotext_skip_pasting. st may be nil (no
// styles). When the styles file cannot be read the options come back
// without styles, with the error, so the caller can log it and parse on,
// as A1111 reports a bad styles file and goes on without its styles.
func InfotextParseOptions(store *options.Store, st *styles.File) (infotext.ParseOptions, error) {
	o := infotext.ParseOptions{InfotextStyles: store.String("infotext_styles")}
	if v, ok := store.Get("infotext_skip_pasting"); ok {
		if list, ok := v.([]any); ok {
			for _, k := range list {
				if s, ok := k.(string); ok {
					o.SkipFields = append(o.SkipFields, s)
				}
			}
		}
	}
	if st == nil {
		return o, nil
	}
	all, err := st.Styles()
	o.Styles = all
	return o, err
}
