/**
 * The site corpus (`corpus.json`) and its summary (`corpus-summary.json`), in the shape the
 * original exporter produced for the StaffML site (SEED-SPEC §9 "Site corpus").
 */
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseDocument } from 'yaml';
import { CorpusFileError } from '../errors.js';
import { atomicWrite } from '../corpus/writer.js';
import { compareCodePoints, dateText, pyJsonDumps } from './pyjson.js';
import type { ChainMembership, ReleaseSet } from './release.js';

export const CORPUS_FILE = 'corpus.json';
export const CORPUS_SUMMARY_FILE = 'corpus-summary.json';
export const TOPIC_CHAPTER_MAP = join('schema', 'topic_chapter_map.yaml');

export interface BookRef {
  vol: number;
  chapter: string;
  title: string;
  url: string;
  role: 'primary' | 'also_see';
  why?: string;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date);
const truthy = (v: unknown): boolean =>
  v !== null && v !== undefined && v !== false && v !== '' && v !== 0 && !(Array.isArray(v) && v.length === 0);

/** Python's `str.title()` on a chapter slug: the title used when the book's sources are not at hand. */
export function slugTitle(chapter: string): string {
  return chapter.replace(/_/g, ' ').replace(/\p{L}+/gu, (w) => w[0]!.toUpperCase() + w.slice(1).toLowerCase());
}

/**
 * Topic → book chapters, from `<vault>/schema/topic_chapter_map.yaml`
 * (`<topic>: {primary: {vol, chapter}, also_see: [{vol, chapter}], why}`). Empty when absent.
 */
export async function loadBookRefs(vaultDir: string): Promise<(topic: unknown) => BookRef[]> {
  const path = join(vaultDir, TOPIC_CHAPTER_MAP);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return () => [];
    throw e;
  }
  const doc = parseDocument(text, { prettyErrors: false });
  if (doc.errors.length > 0) throw new CorpusFileError(path, `not valid YAML: ${doc.errors[0]!.message.split('\n')[0]}`);
  const map = doc.toJS({ maxAliasCount: 100 }) as unknown;
  if (!isObj(map)) return () => [];
  const ref = (raw: unknown, role: BookRef['role'], why?: unknown): BookRef => {
    const r = raw as Obj;
    const vol = Number(r?.vol);
    const chapter = String(r?.chapter ?? '');
    if (!Number.isInteger(vol) || chapter === '') {
      throw new CorpusFileError(path, `each chapter reference needs an integer vol and a chapter, got ${JSON.stringify(raw)}`);
    }
    const out: BookRef = {
      vol,
      chapter,
      title: slugTitle(chapter),
      url: `https://mlsysbook.ai/vol${vol}/contents/vol${vol}/${chapter}/${chapter}.html`,
      role,
    };
    if (role === 'primary' && truthy(why)) out.why = String(why);
    return out;
  };
  return (topic) => {
    const entry = typeof topic === 'string' ? map[topic] : undefined;
    if (!isObj(entry)) return [];
    const refs: BookRef[] = [];
    if (truthy(entry.primary)) refs.push(ref(entry.primary, 'primary', entry.why));
    for (const also of Array.isArray(entry.also_see) ? entry.also_see : []) refs.push(ref(also, 'also_see'));
    return refs;
  };
}

