package conformance

import (
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	. "github.com/onsi/ginkgo/v2"
)

// Requirement is one numbered check of the catalogue: what a server MUST
// do, the A1111 behaviour it comes from, and what the check needs.
type Requirement struct {
	ID     string
	Labels []string
	// Must is the requirement in MUST wording.
	Must string
	// A1111 cites the upstream behaviour (file, function, or the notes).
	A1111 string
	// Needs names a capability the target must have ("txt2img", "img2img",
	// "extras", "auth"); without it the check is skipped with the reason.
	Needs string
	// ReferenceOnly marks behaviour only the reference server promises;
	// the check runs only under the reference profile.
	ReferenceOnly bool
}

// Requirements is the catalogue, in report order. Every ID is checked by
// at least one conformIt call (requirements_test.go checks it).
var Requirements = []Requirement{
	// Listings, options, flags.
	{ID: "LIST-001", Labels: []string{LListings, LSchema}, Must: "Every listing GET (samplers, schedulers, upscalers, latent-upscale-modes, sd-models, sd-vae, hypernetworks, face-restorers, realesrgan-models, prompt-styles, script-info, extensions, loras) MUST answer 200 with a JSON array whose entries carry the required fields.", A1111: "modules/api/api.py get_* routes; upstream test_utils.py test_get_api_url expects 200"},
	{ID: "LIST-002", Labels: []string{LListings, LSchema}, Must: "GET /embeddings MUST answer {loaded:{...}, skipped:{...}} with objects keyed by embedding name.", A1111: "api.py get_embeddings"},
	{ID: "LIST-003", Labels: []string{LListings, LSchema}, Must: "GET /scripts MUST answer {txt2img:[names], img2img:[names]}.", A1111: "api.py get_scripts_list"},
	{ID: "LIST-004", Labels: []string{LListings}, Must: "Sampler names MUST be unique and non-empty, and each sampler's aliases MUST be strings.", A1111: "sd_samplers.all_samplers; clients pick sampler_name from this list"},
	{ID: "LIST-005", Labels: []string{LListings, LSchema}, Must: "Every value of a /samplers entry's options MUST be a JSON string (\"True\", \"karras\").", A1111: "models.py SamplerItem options: dict[str, str]; pydantic v1 turns True into \"True\""},
	{ID: "OPT-001", Labels: []string{LOptions, LSchema}, Must: "GET /options MUST answer a JSON object carrying at least sd_model_checkpoint and samples_format.", A1111: "api.py get_config: every key of opts.data (SillyTavern and text-generation-webui read sd_model_checkpoint)"},
	{ID: "OPT-002", Labels: []string{LOptions}, Must: "A value POSTed to /options MUST be visible in the next GET /options, and writing the old value back MUST restore it.", A1111: "upstream test_utils.py test_options_write toggles send_seed"},
	{ID: "OPT-003", Labels: []string{LOptions, LErrors}, Must: "POST /options with an unknown key MUST NOT succeed silently (A1111 answers 500 KeyError) and the key MUST NOT appear in GET /options.", A1111: "shared.opts.set raises KeyError; api.py set_config"},
	{ID: "OPT-004", Labels: []string{LOptions, LTxt2Img, LGeneration}, Needs: "txt2img", Must: "override_settings MUST apply to that one request (visible in its infotext) and MUST be gone afterwards (GET /options unchanged).", A1111: "processing.process_images: override_settings applied, restored in finally when override_settings_restore_afterwards"},
	{ID: "OPT-005", Labels: []string{LOptions, LListings}, Must: "GET /options sd_model_checkpoint MUST name the loaded model by a title that GET /sd-models lists.", A1111: "sd_models.load_model sets opts.data['sd_model_checkpoint'] = checkpoint_info.title; api.py get_sd_models lists each title"},
	{ID: "FLAGS-001", Labels: []string{LOptions, LSchema}, Must: "GET /cmd-flags MUST answer a JSON object of the server's flags.", A1111: "api.py get_cmd_flags: vars(cmd_opts)"},
	{ID: "HDR-001", Labels: []string{LStatus}, Must: "Every API response MUST carry an X-Process-Time header.", A1111: "api.py api_middleware log_and_time"},
	{ID: "REF-001", Labels: []string{LAuth, LReference}, ReferenceOnly: true, Must: "GET /cmd-flags MUST NOT reveal the --api-auth credentials (the reference server redacts them; A1111 shows vars(cmd_opts) verbatim).", A1111: "reference-server behaviour; A1111 differs"},

	// Errors and negative data.
	{ID: "ERR-001", Labels: []string{LErrors, LStatus}, Must: "An unknown path MUST answer 404 {\"detail\":\"Not Found\"}.", A1111: "Starlette 404 (not caught by api_middleware)"},
	{ID: "ERR-002", Labels: []string{LErrors, LStatus}, Must: "A known path with the wrong method MUST answer 405 {\"detail\":\"Method Not Allowed\"}.", A1111: "Starlette 405"},
	{ID: "ERR-003", Labels: []string{LErrors, LNegative}, Must: "Malformed JSON on a request body MUST be refused with 422 in FastAPI's shape {detail:[{loc,msg,type}]}, loc starting with \"body\".", A1111: "FastAPI request validation (value_error.jsondecode, loc [body, 0])"},
	{ID: "ERR-004", Labels: []string{LErrors, LNegative}, Must: "A body property of the wrong JSON type (generated from the request schema) MUST be refused with 422 whose detail names the property in loc [\"body\", name].", A1111: "pydantic v1 model validation (type_error.*)"},
	{ID: "ERR-005", Labels: []string{LErrors, LNegative}, Must: "A body property outside its enum or its minimum/maximum MUST be refused with 422 whose detail names the property in loc.", A1111: "pydantic Field(ge=, le=) and Literal/enum constraints in models.py (extras)"},
	{ID: "ERR-006", Labels: []string{LErrors, LNegative}, Must: "A request body that is missing or that pydantic v1 cannot make a dict of (a string, a list that is not of pairs) MUST be refused with 422 in FastAPI's shape.", A1111: "FastAPI: value_error.missing / type_error.dict with loc [body]; pydantic v1 Model.validate tries dict(value), so [] is {} and accepted"},
	{ID: "ERR-007", Labels: []string{LErrors, LPNGInfo}, Must: "Unknown JSON keys in a request body MUST be ignored, not refused.", A1111: "pydantic v1 default Extra.ignore (sdapi-contract §4.1)"},
	{ID: "ERR-008", Labels: []string{LErrors, LPNGInfo}, Must: "An undecodable image MUST be refused with a 4xx/5xx in A1111's error shape {error, detail, body, errors}, never 200.", A1111: "api.py decode_base64_to_image raises HTTPException(500, 'Invalid encoded image'); api_middleware handle_exception"},

	// png-info.
	{ID: "PNG-001", Labels: []string{LPNGInfo}, Must: "png-info on a PNG without metadata MUST answer 200 with info \"\".", A1111: "api.py pnginfoapi: geninfo or \"\""},
	{ID: "PNG-002", Labels: []string{LPNGInfo, LInfotext}, Must: "png-info on a PNG with a parameters text chunk MUST return that text as info and parse it as parse_generation_parameters does (string values, Size-1/Size-2, defaults such as Clip skip \"1\").", A1111: "infotext_utils.parse_generation_parameters"},

	// Coverage.
	{ID: "COV-001", Labels: []string{LCoverage, LSchema, LStatus}, Must: "Every operation of the contract MUST answer a valid request with a declared 2xx status and a body matching its schema.", A1111: "the /sdapi/v1 route table of api.py (sdapi-contract §3)"},

	// Auth.
	{ID: "AUTH-001", Labels: []string{LAuth}, Needs: "auth", Must: "With --api-auth, a request without credentials MUST answer 401.", A1111: "api.py auth dependency: HTTPBasic 'Not authenticated'"},
	{ID: "AUTH-002", Labels: []string{LAuth}, Needs: "auth", Must: "With --api-auth, a request with a wrong password MUST answer 401.", A1111: "api.py auth: HTTPException(401, 'Incorrect username or password')"},
	{ID: "AUTH-003", Labels: []string{LAuth}, Needs: "auth", Must: "With --api-auth, a request with the right credentials MUST answer 200.", A1111: "api.py auth"},

	// Progress, interrupt, skip.
	{ID: "PROG-001", Labels: []string{LProgress, LSchema}, Must: "GET /progress when idle MUST answer 200 with progress 0, eta_relative 0 and state.job_count 0.", A1111: "api.py progressapi: early return when job_count == 0"},
	{ID: "PROG-002", Labels: []string{LProgress, LRouting, LSlow, LGeneration}, Needs: "txt2img", Must: "While a generation runs, /progress MUST answer without waiting for it, show the job with state.sampling_step advancing up to state.sampling_steps, and go back to idle afterwards.", A1111: "progressapi does not take queue_lock; shared.state sampling_step/sampling_steps"},
	{ID: "PROG-003", Labels: []string{LProgress, LRouting, LSlow, LGeneration}, Needs: "txt2img", Must: "A generation with force_task_id MUST be reported by POST /internal/progress for that id: active or queued while it runs, completed afterwards.", A1111: "modules/progress.py progressapi; api.py uses force_task_id as the task id (v1.7+)"},
	{ID: "PROG-004", Labels: []string{LProgress, LSchema}, Must: "GET /progress MUST send current_image and textinfo as null when they are empty, never leave them out.", A1111: "api.py progressapi returns models.ProgressResponse; pydantic serialises its Optional fields current_image and textinfo as null"},
	{ID: "INT-001", Labels: []string{LInterrupt}, Must: "POST /interrupt and POST /skip when idle MUST answer 200 ({} and null).", A1111: "api.py interruptapi / skip"},
	{ID: "INT-002", Labels: []string{LInterrupt, LRouting, LSlow, LGeneration}, Needs: "txt2img", Must: "POST /interrupt during a generation MUST answer at once and end the job early: /progress shows sampling stop within two steps of the interrupt, before the last step, and the generation answers 200.", A1111: "shared.state.interrupt(); the sampler callback raises InterruptedException after the step in progress when state.interrupted"},
	{ID: "INT-003", Labels: []string{LInterrupt, LRouting, LSlow, LGeneration}, Needs: "txt2img", Must: "POST /skip during a generation MUST answer at once without waiting for the job, and the job MUST still complete with 200.", A1111: "api.py skip does not take queue_lock"},

	{ID: "INT-004", Labels: []string{LInterrupt, LRouting, LSlow, LGeneration}, Needs: "txt2img", Must: "POST /interrupt during sampling MUST make the generation return the partly denoised image(s) of the current batch (batch_size images of width×height, with infotexts), not an empty list.", A1111: "sd_samplers_common.Sampler.launch_sampling catches InterruptedException and returns self.last_latent, which process_images_inner decodes like a finished batch"},

	// txt2img.
	{ID: "TXT2IMG-001", Labels: []string{LTxt2Img, LSchema, LGeneration}, Needs: "txt2img", Must: "A minimal txt2img request MUST answer 200 with images as plain base64 PNG (no data: prefix), parameters an object and info a JSON string.", A1111: "api.py text2imgapi; encode_pil_to_base64; Processed.js()"},
	{ID: "TXT2IMG-002", Labels: []string{LTxt2Img, LGeneration}, Needs: "txt2img", Must: "Every returned image MUST decode to exactly width×height pixels.", A1111: "processing.StableDiffusionProcessingTxt2Img"},
	{ID: "TXT2IMG-003", Labels: []string{LTxt2Img, LInfotext, LGeneration}, Needs: "txt2img", Must: "The requested steps, cfg_scale and sampler MUST appear in the infotext (Steps:, CFG scale:, Sampler:).", A1111: "processing.create_infotext"},
	{ID: "TXT2IMG-004", Labels: []string{LTxt2Img, LGeneration}, Needs: "txt2img", Must: "parameters MUST echo the requested values (prompt, steps, width, height, seed) as vars(request).", A1111: "api.py text2imgapi returns TextToImageResponse(parameters=vars(txt2imgreq))"},
	{ID: "TXT2IMG-005", Labels: []string{LTxt2Img, LInfotext, LGeneration}, Needs: "txt2img", Must: "info MUST be a JSON object string carrying prompt, seed, all_seeds, subseed, all_subseeds, width, height, sampler_name, cfg_scale, steps, batch_size and infotexts (one per image).", A1111: "processing.Processed.js()"},
	{ID: "TXT2IMG-006", Labels: []string{LTxt2Img, LErrors, LGeneration}, Needs: "txt2img", Must: "Unknown JSON keys, null for optional fields and an unknown sampler_name MUST be accepted (200, not 422; 1.10 falls back to the first sampler).", A1111: "models.py: every field Optional; pydantic v1 ignores extra keys; sd_samplers.get_sampler_and_scheduler falls back to samplers[0]"},
	{ID: "TXT2IMG-007", Labels: []string{LTxt2Img, LSeeds, LGeneration}, Needs: "txt2img", Must: "batch_size×n_iter images MUST be returned (no grid with the default save_images false).", A1111: "processing.process_images_inner batch loop; api.py do_not_save_grid = not save_images"},
	{ID: "TXT2IMG-008", Labels: []string{LTxt2Img, LGeneration}, Needs: "txt2img", Must: "send_images false MUST return images [] (or null) while info still describes the generation.", A1111: "api.py text2imgapi: b64images = list(...) if send_images else []"},

	{ID: "TXT2IMG-009", Labels: []string{LTxt2Img, LGeneration}, Needs: "txt2img", Must: "A txt2img request whose prompt is \"\" or missing MUST be accepted (200, one image).", A1111: "processing.StableDiffusionProcessing prompt: str = \"\"; models.py PydanticModelGenerator keeps that default"},
	{ID: "TXT2IMG-010", Labels: []string{LTxt2Img, LInfotext, LGeneration}, Needs: "txt2img", Must: "Sizes that are not multiples of 64 MUST be generated, not refused: for multiples of 8 (72×96, and 56×40 below 64) the image MUST decode to exactly width×height and info and the infotext's Size MUST say the same; for other sizes (100×68) the image's size MUST equal what info and the infotext report, or be A1111's (each side rounded down to a multiple of 8 while info reports the request).", A1111: "process_images_inner: rng.ImageRNG((4, height // 8, width // 8)) so the decoded image is 8·⌊w/8⌋×8·⌊h/8⌋; sd_hijack_unet cat() interpolates odd latent sizes; Processed.js width/height and create_infotext Size are p.width×p.height"},
	{ID: "TXT2IMG-011", Labels: []string{LTxt2Img, LGeneration}, Needs: "txt2img", Must: "batch_size 16 MUST return exactly 16 images and batch_size 3 × n_iter 2 exactly 6 (neither silently clamped nor ignored).", A1111: "processing.process_images_inner runs n_iter batches of batch_size images; models.py sets no upper bound on batch_size or n_iter"},
	{ID: "TXT2IMG-012", Labels: []string{LTxt2Img, LInfotext, LListings, LGeneration}, Needs: "txt2img", Must: "info.sampler_name and the infotext's Sampler: MUST name the sampler that was asked for by its /samplers name (matched to that listed name or its aliases without regard to case), never a fallback such as \"default\" or the first sampler.", A1111: "sd_samplers.get_sampler_and_scheduler resolves p.sampler_name; Processed.js sampler_name = p.sampler_name; create_infotext 'Sampler': p.sampler_name"},
	{ID: "TXT2IMG-013", Labels: []string{LTxt2Img, LOptions, LInfotext, LGeneration}, Needs: "txt2img", Must: "tiling, restore_faces and override_settings MUST take effect or be refused with an error, never be accepted and ignored: tiling true MUST change the image and write 'Tiling: True'; restore_faces true MUST write 'Face restoration:'; override_settings CLIP_stop_at_last_layers 3 (with sdxl_clip_l_skip true, without which A1111 ignores clip skip on SDXL) MUST give a different image from CLIP_stop_at_last_layers 1 and write 'Clip skip: 3'.", A1111: "processing.process_images_inner: model_hijack.apply_circular(p.tiling), face_restoration.restore_faces when p.restore_faces; process_images applies override_settings with opts.set; sd_hijack_clip encode_with_transformers hidden_states[-CLIP_stop_at_last_layers] (SDXL CLIP-L only when opts.sdxl_clip_l_skip); create_infotext Tiling, Face restoration, Clip skip"},
	{ID: "ERR-009", Labels: []string{LErrors, LTxt2Img, LGeneration}, Needs: "txt2img", Must: "null MUST be accepted (200) for every field A1111's request model declares Optional (styles, seed, subseed, sampler_name, scheduler, eta, script_name, override_settings; img2img mask) and MUST be refused with 422 naming the field where it is not (sampler_index, script_args, send_images, save_images, alwayson_scripts; img2img denoising_strength, include_init_images).", A1111: "models.py PydanticModelGenerator: field_type_generator makes every dataclass field Optional; the additional fields sampler_index: str, script_args: list, send_images: bool, save_images: bool, alwayson_scripts: dict, denoising_strength: float, include_init_images: bool are not, so pydantic v1 answers type_error.none.not_allowed"},
	{ID: "ERR-010", Labels: []string{LErrors, LTxt2Img, LGeneration}, Needs: "txt2img", Must: "Values pydantic v1 coerces MUST be accepted as A1111 accepts them: \"steps\": \"4\", \"cfg_scale\": \"7.5\" and \"restore_faces\": \"false\" give 200 with Steps: 4 and CFG scale: 7.5 in the infotext.", A1111: "pydantic v1 (A1111 pins 1.10.x) coerces numeric strings to int/float and 'false'/'true' to bool in StableDiffusionTxt2ImgProcessingAPI"},
	{ID: "ERR-011", Labels: []string{LErrors, LTxt2Img, LGeneration}, Needs: "txt2img", Must: "A request body sent without a Content-Type header MUST be parsed as JSON (200), as FastAPI 0.94 does.", A1111: "fastapi/routing.py get_request_handler (0.94, pinned by A1111 1.10): a body without Content-Type is read with json_body = await request.json()"},
	{ID: "CORS-001", Labels: []string{LStatus}, Must: "Without configured CORS origins (A1111's default), a request or preflight carrying an arbitrary Origin MUST NOT get Access-Control-Allow-Origin for it (neither the origin nor *), and MUST NEVER get Access-Control-Allow-Credentials: true together with the reflected origin.", A1111: "modules/initialize_util.py configure_cors_middleware: Starlette CORSMiddleware with allow_credentials True and allow_origins only from --cors-allow-origins/--cors-allow-origins-regex"},

	// Seeds and determinism.
	{ID: "SEED-001", Labels: []string{LSeeds, LDeterminism, LGeneration}, Needs: "txt2img", Must: "The same request with a fixed seed MUST give the same pixels twice (largest pixel difference within the profile's tolerance; exact match reported).", A1111: "processing: noise from rng.ImageRNG(seeds)"},
	{ID: "SEED-002", Labels: []string{LSeeds, LDeterminism, LGeneration}, Needs: "txt2img", Must: "Different seeds MUST give different images.", A1111: "processing: per-seed noise"},
	{ID: "SEED-003", Labels: []string{LSeeds, LDeterminism, LGeneration}, Needs: "txt2img", Must: "seed -1 MUST come back resolved in info.seed (0 ≤ seed < 2³²−2), and re-sending that seed MUST reproduce the image.", A1111: "processing.get_fixed_seed: random.randrange(4294967294)"},
	{ID: "SEED-004", Labels: []string{LSeeds, LGeneration}, Needs: "txt2img", Must: "With a fixed seed and subseed_strength 0, info.all_seeds[i] MUST be seed+i and info.seed MUST be all_seeds[0].", A1111: "process_images_inner: all_seeds = [seed + i ...]"},
	{ID: "SEED-005", Labels: []string{LSeeds, LDeterminism, LGeneration}, Needs: "txt2img", Must: "Image i of a batch MUST equal a single-image run with seed+i (within the profile's tolerance).", A1111: "process_images_inner: iteration n uses all_seeds[n*batch_size:(n+1)*batch_size]"},
	{ID: "SEED-006", Labels: []string{LSeeds, LDeterminism, LGeneration}, Needs: "txt2img", Must: "Subseed variation MUST change the image gradually: the difference from the strength-0 image MUST grow with subseed_strength, all_seeds MUST stay at the base seed and all_subseeds MUST be subseed+i.", A1111: "rng.ImageRNG slerp(subseed_strength, noise, subnoise); all_subseeds"},
	{ID: "SEED-007", Labels: []string{LSeeds, LGeneration}, Needs: "txt2img", Must: "seed -1 in two concurrent requests MUST resolve to two different seeds (info.seed).", A1111: "processing.get_fixed_seed: random.randrange(4294967294) for each request"},
	{ID: "SEED-008", Labels: []string{LSeeds, LDeterminism, LGeneration}, Needs: "txt2img", Must: "The same explicit seed at steps N and N+1 MUST give different images (steps is not silently clamped), for N = 3 and N = 80.", A1111: "sd_samplers_kdiffusion: sigmas = get_sigmas(p, steps), so one more step changes the schedule; models.py sets no upper bound on steps"},

	// Infotext and metadata.
	{ID: "INFO-001", Labels: []string{LInfotext, LSeeds, LGeneration}, Needs: "txt2img", Must: "Each info.infotexts[i] MUST parse (A1111's regex) back to the request's prompt, negative prompt, steps, sampler, CFG scale, size and that image's seed all_seeds[i].", A1111: "processing.create_infotext / infotext_utils.parse_generation_parameters"},
	{ID: "INFO-002", Labels: []string{LInfotext, LPNGInfo, LGeneration}, Needs: "txt2img", Must: "Each returned PNG MUST carry a parameters text chunk equal to its infotext.", A1111: "api.py encode_pil_to_base64 copies image.info into PngInfo; process_images_inner sets image.info['parameters']"},
	{ID: "INFO-003", Labels: []string{LInfotext, LPNGInfo, LGeneration}, Needs: "txt2img", Must: "png-info on a returned PNG MUST answer info equal to its infotext, with parameters parsed from it.", A1111: "api.py pnginfoapi; images.read_info_from_image"},

	// A1111's own HTTP tests.
	{ID: "UPSTREAM-001", Labels: []string{LTxt2Img, LGeneration}, Needs: "txt2img", Must: "Every request body of A1111's test/test_txt2img.py (simple, negative prompt, complex prompt, 64×128, hires fix, tiling, batch_size 2, n_iter 2, PLMS, DDIM, UniPC) MUST answer 200 with the requested images; restore_faces MUST be applied (recorded in the infotext) or refused in A1111's error shape naming face restoration.", A1111: "test/test_txt2img.py; processing.process_images_inner (tiling, restore_faces)"},
	{ID: "UPSTREAM-002", Labels: []string{LImg2Img, LGeneration}, Needs: "img2img", Must: "Every request body of A1111's test/test_img2img.py (simple, masked, inverted mask, sd upscale ×2) MUST answer 200 with one image of the expected size.", A1111: "test/test_img2img.py; scripts/sd_upscale.py"},

	// img2img and extras.
	{ID: "IMG2IMG-001", Labels: []string{LImg2Img, LGeneration}, Needs: "img2img", Must: "img2img with an init image and a mask MUST answer 200 with one image of width×height per requested sample.", A1111: "api.py img2imgapi; test/test_img2img.py with mask"},
	{ID: "IMG2IMG-002", Labels: []string{LImg2Img, LGeneration}, Needs: "img2img", Must: "img2img MUST accept init images given as data:image/png;base64 URIs.", A1111: "api.py decode_base64_to_image strips data: prefixes; upstream conftest always sends them"},
	{ID: "IMG2IMG-003", Labels: []string{LImg2Img, LErrors, LGeneration}, Needs: "img2img", Must: "img2img without init_images MUST be refused with 404 'Init image not found' in A1111's error shape.", A1111: "api.py img2imgapi: raise HTTPException(404, 'Init image not found')"},
	{ID: "IMG2IMG-004", Labels: []string{LImg2Img, LGeneration}, Needs: "img2img", Must: "img2img MUST depend on its init image: with a mask (mask_blur 0) the pixels outside it MUST be the init image's, a different init image MUST give a different result, and at denoising_strength 0.2 the result MUST be measurably closer to the init image than the txt2img image of the same seed is (judged where the model brings img2img nearer its init image than its txt2img at all; a random-weight model does not).", A1111: "processing.py StableDiffusionProcessingImg2Img.init encodes init_images into init_latent and keeps overlay_images (the init image outside the mask); sample() starts from init_latent plus noise at the sigma of step (1-denoising_strength)·steps (sd_samplers_kdiffusion sample_img2img); process_images_inner apply_overlay pastes the overlay back"},
	{ID: "IMG2IMG-005", Labels: []string{LImg2Img, LErrors, LGeneration}, Needs: "img2img", Must: "An undecodable init_images entry or mask MUST be refused with an error in A1111's error shape (A1111: 500 'Invalid encoded image'), never answered 200.", A1111: "api.py img2imgapi decodes init_images and mask with decode_base64_to_image, which raises HTTPException(500, 'Invalid encoded image')"},
	{ID: "EXTRAS-001", Labels: []string{LExtras}, Needs: "extras", Must: "extra-single-image with upscaling_resize 2 MUST return one image twice the input's size.", A1111: "postprocessing.run_extras; upstream test_extras.py (Lanczos, resize 2)"},
	{ID: "EXTRAS-002", Labels: []string{LExtras}, Needs: "extras", Must: "extra-single-image with resize_mode 1 MUST return an image of exactly upscaling_resize_w×upscaling_resize_h.", A1111: "scripts/postprocessing_upscale.py (upscale_to)"},
	{ID: "EXTRAS-003", Labels: []string{LExtras}, Needs: "extras", Must: "extra-batch-images MUST return one resized image per entry of imageList.", A1111: "api.py extras_batch_images_api"},
}

