/**
 * Bad input to `run` (real Redis): each bad question file is named in a warning before the run
 * starts, the run goes on without it, and no question file (the bad one included) changes.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, posix, relative, sep } from 'node:path';
import { describe, expect, it } from 'vitest';
import { afterRun, freshVault, readRecords, vaultSnapshot } from '../helpers/pipeline.js';
import { fileRedis } from '../helpers/redis.js';
import { BAD_FILES, execCli, questionDir } from '../helpers/bad-files.js';
import type { Config } from '../../src/config/index.js';
import { readPromptBlock } from '../../src/llm/prompts.js';
import { runDir } from '../../src/scheduler/records.js';
import type { DraftRecord } from '../../src/state/run-state.js';
import { FakeLlmServer, type SeenRequest } from '../helpers/fake-llm/index.js';
import { expectRunApplied, offlineServer, openaiRunConfig } from '../helpers/provider-runs.js';

const redis = fileRedis('bad-input');

const cli = (args: string[]) => execCli(args, { env: { VAULT_LOOP_LOG_LEVEL: 'error' } });

describe('bad question files: run', () => {
  // Every kind at once, in one vault: each case one at a time is test/heavy/bad-question-files.test.ts.
  it('every kind of bad file in one vault: run warns about each by name, completes, and changes no question file', async () => {
    const vault = await freshVault(40, 8);
    const files = BAD_FILES.map((bad) => {
      const abs = join(questionDir(vault), bad.file);
      bad.write(abs);
      return { rel: abs.slice(vault.length + 1), abs };
    });
    const before = vaultSnapshot(join(vault, 'questions'));
    const badBytes = files.map((f) => readFileSync(f.abs));
    const r = await cli(['run', '--vault', vault, '--redis', redis.url, '--prefix', redis.prefix, '--dry-run', '--max-iters', '1', '--progress', 'none']);
    expect(r.code, r.stderr).toBe(0);
    for (const f of files) expect(r.stderr).toContain(`vault-loop: warning: skipping ${f.rel}: `);
    expect(r.stderr).not.toMatch(/unexpected error/);
    expect(vaultSnapshot(join(vault, 'questions'))).toBe(before);
    files.forEach((f, i) => expect(readFileSync(f.abs).equals(badBytes[i]!), f.rel).toBe(true));
  });
});

describe('model output whose ids and paths try ../ through whole runs: the vault stays byte-identical', () => {
  /**
   * Bad provider output through whole runs: model answers whose id, path, file, filename or visual
   * path try `../`. Checks that the vault's own files stay byte-identical, both when the `../`
   * would leave the vault and when it would stay inside it and land on an existing question or
   * visual. The model is the offline provider behind the openai fake server (real HTTP), as in
   * providers-faults.redis.test.ts.
   */
  const redis = fileRedis('badinev');

  type Item = Record<string, unknown>;
  type Rewrite = (items: Item[], req: SeenRequest) => Item[];

  /** An openai fake server answering with the offline provider; every generate and judge answer is rewritten. */
  async function rewritingServer(seed: number, rewrite: { generate?: Rewrite; judge?: Rewrite }): Promise<FakeLlmServer> {
    const { server } = await offlineServer('openai', seed, {
      apiKey: 'sk-badinev',
      rewrite: (text, req, kind) => {
        const f = kind === 'generate' || kind === 'judge' ? rewrite[kind] : undefined;
        return f ? JSON.stringify(f(JSON.parse(text) as Item[], req)) : text;
      },
    });
    return server;
  }

  function runConfig(vault: string, server: FakeLlmServer): Config {
    return openaiRunConfig(redis, vault, server, 'sk-badinev', { batchWindowMs: 2000, visualEachIter: true });
  }

  /** Every file of the vault (vault-relative) with its bytes, leaving out the analyzer's cache (.vault-loop). */
  function vaultFiles(vault: string): Map<string, Buffer> {
    const out = new Map<string, Buffer>();
    const walk = (dir: string) => {
      for (const e of readdirSync(dir, { withFileTypes: true })) {
        if (e.name === '.vault-loop') continue;
        const p = join(dir, e.name);
        if (e.isDirectory()) walk(p);
        else out.set(relative(vault, p).split(sep).join('/'), readFileSync(p));
      }
    };
    walk(vault);
    return out;
  }

  /**
   * The originals are all there, byte for byte, and every file the run added is one of its drafts'
   * question files or visual files (visuals/<track>/<draft id>.<ext>), or one of its own records.
   */
  function expectOriginalsIntactAndOnlyDrafts(vault: string, runId: string, original: Map<string, Buffer>, drafts: Map<string, DraftRecord>) {
    const after = vaultFiles(vault);
    for (const [f, bytes] of original) {
      expect(after.has(f), `${f} still there`).toBe(true);
      expect(after.get(f)!.equals(bytes), `${f} byte-identical`).toBe(true);
    }
    const draftFiles = new Set([...drafts.values()].flatMap((d) => [d.path, ...['dot', 'py', 'svg'].map((ext) => `visuals/${d.track}/${d.id}.${ext}`)]));
    const records = `${relative(vault, runDir(vault, runId)).split(sep).join('/')}/`;
    const added = [...after.keys()].filter((f) => !original.has(f) && !f.startsWith(records));
    expect(added.length).toBeGreaterThan(0);
    for (const f of added) expect(draftFiles.has(f), `${f} is a file of a recorded draft`).toBe(true);
  }

  interface PromptCell {
    index: number;
    track: string;
    competency_area: string;
  }

  describe('provider output with ../ ids and paths', () => {
    it('fields that try ../ out of the vault: every pre-existing vault file is byte-identical after the run, and every new file is a recorded draft', async () => {
      const vault = await freshVault(300, 61);
      const outside = dirname(vault);
      const outsideBefore = readdirSync(outside).sort();
      const evil = '../../../../escaped';
      const server = await rewritingServer(61, {
        generate: (items) =>
          items.map((it) => ({
            ...it,
            id: evil,
            path: `${evil}.yaml`,
            file: evil,
            filename: `${evil}.yaml`,
            ...(it.visual && typeof it.visual === 'object' ? { visual: { ...(it.visual as object), path: `${evil}.svg` } } : {}),
          })),
        judge: (items) => items.map((v) => ({ ...v, path: `${evil}.yaml`, file: evil })),
      });
      const original = vaultFiles(vault);
      expect([...original.keys()].filter((f) => f.startsWith('questions/')).length).toBe(300);
      await afterRun(redis, runConfig(vault, server), [server], async ({ runId, state, host }) => {
        expect(state.status, state.stopReason ?? '').toBe('completed');
        expect(readdirSync(outside).sort()).toEqual(outsideBefore);
        const { drafts } = await expectRunApplied(host, vault, runId);
        expect(drafts.size).toBeGreaterThan(0);
        expectOriginalsIntactAndOnlyDrafts(vault, runId, original, drafts);
        // The model's fields were seen and ignored, and the records say so.
        const noted = readRecords(vault, runId).iters.flatMap((i) => i.record!.generation_notes);
        expect(noted.length).toBe(drafts.size);
        for (const n of noted) expect(n.notes).toContain(`model's id "${evil}" ignored (it points outside its folder): ids and paths are minted by the pipeline`);
      });
    });

    it('a ../ id, path, file or visual path that stays inside the vault and names an existing question or visual: that file is unchanged, and the draft gets a minted id', async () => {
      const vault = await freshVault(300, 62);
      const original = vaultFiles(vault);
      const questions = [...original.keys()].filter((f) => f.startsWith('questions/')).sort();
      const svgs = [...original.keys()].filter((f) => /^visuals\/[a-z]+\/[a-z]+-\d+\.svg$/.test(f)).sort();
      expect(svgs.length).toBeGreaterThan(0);
      // What each rewritten field would name, resolved the way a naive path join would resolve it.
      const aimed: { field: string; value: string; resolves: string }[] = [];
      const judgeTargets: string[] = [];
      const server = await rewritingServer(62, {
        generate: (items, req) => {
          const cells = readPromptBlock(req.prompt!, 'cells') as PromptCell[];
          return items.map((it, i) => {
            const cell = cells.find((c) => c.index === it.cell_index) ?? cells[i]!;
            const own = `questions/${cell.track}/${cell.competency_area}`;
            // An existing question of the same track, preferably in another area.
            const sameTrack = questions.filter((q) => q.startsWith(`questions/${cell.track}/`));
            const pool = sameTrack.filter((q) => !q.startsWith(`${own}/`));
            const target = (pool.length ? pool : sameTrack)[cell.index % (pool.length || sameTrack.length)]!;
            const [, , area, file] = target.split('/') as [string, string, string, string];
            const targetId = file.replace(/\.yaml$/, '');
            const svg = svgs[cell.index % svgs.length]!;
            const fields = {
              id: `../${area}/${targetId}`,
              path: target,
              file: `../../${cell.track}/${area}/${targetId}.yaml`,
              filename: `../${area}/${targetId}.yaml`,
            };
            aimed.push(
              { field: 'id', value: fields.id, resolves: posix.join(own, `${fields.id}.yaml`) },
              { field: 'path', value: fields.path, resolves: fields.path },
              { field: 'file', value: fields.file, resolves: posix.join(own, fields.file) },
              { field: 'filename', value: fields.filename, resolves: posix.join(own, fields.filename) },
            );
            const out: Item = { ...it, ...fields };
            if (it.visual && typeof it.visual === 'object') {
              // From visuals/<track>/, the path of an existing SVG (in its own track's folder).
              const value = posix.relative(`visuals/${cell.track}`, svg);
              aimed.push({ field: 'visual.path', value, resolves: posix.join(`visuals/${cell.track}`, value) });
              out.visual = { ...(it.visual as object), path: value };
            }
            return out;
          });
        },
        // The judge answers for the drafts it was shown, then adds a DROP for existing questions:
        // by their plain id and by a ../ id that resolves to them.
        judge: (items) => {
          const extra = [questions[0]!, questions[1]!].flatMap((q) => {
            const [, track, area, file] = q.split('/') as [string, string, string, string];
            const id = file.replace(/\.yaml$/, '');
            judgeTargets.push(q);
            return [id, `../../${track}/${area}/${id}`].map((x) => ({ ...items[0], id: x, verdict: 'DROP', issues: ['Drop this one.'], fix_suggestion: '' }));
          });
          return [...items, ...extra];
        },
      });
      await afterRun(redis, runConfig(vault, server), [server], async ({ runId, state, host }) => {
        expect(state.status, state.stopReason ?? '').toBe('completed');
        // The attack was real: every rewritten field names a file that existed before the run.
        expect(aimed.filter((a) => a.field === 'id').length).toBeGreaterThan(0);
        expect(aimed.filter((a) => a.field === 'visual.path').length).toBeGreaterThan(0);
        expect(judgeTargets.length).toBeGreaterThan(0);
        for (const a of aimed) expect(original.has(a.resolves), `${a.field} ${a.value} -> ${a.resolves}`).toBe(true);

        const { drafts, verdicts } = await expectRunApplied(host, vault, runId);
        // Those existing files are unchanged (and so is every other original); only drafts were added.
        for (const f of [...aimed.map((a) => a.resolves), ...judgeTargets]) {
          expect(existsSync(join(vault, f)), f).toBe(true);
          expect(readFileSync(join(vault, f)).equals(original.get(f)!), `${f} byte-identical`).toBe(true);
        }
        expectOriginalsIntactAndOnlyDrafts(vault, runId, original, drafts);
        // Each draft has a freshly minted id of its track, not the model's, and no existing id.
        const existingIds = new Set(questions.map((q) => posix.basename(q, '.yaml')));
        for (const d of drafts.values()) {
          expect(d.id).toMatch(new RegExp(`^${d.track}-\\d+$`));
          expect(existingIds.has(d.id), d.id).toBe(false);
          expect(original.has(d.path), d.path).toBe(false);
        }
        // The judge's DROPs for existing questions were not applied to anything.
        for (const v of verdicts.values()) expect(drafts.has(v.id), v.id).toBe(true);
        // Not silently: each ignored field is named in the draft's notes.
        const noted = readRecords(vault, runId).iters.flatMap((i) => i.record!.generation_notes);
        expect(noted.length).toBe(drafts.size);
        const ids = aimed.filter((a) => a.field === 'id').map((a) => a.value);
        for (const n of noted) {
          const idNote = n.notes.find((x) => x.startsWith(`model's id "`));
          expect(idNote, n.id).toBeDefined();
          expect(ids.some((v) => idNote === `model's id ${JSON.stringify(v)} ignored (it points outside its folder): ids and paths are minted by the pipeline`), idNote).toBe(true);
          expect(n.notes.some((x) => x.startsWith(`model's path "questions/`) && x.endsWith('ignored: ids and paths are minted by the pipeline'))).toBe(true);
        }
      });
    });
  });
});
