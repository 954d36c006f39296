/**
 * The pre-judge on its labelled set: `npm run bench -- prejudge [--questions 100000]`.
 *
 * (a) Recall and false-flag rate per class and overall on test/fixtures/prejudge/labelled.jsonl
 *     (drafts written for it, with tricky-but-correct items in every class), each draft checked
 *     exactly as the dispatch does it (prejudge against the fixture vault). A defect counts as
 *     caught when any finding of a defect kind names it (certain or evidence); a correct draft is
 *     falsely flagged by any such finding, and falsely DROPPED by a certain one.
 *     Goals: recall ≥ 0.9, no false DROP, false flags ≤ 2 %.
 * (b) The near-duplicate precision/recall curve on the labelled pairs (each near-duplicate draft
 *     and each correct draft against its nearest vault question), from which the threshold is chosen.
 * (c) Speed: the pre-judge per draft with mathjs already loaded, against building the judge
 *     prompt for the same draft (the work the judge path already does); mathjs's one-time load;
 *     and an index of --questions synthetic questions: LSH query vs a full scan of every question.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_NEAR_DUP_THRESHOLD, NearDupIndex, prejudge, similarityScores, type DraftDoc } from '../src/checks/index.js';
import { Applicability } from '../src/corpus/taxonomy.js';
import { synthesizeQuestions } from '../src/corpus/synth.js';
import { buildJudgePrompt } from '../src/llm/prompts.js';
import { toPromptDraft } from '../src/core/judge-chunk.js';

const here = dirname(fileURLToPath(import.meta.url));
const fixtures = join(here, '..', 'test', 'fixtures', 'prejudge');

function flag(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : dflt;
}

interface Labelled {
  id: string;
  class: string;
  defect: boolean;
  note: string;
  draft: DraftDoc;
}

const readJsonl = <T>(file: string): T[] =>
  readFileSync(join(fixtures, file), 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as T);

const items = readJsonl<Labelled>('labelled.jsonl');
const vaultDocs = readJsonl<DraftDoc>('vault.jsonl');
const vault = new NearDupIndex();
for (const v of vaultDocs) vault.add(String(v.id), v);

/** Finding kinds that report a defect (form and realism are style notes, not these classes). */
const DEFECT_KINDS = new Set(['schema', 'area', 'arithmetic', 'units', 'near-duplicate', 'injection', 'cell-fit']);

const t0 = performance.now();
const rows = items.map((it) => {
  const { dropped, toJudge } = prejudge([{ id: it.id, doc: it.draft }], vault);
  const r = (dropped[0] ?? toJudge[0])!;
  const kinds = r.report.findings.filter((f) => DEFECT_KINDS.has(f.check));
  return { it, flagged: kinds.length > 0, dropped: dropped.length > 0, findings: kinds.map((f) => f.message) };
});
const firstPassMs = performance.now() - t0;

const classes = [...new Set(items.map((i) => i.class))];
const pct = (n: number, d: number) => (d === 0 ? '–' : `${((100 * n) / d).toFixed(1)} %`);
console.log('| class | defects caught | recall | correct drafts | falsely flagged | false DROP |');
console.log('|---|---|---|---|---|---|');
let [caught, defects, flaggedOk, ok, falseDrops] = [0, 0, 0, 0, 0];
for (const c of classes) {
  const mine = rows.filter((r) => r.it.class === c);
  const d = mine.filter((r) => r.it.defect);
  const o = mine.filter((r) => !r.it.defect);
  const cd = d.filter((r) => r.flagged).length;
  const fo = o.filter((r) => r.flagged).length;
  const fd = o.filter((r) => r.dropped).length;
  caught += cd;
  defects += d.length;
  flaggedOk += fo;
  ok += o.length;
  falseDrops += fd;
  console.log(`| ${c} | ${d.length ? `${cd} / ${d.length}` : '–'} | ${d.length ? (cd / d.length).toFixed(2) : '–'} | ${o.length} | ${fo} (${pct(fo, o.length)}) | ${fd} |`);
}
console.log(`| **overall** | ${caught} / ${defects} | ${(caught / defects).toFixed(2)} | ${ok} | ${flaggedOk} (${pct(flaggedOk, ok)}) | ${falseDrops} |`);
console.log(`\nrecall overall: ${(caught / defects).toFixed(3)} (goal ≥ 0.9)`);
console.log(`false flags overall: ${((100 * flaggedOk) / ok).toFixed(2)} % (goal ≤ 2 %)`);
console.log(`false DROPs: ${falseDrops} (goal 0)`);
for (const r of rows.filter((x) => x.it.defect && !x.flagged)) console.log(`  missed: [${r.it.class}] ${r.it.note}`);
for (const r of rows.filter((x) => !x.it.defect && x.flagged)) console.log(`  false flag${r.dropped ? ' (DROP)' : ''}: [${r.it.class}] ${r.it.note}: ${r.findings[0]}`);

