// Dredd 14.1.0 hooks for the smoke check of the reference server (scripts/dredd.sh,
// `make dredd`). Dredd makes one transaction per documented response of
// openapi/sdapi.yaml (172) and sends the request built from the spec's
// examples and defaults. These hooks
//   - shrink the generation requests (64×64, 2 steps) and give image fields a
//     real 8×8 PNG,
//   - turn the 422 transactions into deliberate invalid requests (a JSON array
//     that is no list of pairs where an object is expected; a non-boolean
//     query flag),
//   - skip what a smoke check must not or cannot provoke, each with its reason,
// and print the list of skips at the end (also written to $DREDD_SKIPS_FILE).
//
// Response bodies: Dredd 14's OpenAPI 3 adapter builds no JSON Schema from the
// spec. It generates an example body and Gavel infers a schema from that
// example, which makes every generated key required, ignores nullable and
// turns oneOf into garbage (dredd#1430; on this spec: "Missing required
// property: current_image" on /progress, "expected array" on the txt2img 422).
// So beforeEach hands Gavel the real response schema: the one in
// openapi/sdapi.yaml, $refs inlined and converted to JSON Schema draft 4
// (nullable → type [T, "null"]; format, example and x-* dropped, which
// draft 4's validator would not know). Status code and headers are checked as
// Dredd does by itself.
//
// Transactions whose operation the server answers with 501 Not Implemented
// (probed once in beforeAll with a small valid request) run their documented
// 501 response instead of the 200 one.
const hooks = require('hooks');
const fs = require('fs');
const { responseSchema } = require('./dredd-schema');

// An 8×8 RGB PNG.
const PNG8 =
  'iVBORw0KGgoAAAANSUhEUgAAAAgAAAAICAIAAABLbSncAAAAbElEQVR42hXNQRUAUQhCUaMYhShGeVGIQhSizB+XXA7ODDtouIHBQ4YOM8suWm5h8ZKl+0CskDiBsIioHhx76LiDw0eO3oN/4FVf+J8h0PduzBqZ8x/bxNQPwgaFy192SGgelC0q13/CJaXlA8Z7WAFXOTbyAAAAAElFTkSuQmCC';

const skips = []; // [name, reason]
let server = ''; // base URL, from the first transaction
const probed = {}; // path -> status of a small valid request

function statusOf(t) {
  return Number(t.expected.statusCode);
}

function pathOf(t) {
  return t.request.uri.split('?')[0];
}

function skip(t, reason) {
  t.skip = true;
  skips.push([t.name, reason]);
}

function editBody(t, edit) {
  let body = {};
  try {
    body = JSON.parse(t.request.body || '{}');
  } catch (e) {
    body = {};
  }
  const out = edit(body) || body;
  t.request.body = JSON.stringify(out);
  t.request.headers['Content-Type'] = 'application/json';
}

// Small valid bodies for the operations whose examples are large or wrong.
const small = {
  '/sdapi/v1/txt2img': b => Object.assign(b, {
    prompt: 'dredd smoke', width: 64, height: 64, steps: 2, n_iter: 1, batch_size: 1,
    enable_hr: false, script_name: null, script_args: [], alwayson_scripts: {},
    override_settings: {}, sampler_name: 'Euler', sampler_index: 'Euler', styles: [],
    send_images: true, save_images: false, force_task_id: null, infotext: null,
  }),
  '/sdapi/v1/img2img': b => Object.assign(b, {
    prompt: 'dredd smoke', width: 64, height: 64, steps: 2, n_iter: 1, batch_size: 1,
    init_images: [PNG8], mask: null, script_name: null, script_args: [], alwayson_scripts: {},
    override_settings: {}, sampler_name: 'Euler', sampler_index: 'Euler', styles: [],
    send_images: true, save_images: false, force_task_id: null, infotext: null,
  }),
  '/sdapi/v1/extra-single-image': () => ({ image: PNG8, upscaling_resize: 1, upscaler_1: 'None' }),
  '/sdapi/v1/extra-batch-images': () => ({ imageList: [{ data: PNG8, name: 'a.png' }], upscaling_resize: 1, upscaler_1: 'None' }),
  '/sdapi/v1/png-info': () => ({ image: PNG8 }),
  '/sdapi/v1/interrogate': () => ({ image: PNG8, model: 'clip' }),
  '/sdapi/v1/options': () => ({ samples_format: 'png' }),
  '/internal/progress': () => ({ id_task: 'dredd-no-such-task', id_live_preview: -1, live_preview: false }),
};

