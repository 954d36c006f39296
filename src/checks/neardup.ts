/**
 * Near-duplicate detection: word 3-gram shingles, Jaccard similarity, with an inverted index so a
 * query touches only the documents that share a shingle with it (10k vault questions × 100 drafts
 * stays well under a second). Exact duplicates score 1.0.
 */

export type NearDupDoc = string | { title?: unknown; scenario?: unknown; question?: unknown };

export interface NearestMatch {
  id: string;
  similarity: number;
}

export const SHINGLE_SIZE = 3;

/** The text that identifies a question: title + scenario + question. */
export function nearDupText(doc: NearDupDoc): string {
  if (typeof doc === 'string') return doc;
  return [doc.title, doc.scenario, doc.question].filter((v): v is string => typeof v === 'string').join('\n');
}

function hash32(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** Hashed word shingles of a text (lower case, punctuation dropped; short texts use single words). */
export function shingles(text: string, size = SHINGLE_SIZE): Set<number> {
  const words = text
    .toLowerCase()
    .normalize('NFKC')
    .replace(/[^\p{L}\p{N}.%$+/-]+/gu, ' ')
    .replace(/(?<!\d)[.]|[.](?!\d)/g, ' ')
    .split(/\s+/)
    .filter(Boolean);
  const out = new Set<number>();
  if (words.length < size) {
    for (const w of words) out.add(hash32(w));
    return out;
  }
  for (let i = 0; i + size <= words.length; i++) out.add(hash32(words.slice(i, i + size).join(' ')));
  return out;
}

export function jaccard(a: ReadonlySet<number>, b: ReadonlySet<number>): number {
  if (a.size === 0 && b.size === 0) return 0;
  const [small, large] = a.size <= b.size ? [a, b] : [b, a];
  let inter = 0;
  for (const x of small) if (large.has(x)) inter++;
  return inter / (a.size + b.size - inter);
}

export class NearDupIndex {
  readonly #docs = new Map<string, Set<number>>();
  readonly #postings = new Map<number, Set<string>>();

  get size(): number {
    return this.#docs.size;
  }

  has(id: string): boolean {
    return this.#docs.has(id);
  }

  /** Adds or replaces a document. */
  add(id: string, doc: NearDupDoc): void {
    if (this.#docs.has(id)) this.remove(id);
    const sh = shingles(nearDupText(doc));
    this.#docs.set(id, sh);
    for (const s of sh) {
      let p = this.#postings.get(s);
      if (!p) this.#postings.set(s, (p = new Set()));
      p.add(id);
    }
  }

  remove(id: string): boolean {
    const sh = this.#docs.get(id);
    if (!sh) return false;
    for (const s of sh) {
      const p = this.#postings.get(s);
      p?.delete(id);
      if (p && p.size === 0) this.#postings.delete(s);
    }
    this.#docs.delete(id);
    return true;
  }

  /** The most similar indexed document, or null when none shares a shingle with the query. */
  nearest(doc: NearDupDoc, opts: { excludeId?: string } = {}): NearestMatch | null {
    const q = shingles(nearDupText(doc));
    if (q.size === 0) return null;
    const overlap = new Map<string, number>();
    for (const s of q) {
      const p = this.#postings.get(s);
      if (!p) continue;
      for (const id of p) overlap.set(id, (overlap.get(id) ?? 0) + 1);
    }
    let best: NearestMatch | null = null;
    for (const [id, inter] of overlap) {
      if (id === opts.excludeId) continue;
      const size = this.#docs.get(id)!.size;
      const similarity = inter / (q.size + size - inter);
      if (!best || similarity > best.similarity) best = { id, similarity };
    }
    return best;
  }
}

/**
 * Shingles of recently seen texts: the batch check compares each draft of a chunk with every
 * earlier one, so the same texts come back O(chunk) times; building them once keeps it O(chunk).
 */
const recent = new Map<string, Set<number>>();
const RECENT_MAX = 4096;

function shinglesCached(text: string): Set<number> {
  let sh = recent.get(text);
  if (sh) return sh;
  sh = shingles(text);
  if (recent.size >= RECENT_MAX) recent.delete(recent.keys().next().value!);
  recent.set(text, sh);
  return sh;
}

/** Similarity of two documents, without an index. */
export function similarity(a: NearDupDoc, b: NearDupDoc): number {
  return jaccard(shinglesCached(nearDupText(a)), shinglesCached(nearDupText(b)));
}
