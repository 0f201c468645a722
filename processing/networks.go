package processing

// Extra networks per batch, as process_images_inner does them: every
// prompt of the batch loses its <name:...> tags (parse_extra_network_prompts,
// also with disable_extra_networks), the first prompt's LoRA tags are
// activated for the whole batch unless disable_extra_networks is set, and
// the hires pass does the same with its own prompts. Textual-inversion
// embeddings are not extra networks: every loaded one applies wherever
// its name appears, in prompts and negative prompts.

import (
	"log/slog"
	"slices"
	"strings"

	"github.com/sdapi/sdapi/internal/pyfmt"
	"github.com/sdapi/sdapi/processing/extranet"
	"github.com/sdapi/sdapi/runner"
)

// networkState is what the job's activations have decided so far.
type networkState struct {
	// loraHashes is p.lora_hashes: mentioned name → short hash, in order.
	loraHashes []string
	loraHash   map[string]string
	// tiDone is set once the first batch's "TI hashes" are recorded.
	tiDone bool
	// embeddings are the model's loaded embeddings, once per job.
	embeddings []extranet.Embedding
	loaded     bool
}

// embeddingsFor returns the loaded embeddings of the job's model.
func (pr *Processor) embeddingsFor(j *job) []extranet.Embedding {
	if !j.nets.loaded {
		j.nets.loaded = true
		if pr.Embeddings != nil {
			j.nets.embeddings, _ = pr.Embeddings.Split(j.model.EmbeddingWidth)
		}
	}
	return j.nets.embeddings
}

// applyNetworks sets req's prompts without their tags, the LoRAs the batch
// activates and the embeddings; hr is the hires pass (ExtraNetworkLora
// keeps the first pass's hashes and adds the hires pass's).
func (pr *Processor) applyNetworks(j *job, req *runner.Request, hr bool) {
	prompts, data := extranet.ParsePrompts(req.Prompts)
	req.Prompts = prompts
	for _, e := range pr.embeddingsFor(j) {
		req.Embeddings = append(req.Embeddings, e.Runner())
	}
	req.LoRAs = nil
	if j.p.DisableExtraNetworks {
		return
	}
	for name := range data {
		if name != "lora" {
			// lookup_extra_networks: an unregistered network is skipped.
			pr.logger().Info("Skipping unknown extra network: " + name)
		}
	}
	uses, err := extranet.LoraUses(data["lora"])
	if err != nil {
		// A1111's activate raises and errors.display()s it: the batch
		// runs without its LoRAs.
		pr.logger().Error("activating extra network lora", "error", err)
		return
	}
	// sd_lora ("Add network to prompt") adds its LoRA to every prompt of
	// the job, as a tag the infotext shows, unless the batch names it.
	if add := j.jo.sdLora; add != "None" && add != "" && pr.Loras != nil && pr.Loras.HasName(add) &&
		!slices.ContainsFunc(data["lora"], func(p extranet.Params) bool { return len(p.Items) > 0 && p.Items[0] == add }) {
		m := j.jo.defaultMultiplier
		tag := "<lora:" + add + ":" + pyfmt.Float(m) + ">"
		for i := range j.allPrompts {
			j.allPrompts[i] += tag
		}
		uses = append(uses, extranet.LoraUse{Name: add, TE: m, UNet: m})
	}
	if !hr {
		j.nets.loraHashes, j.nets.loraHash = nil, map[string]string{}
	}
	var missing []string
	for _, u := range uses {
		var (
			l  extranet.Lora
			ok bool
		)
		if pr.Loras != nil {
			l, ok = pr.Loras.Lookup(u.Name)
		}
		if !ok {
			missing = append(missing, u.Name)
			continue
		}
		if l.Skip != "" {
			// load_network raised: errors.display, and the network is
			// left out without a comment.
			pr.logger().Error("loading network "+l.Path, "reason", l.Skip)
			continue
		}
		req.LoRAs = append(req.LoRAs, runner.LoRA{Name: u.Name, Path: l.Path, TE: u.TE, UNet: u.UNet, DynDim: u.DynDim})
		if !j.jo.loraHashes {
			continue
		}
		h, err := pr.Loras.ShortHash(l)
		if err != nil || h == "" {
			pr.logger().Warn("lora hash", "path", l.Path, "error", err)
			continue
		}
		key := strings.NewReplacer(":", "", ",", "").Replace(u.Name)
		if _, seen := j.nets.loraHash[key]; !seen {
			j.nets.loraHashes = append(j.nets.loraHashes, key)
		}
		j.nets.loraHash[key] = h
	}
	if len(missing) > 0 {
		// load_networks: "Lora not found: ..." goes to the job's comments
		// (the UI shows them; the API's info does not carry them).
		msg := "Lora not found: " + strings.Join(missing, ", ")
		if j.p.Comments == nil {
			j.p.Comments = map[string]any{}
		}
		j.p.Comments[msg] = 1
		pr.logger().Warn(msg)
	}
	if len(j.nets.loraHashes) > 0 {
		parts := make([]string, len(j.nets.loraHashes))
		for i, k := range j.nets.loraHashes {
			parts[i] = k + ": " + j.nets.loraHash[k]
		}
		j.extra.Set("Lora hashes", strings.Join(parts, ", "))
	}
}

// recordEmbeddings writes "TI hashes" from the first batch's result: the
// prompts' embeddings, then the negative prompts' (A1111 encodes uncond
// first and puts the later call's hashes in front).
func (pr *Processor) recordEmbeddings(j *job, used []string) {
	if j.nets.tiDone || !j.jo.tiHashes {
		return
	}
	j.nets.tiDone = true
	var parts []string
	for _, name := range used {
		e, ok := extranet.Lookup(j.nets.embeddings, name)
		if !ok || e.ShortHash == "" {
			continue
		}
		parts = append(parts, strings.NewReplacer(":", "", ",", "").Replace(name)+": "+e.ShortHash)
	}
	if len(parts) > 0 {
		j.extra.Set("TI hashes", strings.Join(parts, ", "))
	}
}

func (pr *Processor) logger() *slog.Logger {
	if pr.Log != nil {
		return pr.Log
	}
	return slog.New(slog.DiscardHandler)
}
