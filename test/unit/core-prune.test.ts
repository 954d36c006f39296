/**
 * Apply and prune (src/core/prune.ts) with in-memory ports: a DROP draft's YAML and visual files
 * are deleted only while the YAML still hashes to what was judged; a kept draft gets its SVG; a
 * failed judge leaves its drafts unjudged; a second run of the same apply changes nothing.
 */
import { expect, it } from 'vitest';
import { sha256 } from '../../src/corpus/loader.js';
import { MemoryRunStore, MemoryVaultFiles } from '../../src/core/memory.js';
import { applyChunk, pruneDraft } from '../../src/core/prune.js';
import type { VerdictRecord } from '../../src/domain/verdict.js';
import type { ApplyPayload } from '../../src/queues/apply.js';

const NOW = new Date('2026-01-02T03:04:05.000Z');
const criteria = { math_correct: 'PASS', cell_fit: 'PASS', scenario_realism: 'PASS', uniqueness: 'PASS', visual_alignment: 'PASS' } as const;
const verdict = (id: string, v: VerdictRecord['verdict']): VerdictRecord => ({ id, verdict: v, criteria: { ...criteria }, issues: [], fix_suggestion: '', model: 'judge-1', source: 'model', checks: { arithmetic: 'passed', findings: [] } });

async function setup() {
  const store = new MemoryRunStore();
  store.open('r', { maxCalls: 10, startedAt: NOW.toISOString() });
  const files = new MemoryVaultFiles();
  const drafts = ['edge-0001', 'edge-0002', 'edge-0003'].map((id) => ({ id, path: `questions/edge/compute/${id}.yaml`, track: 'edge', text: `id: ${id}\n` }));
  for (const d of drafts) {
    await files.write(d.path, d.text);
    await files.write(`visuals/edge/${d.id}.dot`, 'digraph {}\n');
  }
  const payload: ApplyPayload = { runId: 'r', iter: 0, chunk: 0, round: 0, drafts: drafts.map((d) => ({ id: d.id, path: d.path, track: d.track, fileHash: sha256(Buffer.from(d.text)) })) };
  return { store, files, payload, deps: { store, files, now: () => NOW } };
}

it('prunes a DROP draft with its visual files, keeps the others and writes a kept draft its SVG', async () => {
  const { store, files, payload, deps } = await setup();
  const r = await applyChunk(payload, [verdict('edge-0001', 'DROP'), verdict('edge-0002', 'PASS'), verdict('edge-0003', 'NEEDS_FIX')], null, deps, [{ draftId: 'edge-0002', svg: '<svg/>' }]);
  expect(r).toEqual({ chunk: 0, judged: true, pruned: ['edge-0001'], kept: ['edge-0002', 'edge-0003'], skippedChanged: [], unjudged: [] });
  expect([...files.files.keys()].sort()).toEqual([
    'questions/edge/compute/edge-0002.yaml',
    'questions/edge/compute/edge-0003.yaml',
    'visuals/edge/edge-0002.dot',
    'visuals/edge/edge-0002.svg',
    'visuals/edge/edge-0003.dot',
  ]);
  const v = await store.verdicts('r');
  expect(v.get('edge-0001')).toMatchObject({ applied: 'pruned', iter: 0, chunk: 0, round: 0, late: false, appliedAt: NOW.toISOString(), history: [] });
  expect(v.get('edge-0002')!.applied).toBe('kept');

  // The same apply again: the same verdicts, nothing deleted or rewritten.
  const again = await applyChunk(payload, [verdict('edge-0001', 'DROP'), verdict('edge-0002', 'PASS'), verdict('edge-0003', 'NEEDS_FIX')], null, deps);
  expect(again.pruned).toEqual(['edge-0001']);
  expect(await store.verdicts('r')).toEqual(v);
});

it('leaves a DROP draft edited since it was judged, and its visual files', async () => {
  const { files, payload, deps } = await setup();
  await files.write('questions/edge/compute/edge-0001.yaml', 'id: edge-0001\nedited: true\n');
  const r = await applyChunk(payload, [verdict('edge-0001', 'DROP')], null, deps);
  expect(r.skippedChanged).toEqual(['edge-0001']);
  expect(files.exists('questions/edge/compute/edge-0001.yaml')).toBe(true);
  expect(files.exists('visuals/edge/edge-0001.dot')).toBe(true);
});

it('a prune cut short (YAML gone) still removes the visual files', async () => {
  const { files, payload } = await setup();
  await files.remove('questions/edge/compute/edge-0001.yaml');
  expect(await pruneDraft(files, payload.drafts[0]!)).toBe('already-gone');
  expect(files.exists('visuals/edge/edge-0001.dot')).toBe(false);
});

it('a judge that failed for good leaves every draft in place, recorded unjudged with the reason', async () => {
  const { store, files, payload, deps } = await setup();
  const r = await applyChunk(payload, null, 'provider unreachable: offline', deps);
  expect(r).toMatchObject({ judged: false, pruned: [], kept: [], unjudged: ['edge-0001', 'edge-0002', 'edge-0003'] });
  expect(files.files.size).toBe(6);
  expect((await store.unjudged('r')).get('edge-0001')).toEqual({ id: 'edge-0001', iter: 0, chunk: 0, path: payload.drafts[0]!.path, reason: 'judge failed: provider unreachable: offline' });
  // A late verdict afterwards clears it.
  await applyChunk({ ...payload, drafts: [payload.drafts[0]!] }, [verdict('edge-0001', 'PASS')], null, deps);
  expect((await store.unjudged('r')).has('edge-0001')).toBe(false);
});
