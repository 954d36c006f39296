import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import {
  HASHED_FIELDS,
  MISSING_LEAF_HASH,
  canonicalJson,
  contentHash,
  hashCanonical,
  pyFloatRepr,
  pyJsonDumps,
  releaseHash,
  type ReleaseLeaves,
} from '../../src/release/index.js';

/**
 * An independent python3 implementation of §9 (stdlib only), fed the same documents as JSON.
 * If the TypeScript canonicaliser drifts from Python's json.dumps in any way these docs exercise
 * (escapes, key order, floats, normalisation), the digests differ.
 */
const PY_HASH = String.raw`
import hashlib, json, sys, unicodedata
WL = {"id","title","track","level","zone","topic","competency_area","bloom_level","phase","chains","status","scenario","question","details","tags","provenance"}
def norm(o):
    if isinstance(o, str):
        return unicodedata.normalize("NFC", o).replace("\r\n", "\n").replace("\r", "\n").rstrip("\n")
    if isinstance(o, dict):
        return {k: norm(v) for k, v in o.items()}
    if isinstance(o, list):
        return [norm(v) for v in o]
    return o
def canon(o):
    return json.dumps(norm(o), sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
def h(o):
    return hashlib.sha256(canon(o)).hexdigest()
def select(q):
    out = {k: q[k] for k in WL if k in q and q[k] is not None}
    gm = q.get("generation_meta")
    if isinstance(gm, dict):
        sub = {k: gm[k] for k in ("model", "prompt_hash") if gm.get(k) is not None}
        if sub:
            out["generation_meta"] = sub
    return out
inp = json.load(sys.stdin)
hashes = [hashlib.sha256(canon(select(d))).hexdigest() for d in inp["docs"]]
leaves = sorted((d["id"], hh) for d, hh in zip(inp["docs"], hashes))
for name in ("taxonomy", "chains", "zones", "policy"):
    leaves.append(("__%s__" % name, h(inp["leaves"][name]) if inp["leaves"][name] is not None else h({})))
leaves.append(("__canon_version__", hashlib.sha256(b"canon-v2").hexdigest()))
root = hashlib.sha256(b"\n".join(("%s:%s" % l).encode() for l in leaves)).hexdigest()
floats = [repr(float(x)) for x in inp["floats"]]
print(json.dumps({"hashes": hashes, "root": root, "floats": floats, "dumps": json.dumps(inp["docs"], ensure_ascii=True, indent=2)}))
`;