// 2xx transactions a smoke check must not run, and why.
const destructive = {
  '/sdapi/v1/server-kill': 'destructive: stops the server (and is disabled without --api-server-stop; its 404 runs)',
  '/sdapi/v1/server-restart': 'destructive: restarts the server (disabled without --api-server-stop; its 404 runs)',
  '/sdapi/v1/server-stop': 'destructive: stops the server (disabled without --api-server-stop; its 404 runs)',
  '/sdapi/v1/unload-checkpoint': 'destructive: unloads the model for every other client of the server',
  '/sdapi/v1/create/embedding': 'destructive: writes an embedding file into the server\'s data dir',
  '/sdapi/v1/create/hypernetwork': 'destructive: writes a hypernetwork file into the server\'s data dir',
  '/sdapi/v1/train/embedding': 'long and destructive: trains an embedding for minutes',
  '/sdapi/v1/train/hypernetwork': 'long and destructive: trains a hypernetwork for minutes',
};

// Operations probed in beforeAll: they may be 501 on the reference server.
const probes = ['/sdapi/v1/extra-single-image', '/sdapi/v1/extra-batch-images', '/sdapi/v1/interrogate'];

const reasonByStatus = {
  401: 'needs a server started with --api-auth; the smoke server runs without it (the conformance suite checks AUTH-001..003)',
  404: 'the operation is served; a 404 cannot be provoked with a valid request',
  413: 'needs a body over the server\'s size limit (megabytes); left to the conformance and limits tests',
  500: 'an internal server error cannot be provoked deliberately',
  501: 'a 501 cannot be provoked: the server implements the operation (the server-* routes are disabled and answer 404 instead)',
  503: 'needs a full job queue (or no model); left to the load tests',
};

hooks.beforeAll((transactions, done) => {
  const t0 = transactions.find(t => t.protocol && t.host);
  if (!t0) return done();
  server = `${t0.protocol}//${t0.host}:${t0.port}`;
  Promise.all(probes.map(async p => {
    try {
      const res = await fetch(server + p, {
        method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(small[p]({})),
      });
      await res.arrayBuffer();
      probed[p] = res.status;
    } catch (e) {
      probed[p] = 0;
    }
  })).then(() => done(), () => done());
});

hooks.beforeEach((t, done) => {
  const schema = responseSchema(t);
  if (schema) t.expected.bodySchema = JSON.stringify(schema);
  const status = statusOf(t);
  const path = pathOf(t);
  const notImplemented = probed[path] === 501;
  if (status >= 200 && status < 300) {
    if (destructive[path]) {
      skip(t, destructive[path]);
    } else if (notImplemented) {
      skip(t, 'the server answers 501 Not Implemented for this operation (probed); its documented 501 response runs instead');
    } else if (small[path]) {
      editBody(t, small[path]);
    }
  } else if (status === 422) {
    // Deliberately invalid: a query flag that is not a boolean, or a JSON
    // array where the body must be an object (FastAPI: type_error.dict). Not
    // [], which pydantic v1 makes an empty dict (dict([])) and accepts.
    // Validation answers before anything runs, so this is safe for the
    // destructive operations too.
    if (t.request.method === 'GET') {
      t.request.uri = path + '?skip_current_image=not-a-boolean';
      t.fullPath = t.request.uri;
    } else {
      t.request.body = '[1]';
      t.request.headers['Content-Type'] = 'application/json';
    }
  } else if (status === 404 && destructive[path] && path.startsWith('/sdapi/v1/server-')) {
    // server-* routes are disabled without --api-server-stop: 404, nothing happens.
  } else if (status === 501 && notImplemented) {
    editBody(t, small[path]);
  } else {
    skip(t, reasonByStatus[status] || `status ${status} cannot be provoked by a smoke check`);
  }
  done();
});

hooks.afterAll((transactions, done) => {
  const byReason = new Map();
  for (const [name, reason] of skips) {
    if (!byReason.has(reason)) byReason.set(reason, []);
    byReason.get(reason).push(name);
  }
  const lines = [`Dredd skips: ${skips.length} of ${transactions.length} transactions`];
  for (const [reason, names] of byReason) {
    lines.push(`- ${reason} (${names.length}):`);
    for (const n of names) lines.push(`    ${n}`);
  }
  const text = lines.join('\n') + '\n';
  process.stdout.write(text);
  if (process.env.DREDD_SKIPS_FILE) fs.writeFileSync(process.env.DREDD_SKIPS_FILE, text);
  done();
});