var requirementIndex = func() map[string]Requirement {
	m := map[string]Requirement{}
	for _, r := range Requirements {
		if _, dup := m[r.ID]; dup {
			panic("conformance: duplicate requirement " + r.ID)
		}
		labelsOf(r.Labels...) // vocabulary check
		m[r.ID] = r
	}
	return m
}()

// requirement returns the catalogue entry for id.
func requirement(id string) Requirement {
	r, ok := requirementIndex[id]
	if !ok {
		panic("conformance: unknown requirement " + id)
	}
	return r
}

// specState is the running check: what its failures are annotated with
// and the profile claim that covers it.
type specState struct {
	req  Requirement
	last atomic.Pointer[Exchange] // the most recent exchange sent, for the curl line
	done atomic.Pointer[Exchange] // the most recent exchange completed, for the claim
	// kind is "" when no divergence or not-applicable claim covers the
	// check; judged is set once the claim has been settled.
	kind   ClaimKind
	key    string
	claim  Claim
	judged atomic.Bool
}

// conformIt is It for a catalogued requirement: the spec's name starts with
// the ID, it carries the requirement's labels plus the ID as a label, the
// requirement is attached as a report entry, and the body runs only when the
// profile says the check applies.
func (suite *Suite) conformIt(id, text string, args ...any) bool {
	r := requirement(id)
	decorators, body := splitBody(args)
	decorators = append(decorators, labelsOf(r.Labels...), Label(r.ID), Offset(1))
	if !hasSpecTimeout(decorators) {
		decorators = append(decorators, SpecTimeout(5*time.Minute))
	}
	return It(r.ID+" "+text, append(decorators, func(ctx SpecContext) { suite.runRequirement(ctx, r, body) })...)
}