function python(input: unknown): { hashes: string[]; root: string; floats: string[]; dumps: string } {
  const r = spawnSync('python3', ['-c', PY_HASH], { input: JSON.stringify(input), encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`python3 failed: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

const base = (over: Record<string, unknown> = {}): Record<string, unknown> => ({
  schema_version: '1.0',
  id: 'edge-0001',
  track: 'edge',
  level: 'L3',
  zone: 'analyze',
  topic: 'roofline-analysis',
  competency_area: 'compute',
  bloom_level: 'apply',
  phase: 'inference',
  title: 'Synthetic roofline check',
  scenario: 'A synthetic accelerator delivers 10 TFLOP/s and 100 GB/s; a kernel does 20 FLOP per byte.',
  question: 'Is the kernel compute-bound?',
  details: {
    realistic_solution: 'Ridge point 100 FLOP/B; intensity 20 < 100, so memory-bound.',
    common_mistake: null,
    napkin_math: '- Ridge = 10e12 / 100e9 = 100 FLOP/B\n',
  },
  status: 'published',
  provenance: 'llm-draft',
  tags: ['synthetic', 'target-analyze-L3'],
  validated: true,
  created_at: '2026-04-25',
  ...over,
});

const leaves: ReleaseLeaves = { taxonomy: MISSING_LEAF_HASH, chains: MISSING_LEAF_HASH, zones: MISSING_LEAF_HASH, policy: MISSING_LEAF_HASH };

describe('contentHash / releaseHash match the Python original', () => {
  it('agrees with python3 byte for byte on awkward documents, floats and the release root', () => {
    const docs = [
      base(),
      base({ id: 'edge-0002', scenario: 'CRLF line\r\nnext\rlast\n\n\n', title: 'Cafe\u0301 NFD \u00e9 \u6f22\u5b57 \u{1f600}' }),
      base({
        id: 'edge-0003',
        details: {
          realistic_solution: 'controls \u0001\u001f tab\t quote" backslash\\ del\u007f sep\u2028\u2029 slash/',
          options: ['a', 'b', 'c', 'd'],
          correct_index: 2,
          resources: [{ name: 'x', url: 'https://example.org' }],
          nested: { z: null, a: [1, 0.5, 1e-5, 1.5e16, 123456789.125, -0.25, 12345678901234], '\uffff': 1, '\u{1f600}': 2, B: 3, a2: true },
        },
      }),
      base({ id: 'edge-0004', generation_meta: { model: 'm-1', prompt_hash: 'abc', prompt_cost_usd: 0.12 }, chains: [{ id: 'c-1', position: 0 }] }),
      base({ id: 'edge-0005', generation_meta: { prompt_cost_usd: 0.1 }, question: null, phase: null }),
    ];
    const policyRaw = { policy_version: 1, include: { status: ['published'], require_validated: false }, notes: 'v1\r\n' };
    const taxonomyRaw = { topics: [{ id: 'roofline-analysis', tracks: ['edge'] }] };
    const floats = [0.5, 1e-5, 0.0001, 1.5e16, 1e16, 123456789.125, -0.25, 1e-7, 2.5e-300, 1.7976931348623157e308, 0.1 + 0.2];
    const py = python({ docs, leaves: { taxonomy: taxonomyRaw, chains: null, zones: null, policy: policyRaw }, floats });

    expect(docs.map(contentHash)).toEqual(py.hashes);
    const root = releaseHash(
      docs.map((d) => ({ id: d.id as string, contentHash: contentHash(d) })),
      { taxonomy: hashCanonical(taxonomyRaw), chains: MISSING_LEAF_HASH, zones: MISSING_LEAF_HASH, policy: hashCanonical(policyRaw) },
    );
    expect(root).toBe(py.root);
    expect(floats.map(pyFloatRepr)).toEqual(py.floats);
    // The ensure_ascii + indent flavour used for the manifest.
    expect(pyJsonDumps(docs, { indent: 2, ensureAscii: true })).toBe(py.dumps);
  });
});

describe('contentHash', () => {
  it('is the same across CRLF, NFC/NFD, trailing newlines and key order', () => {
    const a = base({ scenario: 'Line one\nCaf\u00e9', details: { realistic_solution: 'x\ny', napkin_math: 'm' } });
    const b: Record<string, unknown> = {};
    for (const k of Object.keys(a).reverse()) b[k] = a[k];
    b.scenario = 'Line one\r\nCafe\u0301\n\n';
    b.details = { napkin_math: 'm\r\n', realistic_solution: 'x\ry' };
    expect(contentHash(b)).toBe(contentHash(a));
  });

  it('changes when any whitelisted field changes', () => {
    const h0 = contentHash(base());
    const seen = new Set([h0]);
    for (const field of HASHED_FIELDS) {
      const changed = base({ [field]: field === 'details' ? { realistic_solution: 'other' } : field === 'tags' || field === 'chains' ? ['other'] : 'other' });
      const h = contentHash(changed);
      expect(h, field).not.toBe(h0);
      seen.add(h);
    }
    expect(seen.size).toBe(HASHED_FIELDS.length + 1);
    expect(contentHash(base({ generation_meta: { model: 'gemini-x' } }))).not.toBe(h0);
    expect(contentHash(base({ details: { ...(base().details as object), extra: null } }))).not.toBe(h0);
  });

  it('ignores fields outside the whitelist, top-level nulls and generation_meta extras', () => {
    const h0 = contentHash(base());
    expect(contentHash(base({ validated: false, validation_model: 'x', last_modified: '2027-01-01', schema_version: '1.1' }))).toBe(h0);
    expect(contentHash(base({ visual: { kind: 'svg', path: 'a.svg', alt: 'x' }, human_reviewed: { status: 'verified' } }))).toBe(h0);
    expect(contentHash(base({ phase: null, bloom_level: null }))).toBe(contentHash((({ phase: _p, bloom_level: _b, ...rest }) => rest)(base())));
    expect(contentHash(base({ generation_meta: { prompt_cost_usd: 1 } }))).toBe(h0);
    const withMeta = contentHash(base({ generation_meta: { model: 'm', prompt_hash: 'p' } }));
    expect(contentHash(base({ generation_meta: { model: 'm', prompt_hash: 'p', prompt_cost_usd: 3, human_reviewed_at: 'x' } }))).toBe(withMeta);
  });

  it('renders a YAML date as its ISO text (the documented decision)', () => {
    // YAML 1.2 (the loader) keeps an unquoted date as its text...
    const fromYaml = parseYaml('id: x\ntitle: t\ndetails:\n  realistic_solution: r\n  seen: 2026-04-25\n') as Record<string, unknown>;
    expect((fromYaml.details as Record<string, unknown>).seen).toBe('2026-04-25');
    // ...and a JS Date, if one arrives, hashes like Pydantic's JSON dump of it.
    const asDate = { ...fromYaml, details: { realistic_solution: 'r', seen: new Date('2026-04-25T00:00:00Z') } };
    expect(contentHash(asDate)).toBe(contentHash(fromYaml));
    expect(canonicalJson({ t: new Date('2026-04-25T10:20:30Z') })).toBe('{"t":"2026-04-25T10:20:30Z"}');
  });
});

describe('releaseHash', () => {
  const qs = [
    { id: 'b-1', contentHash: 'h2' },
    { id: 'a-1', contentHash: 'h1' },
  ];
  it('does not depend on the order of the questions', () => {
    expect(releaseHash(qs, leaves)).toBe(releaseHash([...qs].reverse(), leaves));
  });
  it('changes with the set, a content hash, any leaf, or the canon version', () => {
    const h0 = releaseHash(qs, leaves);
    const variants = [
      releaseHash(qs.slice(1), leaves),
      releaseHash([...qs, { id: 'c-1', contentHash: 'h3' }], leaves),
      releaseHash([qs[0]!, { id: 'a-1', contentHash: 'h1x' }], leaves),
      releaseHash(qs, { ...leaves, taxonomy: hashCanonical({ a: 1 }) }),
      releaseHash(qs, { ...leaves, chains: hashCanonical([]) }),
      releaseHash(qs, { ...leaves, zones: hashCanonical({ z: 1 }) }),
      releaseHash(qs, { ...leaves, policy: hashCanonical({ policy_version: 2 }) }),
      releaseHash(qs, leaves, 3),
    ];
    expect(new Set([h0, ...variants]).size).toBe(variants.length + 1);
  });
});