/** One question as a site corpus item. Key order is the original's (it matters for the summary). */
export function corpusItem(doc: Readonly<Obj>, chains: ChainMembership | undefined, bookRefs: BookRef[]): Obj {
  const item: Obj = {
    id: doc.id ?? null,
    title: doc.title ?? null,
    topic: doc.topic ?? null,
    competency_area: doc.competency_area ?? null,
    track: doc.track ?? null,
    level: doc.level ?? null,
    zone: doc.zone ?? null,
    bloom_level: truthy(doc.bloom_level) ? doc.bloom_level : '',
    scenario: doc.scenario ?? null,
    status: doc.status ?? null,
  };
  if (truthy(doc.phase)) item.phase = doc.phase;
  if (truthy(doc.question)) item.question = doc.question;
  if (isObj(doc.visual)) {
    const v = doc.visual;
    const visual: Obj = { kind: v.kind ?? 'svg', path: v.path ?? null, alt: v.alt ?? null };
    if (truthy(v.caption)) visual.caption = v.caption;
    item.visual = visual;
  }
  if (chains && chains.positions.size > 0) {
    item.chain_ids = [...chains.positions.keys()].sort(compareCodePoints);
    item.chain_positions = Object.fromEntries(chains.positions);
    item.chain_tiers = Object.fromEntries([...chains.positions.keys()].map((cid) => [cid, chains.tiers.get(cid) ?? 'primary']));
  }
  const d = isObj(doc.details) ? doc.details : {};
  const details: Obj = {
    common_mistake: truthy(d.common_mistake) ? d.common_mistake : '',
    realistic_solution: d.realistic_solution ?? null,
  };
  if (truthy(d.napkin_math)) details.napkin_math = d.napkin_math;
  if (d.options !== null && d.options !== undefined) {
    details.options = d.options;
    details.correct_index = d.correct_index ?? null;
  }
  if (Array.isArray(d.resources) && d.resources.length > 0) {
    details.resources = d.resources.map((r) => ({ name: (r as Obj)?.name ?? null, url: (r as Obj)?.url ?? null }));
  }
  item.details = details;
  if (doc.validated !== null && doc.validated !== undefined) item.validated = doc.validated;
  if (doc.math_verified !== null && doc.math_verified !== undefined) item.math_verified = doc.math_verified;
  if (isObj(doc.human_reviewed)) {
    const hr = doc.human_reviewed;
    const status = hr.status ?? 'not-reviewed';
    if (status !== 'not-reviewed') {
      const date = hr.date instanceof Date ? dateText(hr.date) : truthy(hr.date) ? String(hr.date) : null;
      item.human_reviewed = { status, by: hr.by ?? null, date };
    }
  }
  if (bookRefs.length > 0) item.book_refs = bookRefs;
  return item;
}

/** Scenario and the heavy details replaced by empty strings; MCQ options and answer kept. */
export function summaryItem(item: Readonly<Obj>): Obj {
  const out: Obj = {};
  for (const [k, v] of Object.entries(item)) if (k !== 'scenario' && k !== 'details') out[k] = v;
  out.scenario = '';
  const d = isObj(item.details) ? item.details : {};
  const stub: Obj = { common_mistake: '', realistic_solution: '', napkin_math: '' };
  if (d.options !== null && d.options !== undefined) stub.options = d.options;
  if (d.correct_index !== null && d.correct_index !== undefined) stub.correct_index = d.correct_index;
  out.details = stub;
  return out;
}

export async function buildCorpus(set: ReleaseSet): Promise<{ items: Obj[]; summary: Obj[] }> {
  const refsFor = await loadBookRefs(set.vaultDir);
  const items = set.questions.map((q) => corpusItem(q.doc, set.chains.get(q.id), refsFor(q.doc.topic)));
  return { items, summary: items.map(summaryItem) };
}

/** `json.dumps(items, sort_keys=True, ensure_ascii=False, indent=2) + "\n"`. */
export const corpusText = (items: Obj[]): string => pyJsonDumps(items, { sortKeys: true, ensureAscii: false, indent: 2 }) + '\n';
/** `json.dumps(summary, ensure_ascii=False) + "\n"` (the original kept insertion order and default separators). */
export const summaryText = (summary: Obj[]): string => pyJsonDumps(summary, { ensureAscii: false }) + '\n';

export interface ExportResult {
  count: number;
  corpusPath: string;
  summaryPath: string;
}

export async function exportCorpus(set: ReleaseSet, outDir: string): Promise<ExportResult> {
  const { items, summary } = await buildCorpus(set);
  await mkdir(outDir, { recursive: true });
  const corpusPath = join(outDir, CORPUS_FILE);
  const summaryPath = join(outDir, CORPUS_SUMMARY_FILE);
  await atomicWrite(corpusPath, corpusText(items));
  await atomicWrite(summaryPath, summaryText(summary));
  return { count: items.length, corpusPath, summaryPath };
}
