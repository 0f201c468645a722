package processing

import (
	"errors"
	"fmt"
	"image"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/sdapi/sdapi/internal/apierr"
	"github.com/sdapi/sdapi/internal/pyfmt"
	"github.com/sdapi/sdapi/processing/options"
)

// saveTarget is what images.save_image needs for one image.
type saveTarget struct {
	seed   int64
	prompt string
	params string // infotext written into the file ("" with enable_pnginfo off)
	suffix string
	grid   bool
}

// saveImage is A1111's images.save_image with the default arguments
// process_images_inner passes (basename "", the samples directory),
// writing inside pr.OutputDir only. It returns the file's path relative to
// OutputDir.
//
// Directory: outdir_samples or outdir_<mode>_samples (grids:
// outdir_grids or outdir_<mode>_grids), then, with save_to_dirs
// (grid_save_to_dirs for grids), directories_filename_pattern or
// "[prompt_words]". File: a 5-digit number one above the highest in the
// directory, then "-" and samples_filename_pattern or "[seed]"
// ("[seed]-[prompt_spaces]" without save_to_dirs), then the extension.
// Patterns understand [seed], [prompt], [prompt_spaces], [prompt_words],
// [steps], [cfg], [width], [height], [sampler], [scheduler], [model_name],
// [model_hash], [date], [datetime], [job_timestamp]; other [tags] stay
// as written, as A1111 leaves unknown ones.
func (pr *Processor) saveImage(j *job, img image.Image, t saveTarget) (string, error) {
	if pr.OutputDir == "" {
		return "", apierr.Unsupported("save_images needs an output directory")
	}
	o := optReader{pr}
	mode := j.p.Mode.String()
	kind := "samples"
	if t.grid {
		kind = "grids"
	}
	dir := o.str("outdir_"+kind, "")
	if dir == "" {
		dir = o.str("outdir_"+mode+"_"+kind, "outputs/"+mode+"-"+map[bool]string{false: "images", true: "grids"}[t.grid])
	}
	now := pr.now()
	ng := filenameGen{j: j, seed: t.seed, prompt: t.prompt, now: now, maxWords: int(o.num("directories_max_prompt_words", 8))}
	saveToDirs := o.boolean("save_to_dirs", true)
	if t.grid {
		saveToDirs = o.boolean("grid_save_to_dirs", true)
	}
	if saveToDirs {
		pat := o.str("directories_filename_pattern", "[date]")
		if pat == "" {
			pat = "[prompt_words]"
		}
		sub := strings.TrimRight(strings.TrimLeft(ng.apply(pat), " "), "\\ /")
		if sub != "" {
			dir = strings.TrimRight(dir, "/\\") + "/" + sub
		}
	}
	abs, err := options.ResolvePath(pr.OutputDir, dir)
	if err != nil {
		return "", fmt.Errorf("save_images: %w", err)
	}
	rel, err := filepath.Rel(filepath.Clean(pr.OutputDir), abs)
	if err != nil {
		return "", fmt.Errorf("save_images: %w: %w", options.ErrUnsafePath, err)
	}

	var decoration string
	if t.grid {
		decoration = ""
	} else if o.boolean("save_to_dirs", true) {
		decoration = orDefault(o.str("samples_filename_pattern", ""), "[seed]")
	} else {
		decoration = orDefault(o.str("samples_filename_pattern", ""), "[seed]-[prompt_spaces]")
	}
	decoration = ng.apply(decoration) + t.suffix
	if strings.ContainsAny(decoration, "/\\") {
		return "", fmt.Errorf("save_images: %w: file name %q", options.ErrUnsafePath, decoration)
	}
	addNumber := o.boolean("save_images_add_number", true) || decoration == ""
	if decoration != "" && addNumber {
		decoration = "-" + decoration
	}
	basename := ""
	if t.grid {
		basename = "grid"
	}
	format := o.str("samples_format", "png")
	if t.grid {
		format = o.str("grid_format", "png")
	}
	data, err := EncodeImage(img, format, t.params, int(o.num("jpeg_quality", 80)), false)
	if err != nil {
		return "", err
	}

	// A1111's save_image makes the folders it writes to
	// (os.makedirs(path, exist_ok=True)), the outputs root included: a
	// fresh data directory has none yet.
	if err := os.MkdirAll(pr.OutputDir, 0o755); err != nil {
		return "", fmt.Errorf("save_images: %w", err)
	}
	root, err := os.OpenRoot(pr.OutputDir)
	if err != nil {
		return "", fmt.Errorf("save_images: %w", err)
	}
	defer root.Close()
	if err := root.MkdirAll(rel, 0o755); err != nil {
		return "", fmt.Errorf("save_images: %w", err)
	}
	ext := extensionFor(format)
	if !addNumber {
		name := filepath.Join(rel, decoration+"."+ext)
		return name, root.WriteFile(name, data, 0o644)
	}
	base, err := nextSequenceNumber(root, rel, basename)
	if err != nil {
		return "", err
	}
	for i := range 500 {
		var fn string
		if basename == "" {
			fn = fmt.Sprintf("%05d", base+i)
		} else {
			fn = fmt.Sprintf("%s-%04d", basename, base+i)
		}
		name := filepath.Join(rel, fn+decoration+"."+ext)
		f, err := root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return "", fmt.Errorf("save_images: %w", err)
		}
		_, werr := f.Write(data)
		if cerr := f.Close(); werr == nil {
			werr = cerr
		}
		if werr != nil {
			return "", fmt.Errorf("save_images: %w", werr)
		}
		return name, nil
	}
	return "", fmt.Errorf("save_images: no free file name in %s", rel)
}

