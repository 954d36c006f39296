/**
 * Per-question content hash and the release hash (SEED-SPEC §9, the original's CANON_VERSION 2).
 * Same inputs give the same hex digests as the original Python tools; the unit test runs a
 * python3 re-implementation beside this one to prove it.
 *
 * Decisions where the Python and the JS inputs differ (documented, tested):
 * - Input is the document as read from YAML (src/corpus/loader.ts), not a schema-filled dump:
 *   a field the file lacks is absent, so Pydantic defaults (e.g. `details.napkin_math: null`
 *   added by `model_dump`) are not invented. Nulls the file itself holds inside `details` are kept.
 * - YAML dates. The loader reads YAML 1.2 (core schema), where `2026-04-25` is the string
 *   "2026-04-25" — exactly what the original hashed, since it fed Pydantic's JSON-mode dump
 *   (date → ISO string). If a caller passes a JS `Date` (YAML 1.1 timestamp tag), it is rendered
 *   as Pydantic would: `YYYY-MM-DD` at UTC midnight, else `YYYY-MM-DDTHH:MM:SS[.mmm]Z`.
 * - Numbers: the YAML parser gives `1.0` and `1` the same JS number; integral values hash as
 *   Python ints (`1`), others with Python's float repr. A hashed field holding an integral float
 *   would hash as `1` here and `1.0` in Python; no whitelisted field is a float in the schema.
 * - Like the original, strings are NFC/LF-normalised as values; mapping keys are left as they are.
 */
import { createHash } from 'node:crypto';
import { PLACEMENT_FIELDS } from '../corpus/taxonomy.js';
import { compareCodePoints, dateText, pyJsonDumps } from './pyjson.js';
import { isMapping } from '../util/mapping.js';

export const CANON_VERSION = 2;

export const HASHED_FIELDS = [
  'id',
  'title',
  ...PLACEMENT_FIELDS,
  'chains',
  'status',
  'scenario',
  'question',
  'details',
  'tags',
  'provenance',
] as const;

export const HASHED_GENERATION_META_FIELDS = ['model', 'prompt_hash'] as const;

function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/** A mapping to hash key by key: not a date or a Map, which hash as their own values. */
const isPlainObject = (v: unknown): v is Record<string, unknown> => isMapping(v) && !(v instanceof Date) && !(v instanceof Map);

/** NFC, CRLF/CR → LF, trailing newlines stripped, on every string value (recursively). */
export function normalizeStrings(value: unknown): unknown {
  if (typeof value === 'string') return value.normalize('NFC').replace(/\r\n?/g, '\n').replace(/\n+$/, '');
  if (value instanceof Date) return dateText(value);
  if (Array.isArray(value)) return value.map(normalizeStrings);
  if (value instanceof Map) return normalizeStrings(Object.fromEntries([...value.entries()].map(([k, v]) => [String(k), v])));
  if (isPlainObject(value)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = normalizeStrings(v);
    return out;
  }
  return value;
}

/** Canonical JSON: keys sorted recursively by code point, `,` `:` separators, UTF-8 kept. */
export function canonicalJson(value: unknown): string {
  return pyJsonDumps(normalizeStrings(value), { sortKeys: true, ensureAscii: false, separators: [',', ':'] });
}

/** sha256 hex of the canonical JSON of any parsed YAML/JSON value (the Merkle leaves). */
export function hashCanonical(value: unknown): string {
  return sha256Hex(canonicalJson(value));
}

/** The whitelisted, non-null top-level fields, with generation_meta reduced to {model, prompt_hash}. */
export function hashedSubset(doc: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of HASHED_FIELDS) {
    const v = doc[key];
    if (v !== null && v !== undefined) out[key] = v;
  }
  const gm = doc.generation_meta;
  if (isPlainObject(gm)) {
    const subset: Record<string, unknown> = {};
    for (const key of HASHED_GENERATION_META_FIELDS) {
      if (gm[key] !== null && gm[key] !== undefined) subset[key] = gm[key];
    }
    if (Object.keys(subset).length > 0) out.generation_meta = subset;
  }
  return out;
}

/** sha256 hex of the canonical JSON of a question's semantic fields. */
export function contentHash(doc: Readonly<Record<string, unknown>>): string {
  return hashCanonical(hashedSubset(doc));
}

/** The four structural leaves, each a `hashCanonical` of its parsed file (`{}` when the file is missing). */
export interface ReleaseLeaves {
  taxonomy: string;
  chains: string;
  zones: string;
  policy: string;
}

export interface QuestionLeaf {
  id: string;
  contentHash: string;
}

/** The canonical hash of a missing leaf file. */
export const MISSING_LEAF_HASH = hashCanonical({});

/**
 * Merkle-style root: sorted (id, content_hash) pairs, then the structural leaves and the
 * canonicaliser version, as `id:hash` lines joined by "\n".
 */
export function releaseHash(questions: Iterable<QuestionLeaf>, leaves: ReleaseLeaves, canonVersion = CANON_VERSION): string {
  const pairs = [...questions].map((q) => [q.id, q.contentHash] as [string, string]);
  pairs.sort((a, b) => compareCodePoints(a[0], b[0]) || compareCodePoints(a[1], b[1]));
  pairs.push(
    ['__taxonomy__', leaves.taxonomy],
    ['__chains__', leaves.chains],
    ['__zones__', leaves.zones],
    ['__policy__', leaves.policy],
    ['__canon_version__', sha256Hex(`canon-v${canonVersion}`)],
  );
  return sha256Hex(pairs.map(([id, h]) => `${id}:${h}`).join('\n'));
}
