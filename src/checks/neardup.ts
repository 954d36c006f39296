/**
 * Near-duplicates that survive a rewrite.
 *
 * A question is compared on its scenario and its question, never its title (a copy with a new
 * title is still a copy). Each is reduced to features that ignore order and wording: NFKC, lower
 * case, stop words dropped, a small table of domain synonyms mapped to one word ("accelerator" →
 * gpu, "delay" → latency), Porter stems, then the set of words and of adjacent word pairs.
 * Reordered sentences keep almost every feature; synonyms and inflections meet on one stem.
 *
 * The similarity is the Jaccard index of the two feature sets, scenario features and question
 * features kept apart (a shared scenario with a different question is not a shared question);
 * `scenario` and `question` are also reported on their own.
 *
 * The index scales with MinHash signatures and LSH banding: a query only scores the documents
 * that share a band with it, so a 100,000-question vault answers in milliseconds (bench/neardup).
 * The banding (40 bands of 3 rows) finds a pair of similarity 0.35 with probability 0.85 and one
 * of 0.45 with probability 0.98; the threshold (DEFAULT_NEAR_DUP_THRESHOLD in run.ts) is taken
 * from the precision/recall curve that `npm run bench` prints on the labelled pairs.
 *
 * Public surface: `new NearDupIndex()`, `add(id, doc)`, `remove(id)`, `query(doc, opts)`,
 * `nearest(doc, opts)`, `size`, `has(id)`; and `similarity(a, b)` without an index.
 */
import { stemmer } from 'stemmer';

export type NearDupDoc = string | { title?: unknown; scenario?: unknown; question?: unknown };

export interface NearestMatch {
  id: string;
  /** Jaccard similarity of the scenario and question features together (0..1). */
  similarity: number;
  /** The scenarios' similarity alone. */
  scenario?: number;
  /** The questions' similarity alone. */
  question?: number;
}

const STOP = new Set(
  (
    'a an the and or but if then else of to in on at by for with from into onto over under as is are was were be been being it its this that these those ' +
    'there their they them we our you your he she his her i me my which who whom whose what when where why how do does did done can could would should ' +
    'will shall may might must has have had having not no nor so than too very just also only each every any all some such same other both either ' +
    'about above below after before while during per via up down out off again further once here more most less least own'
  ).split(' '),
);

/** Domain synonyms to one word (applied before stemming). */
const SYNONYMS: Record<string, string> = {
  accelerator: 'gpu', accelerators: 'gpu', gpus: 'gpu', card: 'gpu', cards: 'gpu', device: 'gpu',
  delay: 'latency', delays: 'latency', lag: 'latency', 'response-time': 'latency',
  throughput: 'rate', bandwidth: 'rate',
  ram: 'memory', vram: 'memory', dram: 'memory', hbm: 'memory',
  network: 'model', net: 'model', llm: 'model',
  serving: 'inference', serve: 'inference', serves: 'inference', served: 'inference', predictions: 'inference', prediction: 'inference',
  queries: 'request', query: 'request', requests: 'request', calls: 'request', qps: 'rps',
  server: 'node', servers: 'node', machine: 'node', machines: 'node', host: 'node', hosts: 'node', nodes: 'node', box: 'node',
  users: 'user', customers: 'user', customer: 'user', clients: 'user', client: 'user',
  estimate: 'compute', calculate: 'compute', determine: 'compute', derive: 'compute', work: 'compute', figure: 'compute', find: 'compute',
  cost: 'spend', costs: 'spend', price: 'spend', bill: 'spend',
  big: 'large', huge: 'large', quick: 'fast', rapid: 'fast', slow: 'sluggish',
  deploy: 'ship', deploys: 'ship', deployed: 'ship', rollout: 'ship', launch: 'ship',
  team: 'team', company: 'team', startup: 'team', org: 'team', organization: 'team',
  phone: 'phone', smartphone: 'phone', handset: 'phone', mobile: 'phone',
  microcontroller: 'mcu', mcus: 'mcu',
  weights: 'parameter', params: 'parameter', param: 'parameter', parameters: 'parameter',
  uses: 'use', using: 'use', utilize: 'use', utilizes: 'use', employ: 'use', employs: 'use',
  reduce: 'cut', lower: 'cut', decrease: 'cut', shrink: 'cut', minimize: 'cut',
  increase: 'raise', grow: 'raise', boost: 'raise', double: 'raise',
  budget: 'limit', cap: 'limit', ceiling: 'limit',
};

const stemCache = new Map<string, string>();
function stem(word: string): string {
  let s = stemCache.get(word);
  if (s === undefined) {
    s = stemmer(SYNONYMS[word] ?? word);
    if (stemCache.size > 50_000) stemCache.clear();
    stemCache.set(word, s);
  }
  return s;
}

/** Content words, normalised and stemmed, in order. */
export function contentWords(text: string): string[] {
  return text
    .normalize('NFKC')
    .toLowerCase()
    .replace(/[^\p{L}\p{N}.%-]+/gu, ' ')
    .replace(/(?<!\d)[.]|[.](?!\d)/g, ' ')
    .split(/\s+/)
    .filter((w) => w !== '' && w !== '-' && !STOP.has(w))
    .map(stem);
}