// (b) near-duplicate precision/recall over thresholds
const pairs = items
  .filter((i) => i.class === 'near-duplicates' || i.class === 'clean')
  .map((i) => {
    const best = vaultDocs.map((v) => similarityScores(i.draft, v).similarity).reduce((a, b) => Math.max(a, b), 0);
    return { positive: i.defect, score: best };
  });
console.log(`\nnear-duplicate precision/recall (${pairs.filter((p) => p.positive).length} positive, ${pairs.filter((p) => !p.positive).length} negative pairs; in use: ${DEFAULT_NEAR_DUP_THRESHOLD}):`);
console.log('| threshold | precision | recall |');
console.log('|---|---|---|');
for (let t = 0.2; t <= 0.801; t += 0.05) {
  const tp = pairs.filter((p) => p.positive && p.score >= t).length;
  const fp = pairs.filter((p) => !p.positive && p.score >= t).length;
  const pos = pairs.filter((p) => p.positive).length;
  console.log(`| ${t.toFixed(2)} | ${tp + fp ? (tp / (tp + fp)).toFixed(2) : '–'} | ${(tp / pos).toFixed(2)} |`);
}

// (c) speed
const docs = items.map((i) => i.draft);
const reps = 3;
let t = performance.now();
for (let k = 0; k < reps; k++) for (const [n, d] of docs.entries()) prejudge([{ id: `r${n}`, doc: d }], vault);
const prejudgeMs = (performance.now() - t) / (reps * docs.length);
t = performance.now();
for (let k = 0; k < reps; k++) {
  for (const d of docs) {
    try {
      buildJudgePrompt([toPromptDraft(d, undefined, undefined, [])]);
    } catch {
      // a draft the prompt cannot show (no id) costs what it cost
    }
  }
}
const promptMs = (performance.now() - t) / (reps * docs.length);
console.log(`\nfirst pass over ${items.length} drafts (mathjs loaded on the way): ${firstPassMs.toFixed(0)} ms`);
console.log(`pre-judge per draft: ${prejudgeMs.toFixed(2)} ms; judge prompt build per draft: ${promptMs.toFixed(2)} ms`);
console.log(`pre-judge / judge prompt build: ${(prejudgeMs / promptMs).toFixed(2)}x`);

const n = Number(flag('questions', '100000'));
const synth = synthesizeQuestions(n, 7, Applicability.builtin()).map((q) => q.doc);
t = performance.now();
const big = new NearDupIndex();
for (const q of synth) big.add(String(q.id), q);
const buildMs = performance.now() - t;
const queries = synth.slice(0, 50);
t = performance.now();
for (const q of queries) big.query(q, { excludeId: String(q.id) });
const lshMs = (performance.now() - t) / queries.length;
const scanN = Math.min(synth.length, 2000);
t = performance.now();
for (const q of queries.slice(0, 5)) for (const other of synth.slice(0, scanN)) similarityScores(q, other);
const scanMs = ((performance.now() - t) / 5) * (synth.length / scanN);
console.log(`index of ${n} questions: built in ${(buildMs / 1000).toFixed(1)} s; query ${lshMs.toFixed(2)} ms; full scan (extrapolated from ${scanN}) ${scanMs.toFixed(0)} ms`);
console.log(`LSH query vs full scan: ${(scanMs / lshMs).toFixed(1)}x faster`);