// nextSequenceNumber is images.get_next_sequence_number.
func nextSequenceNumber(root *os.Root, dir, basename string) (int, error) {
	f, err := root.Open(dir)
	if err != nil {
		return 0, fmt.Errorf("save_images: %w", err)
	}
	defer f.Close()
	names, err := f.Readdirnames(-1)
	if err != nil {
		return 0, fmt.Errorf("save_images: %w", err)
	}
	if basename != "" {
		basename += "-"
	}
	result := -1
	for _, n := range names {
		if !strings.HasPrefix(n, basename) {
			continue
		}
		rest := n[len(basename):]
		rest = strings.TrimSuffix(rest, filepath.Ext(rest))
		first, _, _ := strings.Cut(rest, "-")
		if v, err := strconv.Atoi(strings.TrimSpace(first)); err == nil {
			result = max(result, v)
		}
	}
	return result + 1, nil
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// filenameGen is a subset of A1111's images.FilenameGenerator.
type filenameGen struct {
	j        *job
	seed     int64
	prompt   string
	now      time.Time
	maxWords int
}

var (
	rePattern   = regexp.MustCompile(`(.*?)(?:\[([^\[\]]+)\]|$)`)
	reNonLetter = regexp.MustCompile(`[\s!"#$%&'()*+,\-./:;<=>?@\[\\\]^_` + "`" + `{|}~]+`)
)

func (g filenameGen) apply(x string) string {
	var b strings.Builder
	for _, m := range rePattern.FindAllStringSubmatchIndex(x, -1) {
		text := x[m[2]:m[3]]
		if m[4] < 0 {
			b.WriteString(text)
			continue
		}
		pattern := x[m[4]:m[5]]
		if r, ok := g.replace(strings.ToLower(pattern)); ok {
			b.WriteString(text + r)
			continue
		}
		b.WriteString(text + "[" + pattern + "]")
	}
	return b.String()
}

func (g filenameGen) replace(pattern string) (string, bool) {
	p := g.j.p
	switch pattern {
	case "seed":
		return strconv.FormatInt(g.seed, 10), true
	case "prompt":
		return sanitizeFilenamePart(g.prompt, true), true
	case "prompt_spaces":
		return sanitizeFilenamePart(g.prompt, false), true
	case "prompt_words":
		var words []string
		for _, w := range reNonLetter.Split(g.prompt, -1) {
			if w != "" {
				words = append(words, w)
			}
		}
		if len(words) == 0 {
			words = []string{"empty"}
		}
		return sanitizeFilenamePart(strings.Join(words[:min(len(words), max(g.maxWords, 0))], " "), false), true
	case "steps":
		return strconv.Itoa(p.Steps), true
	case "cfg":
		return pyfmt.Float(p.CFGScale), true
	case "width":
		return strconv.Itoa(p.Width), true
	case "height":
		return strconv.Itoa(p.Height), true
	case "sampler":
		return sanitizeFilenamePart(g.j.sampler, true), true
	case "scheduler":
		return sanitizeFilenamePart(g.j.scheduler, true), true
	case "model_name":
		return sanitizeFilenamePart(g.j.model.Name, true), true
	case "model_hash":
		return g.j.model.Hash, true
	case "date":
		return g.now.Format("2006-01-02"), true
	case "datetime":
		return g.now.Format("20060102150405"), true
	case "job_timestamp":
		return g.now.Format("20060102150405"), true
	}
	return "", false
}

// sanitizeFilenamePart is images.sanitize_filename_part.
func sanitizeFilenamePart(text string, replaceSpaces bool) string {
	if replaceSpaces {
		text = strings.ReplaceAll(text, " ", "_")
	}
	text = strings.Map(func(r rune) rune {
		if strings.ContainsRune("#<>:\"/\\|?*\n\r\t", r) {
			return '_'
		}
		return r
	}, text)
	text = strings.TrimLeft(text, " ")
	if r := []rune(text); len(r) > 128 {
		text = string(r[:128])
	}
	return strings.TrimRight(text, " .")
}