function hash32(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** Words and adjacent pairs of one field, tagged with the field ("s" or "q"). */
function fieldFeatures(text: string, tag: string, out: Set<number>): number {
  const words = contentWords(text);
  const before = out.size;
  for (const w of words) out.add(hash32(`${tag}:${w}`));
  for (let i = 0; i + 1 < words.length; i++) out.add(hash32(`${tag}:${words[i]} ${words[i + 1]}`));
  return out.size - before;
}

interface Features {
  all: Set<number>;
  scenario: Set<number>;
  question: Set<number>;
}

function features(doc: NearDupDoc): Features {
  const scenario = new Set<number>();
  const question = new Set<number>();
  if (typeof doc === 'string') {
    fieldFeatures(doc, 's', scenario);
  } else {
    if (typeof doc.scenario === 'string') fieldFeatures(doc.scenario, 's', scenario);
    if (typeof doc.question === 'string') fieldFeatures(doc.question, 'q', question);
    // A question with neither text falls back on its title, so it is not invisible.
    if (scenario.size === 0 && question.size === 0 && typeof doc.title === 'string') fieldFeatures(doc.title, 's', scenario);
  }
  return { all: new Set([...scenario, ...question]), scenario, question };
}

export function jaccard(a: ReadonlySet<number>, b: ReadonlySet<number>): number {
  if (a.size === 0 && b.size === 0) return 0;
  const [small, large] = a.size <= b.size ? [a, b] : [b, a];
  let inter = 0;
  for (const x of small) if (large.has(x)) inter++;
  return inter / (a.size + b.size - inter);
}

function score(a: Features, b: Features): Omit<NearestMatch, 'id'> {
  return { similarity: jaccard(a.all, b.all), scenario: jaccard(a.scenario, b.scenario), question: jaccard(a.question, b.question) };
}

// MinHash with LSH banding.
const BANDS = 40;
const ROWS = 3;
const HASHES = BANDS * ROWS;
const PRIME = 4294967291; // largest prime below 2^32
const COEF: [number, number][] = Array.from({ length: HASHES }, (_, i) => [(hash32(`a${i}`) | 1) >>> 0, hash32(`b${i}`)]);

function signature(feats: ReadonlySet<number>): Uint32Array {
  const sig = new Uint32Array(HASHES).fill(0xffffffff);
  for (const x of feats) {
    for (let i = 0; i < HASHES; i++) {
      const [a, b] = COEF[i]!;
      // A 32-bit universal hash (a·x + b mod 2^32, then mod a prime): cheap and well spread.
      const h = ((Math.imul(a, x) + b) >>> 0) % PRIME;
      if (h < sig[i]!) sig[i] = h;
    }
  }
  return sig;
}

function bandKeys(sig: Uint32Array): string[] {
  const keys: string[] = [];
  for (let b = 0; b < BANDS; b++) {
    let k = `${b}`;
    for (let r = 0; r < ROWS; r++) k += `:${sig[b * ROWS + r]!.toString(36)}`;
    keys.push(k);
  }
  return keys;
}

export class NearDupIndex {
  readonly #docs = new Map<string, { feats: Features; keys: string[] }>();
  readonly #buckets = new Map<string, Set<string>>();

  get size(): number {
    return this.#docs.size;
  }

  has(id: string): boolean {
    return this.#docs.has(id);
  }

  /** Adds (or replaces) a question under its id. */
  add(id: string, doc: NearDupDoc): void {
    if (this.#docs.has(id)) this.remove(id);
    const feats = features(doc);
    const keys = feats.all.size > 0 ? bandKeys(signature(feats.all)) : [];
    this.#docs.set(id, { feats, keys });
    for (const k of keys) {
      let bucket = this.#buckets.get(k);
      if (!bucket) this.#buckets.set(k, (bucket = new Set()));
      bucket.add(id);
    }
  }

  remove(id: string): boolean {
    const d = this.#docs.get(id);
    if (!d) return false;
    for (const k of d.keys) {
      const bucket = this.#buckets.get(k);
      bucket?.delete(id);
      if (bucket && bucket.size === 0) this.#buckets.delete(k);
    }
    this.#docs.delete(id);
    return true;
  }

  /**
   * Indexed questions similar to `doc`, most similar first: those sharing an LSH band, scored
   * exactly, at or above `minSimilarity` (default 0), at most `limit` (default 5).
   */
  query(doc: NearDupDoc, opts: { excludeId?: string; minSimilarity?: number; limit?: number } = {}): NearestMatch[] {
    const feats = features(doc);
    if (feats.all.size === 0) return [];
    const seen = new Set<string>();
    for (const k of bandKeys(signature(feats.all))) {
      const bucket = this.#buckets.get(k);
      if (bucket) for (const id of bucket) seen.add(id);
    }
    const out: NearestMatch[] = [];
    for (const id of seen) {
      if (id === opts.excludeId) continue;
      const s = score(feats, this.#docs.get(id)!.feats);
      if (s.similarity >= (opts.minSimilarity ?? 0)) out.push({ id, ...s });
    }
    out.sort((a, b) => b.similarity - a.similarity || a.id.localeCompare(b.id));
    return out.slice(0, opts.limit ?? 5);
  }

  /** The most similar indexed question, or null when none shares a band with the query. */
  nearest(doc: NearDupDoc, opts: { excludeId?: string } = {}): NearestMatch | null {
    return this.query(doc, { ...opts, limit: 1 })[0] ?? null;
  }
}

/** Similarity of two questions without an index (exact Jaccard, all three scores). */
export function similarityScores(a: NearDupDoc, b: NearDupDoc): Omit<NearestMatch, 'id'> {
  return score(features(a), features(b));
}

/** Similarity of two questions without an index. */
export function similarity(a: NearDupDoc, b: NearDupDoc): number {
  return similarityScores(a, b).similarity;
}