// splitBody separates the decorators from the body of a conformIt call.
func splitBody(args []any) ([]any, func(SpecContext)) {
	var rest []any
	var body func(SpecContext)
	for _, a := range args {
		if f, ok := a.(func(SpecContext)); ok {
			body = f
			continue
		}
		rest = append(rest, a)
	}
	if body == nil {
		panic("conformance: conformIt needs a func(SpecContext) body")
	}
	return rest, body
}

func hasSpecTimeout(args []any) bool {
	return slices.ContainsFunc(args, func(a any) bool { _, ok := a.(SpecTimeout); return ok })
}

// runRequirement runs body for r under the run's profile; the profile's
// claims are checked, not believed (claims.go runUnderProfile). What the
// check saw goes into its report when it has ended, after its own
// cleanups (DeferCleanup runs last what it was given first).
func (suite *Suite) runRequirement(ctx SpecContext, r Requirement, body func(SpecContext)) {
	run := &specState{req: r}
	DeferCleanup(suite.flush)
	suite.current.Store(run)
	defer suite.current.CompareAndSwap(run, nil)
	AddReportEntry("requirement", r.ID+": "+r.Must, ReportEntryVisibilityFailureOrVerbose)
	suite.runUnderProfile(ctx, run, body)
}

// Fail is the Gomega fail handler of the run: Run registers it, and so
// must an entry point that calls RunSpecs itself. The message starts with
// one sentence saying what was expected and what was seen (at most 300
// characters), then names the violated requirement, then the detail (long
// detail, base64 and pixel dumps go to an evidence file named in the
// message), and ends with a curl line that reproduces the check's last
// exchange.
func (suite *Suite) Fail(message string, callerSkip ...int) {
	skip := 1
	if len(callerSkip) > 0 {
		skip += callerSkip[0]
	}
	s := suite.current.Load()
	id, claim := "", ""
	if s != nil {
		id = s.req.ID
		claim = suite.judgeFailure(s, message, skip) // a profile claim observed: skips here
	}
	head, detail := suite.summarize(id, message)
	var b strings.Builder
	b.WriteString(claim) // a claim that did not hold leads, naming what was seen
	b.WriteString(head)
	if s != nil {
		fmt.Fprintf(&b, "\n%s violated: %s\n(A1111: %s)", s.req.ID, s.req.Must, s.req.A1111)
	}
	if detail != "" {
		fmt.Fprintf(&b, "\n\n%s", detail)
	}
	if s != nil {
		if saved := suite.saveBody(id, s.last.Load()); saved != "" {
			fmt.Fprintf(&b, "\n%s", saved)
		}
		if last := s.last.Load(); last != nil && !strings.Contains(message, "Reproduce with:") {
			fmt.Fprintf(&b, "\n\nReproduce with:\n  %s", last.Curl())
		}
	}
	Fail(b.String(), skip)
}

func firstLines(s string, n int) string {
	lines := strings.SplitN(s, "\n", n+1)
	if len(lines) > n {
		lines = append(lines[:n], "…")
	}
	return strings.Join(lines, "\n")
}
