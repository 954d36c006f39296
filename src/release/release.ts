/**
 * The release set of a vault: its published questions (by the policy), their content hashes,
 * the structural leaves and the release hash. Manifest and export both start here, so they can
 * never disagree about what is published.
 */
import { nullIfMissing, readRegularText } from '../util/files.js';
import { join } from 'node:path';
import { parseDocument } from 'yaml';
import { loadVault, type CorpusProblem } from '../corpus/loader.js';
import { CorpusFileError } from '../errors.js';
import { contentHash, hashCanonical, MISSING_LEAF_HASH, releaseHash, type ReleaseLeaves } from './hashing.js';
import { compareCodePoints } from './pyjson.js';
import { isPublished, loadPolicy, type LoadedPolicy } from './policy.js';
import { isMapping } from '../util/mapping.js';

export interface ReleaseQuestion {
  id: string;
  relPath: string;
  doc: Record<string, unknown>;
  contentHash: string;
}

export interface ChainMembership {
  /** chain id → position (array index in chains.json, or the YAML's own `position`). */
  positions: Map<string, number>;
  /** chain id → tier ("primary" when the sidecar gives none). */
  tiers: Map<string, string>;
}

export interface ReleaseSet {
  vaultDir: string;
  policy: LoadedPolicy;
  /** Published questions, sorted by id. */
  questions: ReleaseQuestion[];
  leaves: ReleaseLeaves;
  releaseHash: string;
  /** question id → chain membership; from chains.json when present, else each YAML's `chains`. */
  chains: Map<string, ChainMembership>;
  chainsSource: 'chains.json' | 'yaml';
  /** Files skipped (unreadable, not a mapping, no id). */
  problems: CorpusProblem[];
}

/** The structural leaf files, at the vault root as in the original compiler. */
export const LEAF_FILES = { taxonomy: 'taxonomy.yaml', chains: 'chains.yaml', zones: 'zones.yaml' } as const;

/** Hash of a leaf YAML file, or of `{}` when the file does not exist. */
export async function leafHash(path: string): Promise<string> {
  const text = await nullIfMissing(readRegularText(path));
  if (text === null) return MISSING_LEAF_HASH;
  const doc = parseDocument(text, { prettyErrors: false });
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    throw new CorpusFileError(path, `not valid YAML: ${e.message.split('\n')[0]}`, e.linePos?.[0]?.line);
  }
  return hashCanonical(doc.toJS({ maxAliasCount: 100 }));
}

export async function computeLeaves(vaultDir: string, policy: LoadedPolicy): Promise<ReleaseLeaves> {
  return {
    taxonomy: await leafHash(join(vaultDir, LEAF_FILES.taxonomy)),
    chains: await leafHash(join(vaultDir, LEAF_FILES.chains)),
    zones: await leafHash(join(vaultDir, LEAF_FILES.zones)),
    // The original hashed the policy mapping as loaded (notes included); a missing file is `{}`.
    policy: policy.raw === null ? MISSING_LEAF_HASH : hashCanonical(policy.raw),
  };
}

/** Reads `<vault>/chains.json` (array of `{chain_id | id, questions:[{id}], tier?}`); null when absent. */
export async function loadChainSidecar(vaultDir: string): Promise<Map<string, ChainMembership> | null> {
  const path = join(vaultDir, 'chains.json');
  const text = await nullIfMissing(readRegularText(path));
  if (text === null) return null;
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw new CorpusFileError(path, `not valid JSON: ${(e as Error).message}`);
  }
  if (!Array.isArray(data)) throw new CorpusFileError(path, 'expected a JSON array of chains');
  const out = new Map<string, ChainMembership>();
  for (const ch of data) {
    if (!isMapping(ch)) continue;
    const cid = ch.chain_id || ch.id;
    if (typeof cid !== 'string' || cid === '') continue;
    const tier = typeof ch.tier === 'string' && ch.tier !== '' ? ch.tier : 'primary';
    const members = Array.isArray(ch.questions) ? ch.questions : [];
    members.forEach((m: unknown, pos: number) => {
      const qid = (m as { id?: unknown })?.id;
      if (typeof qid !== 'string' || qid === '') return;
      const entry = out.get(qid) ?? { positions: new Map(), tiers: new Map() };
      entry.positions.set(cid, pos);
      entry.tiers.set(cid, tier);
      out.set(qid, entry);
    });
  }
  return out;
}

/** Chain membership written inline in a question's YAML (`chains: [{id, position}]`). */
export function inlineChains(doc: Readonly<Record<string, unknown>>): ChainMembership | null {
  if (!Array.isArray(doc.chains)) return null;
  const m: ChainMembership = { positions: new Map(), tiers: new Map() };
  for (const c of doc.chains) {
    if (!isMapping(c)) continue;
    const id = c.id;
    if (typeof id !== 'string' || id === '') continue;
    const pos = c.position;
    m.positions.set(id, typeof pos === 'number' ? pos : 0);
    m.tiers.set(id, 'primary');
  }
  return m.positions.size > 0 ? m : null;
}

/** Loads the vault, applies the policy, hashes. Throws CorpusFileError on a duplicate published id. */
export async function loadReleaseSet(vaultDir: string): Promise<ReleaseSet> {
  const policy = await loadPolicy(vaultDir);
  const { files } = await loadVault(vaultDir);
  const problems: CorpusProblem[] = [];
  const byId = new Map<string, ReleaseQuestion>();
  for (const f of files) {
    problems.push(...f.problems);
    if (f.doc === null) continue;
    if (typeof f.doc.id !== 'string' || f.doc.id === '') {
      problems.push({ path: f.relPath, severity: 'error', code: 'schema', message: 'no string `id`; left out of the release' });
      continue;
    }
    if (!isPublished(f.doc, policy.policy)) continue;
    const prev = byId.get(f.doc.id);
    if (prev) throw new CorpusFileError(f.relPath, `published id ${f.doc.id} is also published by ${prev.relPath}`);
    byId.set(f.doc.id, { id: f.doc.id, relPath: f.relPath, doc: f.doc, contentHash: contentHash(f.doc) });
  }
  const questions = [...byId.values()].sort((a, b) => compareCodePoints(a.id, b.id));
  const leaves = await computeLeaves(vaultDir, policy);

  const sidecar = await loadChainSidecar(vaultDir);
  const chains = new Map<string, ChainMembership>();
  for (const q of questions) {
    const m = sidecar ? sidecar.get(q.id) : inlineChains(q.doc);
    if (m) chains.set(q.id, m);
  }
  return {
    vaultDir,
    policy,
    questions,
    leaves,
    releaseHash: releaseHash(questions, leaves),
    chains,
    chainsSource: sidecar ? 'chains.json' : 'yaml',
    problems,
  };
}
