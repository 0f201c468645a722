// Response schemas for Dredd (scripts/dredd-hooks.js): the schema openapi/sdapi.yaml
// declares for a transaction's response, $refs inlined and converted from
// OpenAPI 3.0 to JSON Schema draft 4 for Gavel. A module of its own so that
// scripts/dredd.sh can load it before Dredd runs: Dredd only warns when a hook
// file fails to load and then runs every transaction unhooked.
const fs = require('fs');
const path = require('path');
// js-yaml comes with dredd (and Prism); resolve it through dredd.
const yaml = require(require.resolve('js-yaml', { paths: [path.dirname(require.resolve('dredd/package.json'))] }));

const SPEC_FILE = process.env.DREDD_SPEC || path.join(__dirname, '..', 'openapi', 'sdapi.yaml');
const spec = yaml.safeLoad(fs.readFileSync(SPEC_FILE, 'utf8'));

function deref(obj) {
  let o = obj;
  for (let i = 0; o && o.$ref && i < 16; i++) {
    o = o.$ref.replace(/^#\//, '').split('/').reduce((x, k) => x && x[k], spec);
  }
  return o;
}

// toDraft4 converts an OpenAPI 3.0 schema object into JSON Schema draft 4.
function toDraft4(schema, depth = 0) {
  if (depth > 40) return {}; // a cycle: accept anything below this depth
  const s = deref(schema);
  if (!s || typeof s !== 'object') return {};
  const out = {};
  for (const [k, v] of Object.entries(s)) {
    if (k.startsWith('x-') || ['nullable', 'format', 'example', 'examples', 'discriminator', 'readOnly',
      'writeOnly', 'xml', 'externalDocs', 'deprecated'].includes(k)) continue;
    if (k === 'properties') {
      out.properties = {};
      for (const [p, ps] of Object.entries(v)) out.properties[p] = toDraft4(ps, depth + 1);
    } else if (k === 'items' || k === 'not' || (k === 'additionalProperties' && typeof v === 'object')) {
      out[k] = toDraft4(v, depth + 1);
    } else if (['allOf', 'anyOf', 'oneOf'].includes(k)) {
      out[k] = v.map(x => toDraft4(x, depth + 1));
    } else {
      out[k] = v;
    }
  }
  if (s.nullable === true) {
    if (out.enum && !out.enum.includes(null)) out.enum = out.enum.concat([null]);
    if (typeof out.type === 'string') return Object.assign(out, { type: [out.type, 'null'] });
    if (!out.type) return { anyOf: [{ type: 'null' }, out] };
  }
  return out;
}

// responseSchema is the draft 4 schema of a transaction's expected body, or
// undefined when the spec declares none.
function responseSchema(t) {
  const [tmpl, , status, mediaType] = t.name.split(' > ');
  const op = ((spec.paths || {})[tmpl] || {})[t.request.method.toLowerCase()];
  const resp = op && deref((op.responses || {})[status]);
  const media = resp && resp.content && (resp.content[mediaType] || Object.values(resp.content)[0]);
  if (!media || !media.schema) return undefined;
  return Object.assign({ $schema: 'http://json-schema.org/draft-04/schema#' }, toDraft4(media.schema));
}

module.exports = { responseSchema, toDraft4, spec };
