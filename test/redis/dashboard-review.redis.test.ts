/**
 * The review API over real Redis, a real finished run (offline provider, defects on, visuals on)
 * and real files: who may review, what a refused review says, that ids and visual paths cannot
 * leave the vault, and that model-written text is escaped on the page.
 */
import { appendFileSync, existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { ReviewItem, RunningDashboard } from '../../dashboard/index.js';
import { RunStore, type AppliedVerdict } from '../../src/state/run-state.js';
import { fileDashboard } from '../helpers/dashboard.js';
import { freshVault, judgedRun, readRecords, testConfig } from '../helpers/pipeline.js';

const file = fileDashboard('dashboard-review');
const { redis, operator: OPERATOR, viewer: VIEWER } = file;
let dash: RunningDashboard;
let runId: string;
let vault: string;
let store: RunStore;
let needsFix: AppliedVerdict[];
let passing: AppliedVerdict[];

beforeAll(async () => {
  vault = await freshVault(300, 61);
  // Only soft defects: drafts are kept (PASS or NEEDS_FIX) whatever the run id, so kept visuals exist.
  const cfg = testConfig(redis, vault, { offlineDefectRate: 0.8, offlineDefectKinds: ['form', 'malformed-area'], visualEachIter: true, strategy: 'balanced', maxIters: 1, maxDropRate: 1, maxCalls: 100, genBatchSize: 10, genCallsPerIter: 3, judgeChunkSize: 10 });
  const run = await judgedRun(redis, cfg);
  ({ runId, store, needsFix, pass: passing } = run);
  const all = run.all;
  expect(needsFix.length).toBeGreaterThanOrEqual(4);
  expect(all.some((v) => v.verdict === 'DROP')).toBe(false);
  dash = await file.open();
}, 90_000);

const bearer = (t: string) => ({ authorization: `Bearer ${t}` });
const get = (path: string, headers: Record<string, string> = {}) => fetch(new URL(path, dash.url), { headers, redirect: 'manual' });
const post = (path: string, headers: Record<string, string> = {}, body?: string) => fetch(new URL(path, dash.url), { method: 'POST', headers, redirect: 'manual', ...(body === undefined ? {} : { body }) });
const action = (id: string, a: string) => `/api/runs/${runId}/drafts/${encodeURIComponent(id)}/${a}`;

describe('review: reading', () => {
  it('GET /api/runs/:id/drafts lists the NEEDS_FIX drafts with the judge findings and the question text', async () => {
    const res = await get(`/api/runs/${runId}/drafts?verdict=NEEDS_FIX`, bearer(VIEWER));
    expect(res.status).toBe(200);
    const body = (await res.json()) as { verdicts: string[]; drafts: ReviewItem[] };
    expect(body.verdicts).toEqual(['NEEDS_FIX']);
    expect(body.drafts.map((d) => d.id).sort()).toEqual(needsFix.map((v) => v.id));
    const d = body.drafts[0]!;
    const v = needsFix.find((x) => x.id === d.id)!;
    expect(d.issues).toEqual(v.issues);
    expect(d.fix_suggestion).toBe(v.fix_suggestion);
    expect(d.criteria).toEqual(v.criteria);
    expect(d.file).toBe('as-judged');
    // The text is the file's own.
    const yaml = readFileSync(join(vault, d.path), 'utf8');
    expect(d.text!.title.length).toBeGreaterThan(0);
    expect(yaml).toContain(d.text!.title.slice(0, 20));
    expect(d.text!.question.length).toBeGreaterThan(0);
    // Both verdicts, and a bad filter is a 400.
    const both = (await (await get(`/api/runs/${runId}/drafts?verdict=NEEDS_FIX,PASS`, bearer(VIEWER))).json()) as { drafts: ReviewItem[] };
    expect(both.drafts).toHaveLength(needsFix.length + passing.length);
    const bad = await get(`/api/runs/${runId}/drafts?verdict=GOOD`, bearer(VIEWER));
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: string }).error).toMatch(/verdict must be PASS, NEEDS_FIX or DROP/);
    expect((await get(`/api/runs/no-such-run/drafts`, bearer(VIEWER))).status).toBe(404);
  });

  it('the review page: operators get buttons, viewers none; a strict CSP; PASS drafts only with ?include=pass', async () => {
    const op = await get(`/runs/${runId}/review`, bearer(OPERATOR));
    expect(op.status).toBe(200);
    expect(op.headers.get('content-security-policy')).toMatch(/default-src 'none'/);
    const opHtml = await op.text();
    for (const v of needsFix) expect(opHtml).toContain(`data-draft="${v.id}"`);
    for (const v of passing) expect(opHtml).not.toContain(`data-draft="${v.id}"`);
    expect(opHtml).toContain(`action="/api/runs/${runId}/drafts/${needsFix[0]!.id}/accept"`);
    expect(opHtml).toContain('>send to revision</button>');
    const viewerHtml = await (await get(`/runs/${runId}/review`, bearer(VIEWER))).text();
    expect(viewerHtml).toContain(`data-draft="${needsFix[0]!.id}"`);
    expect(viewerHtml).not.toContain('<button');
    const withPass = await (await get(`/runs/${runId}/review?include=pass`, bearer(VIEWER))).text();
    for (const v of passing) expect(withPass).toContain(`data-draft="${v.id}"`);
    // The run page links to it.
    expect(await (await get(`/runs/${runId}`, bearer(VIEWER))).text()).toContain(`href="/runs/${runId}/review"`);
  });

  it('model-written text cannot inject HTML', async () => {
    const v = needsFix.at(-1)!;
    const abs = join(vault, v.path);
    const original = readFileSync(abs, 'utf8');
    try {
      writeFileSync(abs, original.replace(/^title: .*$/m, `title: '<script>alert(1)</script><img src=x onerror=alert(2)>'`));
      const html = await (await get(`/runs/${runId}/review`, bearer(VIEWER))).text();
      expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=alert(2)&gt;');
      expect(html).not.toContain('<script>alert(1)');
      expect(html).not.toContain('<img src=x');
      expect(html).toMatch(/the file was edited since it was judged/);
    } finally {
      writeFileSync(abs, original);
    }
  });
});

describe('review: who may act', () => {
  it('no token → 401, a viewer → 403, another origin → 403; nothing is recorded', async () => {
    const id = needsFix[0]!.id;
    const before = (await store.verdicts(runId)).get(id);
    const none = await post(action(id, 'accept'));
    expect(none.status).toBe(401);
    expect(await none.json()).toEqual({ error: 'authentication required' });
    for (const a of ['accept', 'reject', 'revise']) {
      const res = await post(action(id, a), bearer(VIEWER));
      expect(res.status, a).toBe(403);
      expect(await res.json()).toEqual({ error: 'viewers cannot change anything' });
    }
    expect((await post(action(id, 'reject'), { ...bearer(OPERATOR), origin: 'http://evil.example' })).status).toBe(403);
    expect((await store.verdicts(runId)).get(id)).toEqual(before);
    expect(existsSync(join(vault, needsFix[0]!.path))).toBe(true);
  });

  it('an operator accepts (JSON) and sends to revision (form → 303 back to the review page); both are recorded with who and when', async () => {
    const [a, r] = needsFix;
    const res = await post(action(a!.id, 'accept'), { ...bearer(OPERATOR), 'content-type': 'application/json' }, JSON.stringify({ note: 'good enough' }));
    expect(res.status).toBe(200);
    const body = (await res.json()) as { draft: AppliedVerdict };
    expect(body.draft.review).toMatchObject({ action: 'accepted', by: 'operator', note: 'good enough' });
    const form = await post(action(r!.id, 'revise'), { ...bearer(OPERATOR), 'content-type': 'application/x-www-form-urlencoded', origin: dash.url.slice(0, -1) }, 'include=pass');
    expect(form.status).toBe(303);
    expect(form.headers.get('location')).toBe(`/runs/${runId}/review?include=pass#draft-${r!.id}`);
    const stored = await store.verdicts(runId);
    expect(stored.get(a!.id)!.review).toMatchObject({ action: 'accepted', by: 'operator' });
    expect(stored.get(r!.id)!.review).toMatchObject({ action: 'sent-to-revision', by: 'operator' });
    expect(Date.parse(stored.get(r!.id)!.review!.at)).toBeGreaterThan(Date.now() - 60_000);
    const details = readRecords(vault, runId).iters[0]!.judge!.details;
    expect(details.find((d) => d.id === a!.id)!.review).toMatchObject({ action: 'accepted', by: 'operator' });
    // The page says so.
    const html = await (await get(`/runs/${runId}/review`, bearer(VIEWER))).text();
    expect(html).toMatch(new RegExp(`data-draft="${a!.id}"[^>]*data-review="accepted"`));
    expect(html).toMatch(/accepted by <b>operator<\/b>/);
    expect(html).toMatch(/sent to revision by <b>operator<\/b>/);
  });

  it('reject of a draft edited since judging → 409 with a clear message, and the file stays', async () => {
    const v = needsFix[2]!;
    appendFileSync(join(vault, v.path), '# edited by a person\n');
    const res = await post(action(v.id, 'reject'), bearer(OPERATOR));
    expect(res.status).toBe(409);
    expect(await res.json()).toEqual({ error: `draft ${v.id} was edited since it was judged; not deleted` });
    expect(existsSync(join(vault, v.path))).toBe(true);
    expect((await store.verdicts(runId)).get(v.id)!.review).toBeUndefined();
    // A browser form gets a page that says the same, with the way back.
    const form = await post(action(v.id, 'reject'), { ...bearer(OPERATOR), 'content-type': 'application/x-www-form-urlencoded' }, '');
    expect(form.status).toBe(409);
    const html = await form.text();
    expect(html).toContain('was edited since it was judged; not deleted');
    expect(html).toContain(`href="/runs/${runId}/review"`);
  });

  it('reject of an unchanged draft deletes it; a second review of it → 409; an unknown id → 404', async () => {
    const v = needsFix[3]!;
    const res = await post(action(v.id, 'reject'), bearer(OPERATOR));
    expect(res.status).toBe(200);
    expect(existsSync(join(vault, v.path))).toBe(false);
    const again = await post(action(v.id, 'accept'), bearer(OPERATOR));
    expect(again.status).toBe(409);
    expect(((await again.json()) as { error: string }).error).toMatch(/already deleted/);
    const unknown = await post(action('nope-0001', 'accept'), bearer(OPERATOR));
    expect(unknown.status).toBe(404);
    expect(((await unknown.json()) as { error: string }).error).toMatch(/no verdict/);
  });

  it('a draft id with ../ is refused before anything is touched', async () => {
    // ('..' alone never reaches the server: URLs drop dot segments.)
    for (const id of ['..%2F..%2Fetc%2Fpasswd', '..%5C..%5Cwindows', '.%2E%2Fx', 'a%00b']) {
      const res = await post(`/api/runs/${runId}/drafts/${id}/reject`, bearer(OPERATOR));
      expect(res.status, id).toBe(400);
      expect(((await res.json()) as { error: string }).error, id).toMatch(/invalid draft id/);
    }
  });
});

describe('review: visuals', () => {
  it('a kept draft SVG is served as image/svg+xml under a strict CSP, and the page shows it', async () => {
    const list = (await (await get(`/api/runs/${runId}/drafts?verdict=NEEDS_FIX,PASS`, bearer(VIEWER))).json()) as { drafts: ReviewItem[] };
    const withSvg = list.drafts.filter((d) => d.svgUrl);
    expect(withSvg.length).toBeGreaterThan(0);
    const d = withSvg[0]!;
    expect(d.svgUrl).toBe(`/runs/${runId}/visuals/${d.track}/${d.id}.svg`);
    const res = await get(d.svgUrl!, bearer(VIEWER));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^image\/svg\+xml/);
    expect(res.headers.get('content-security-policy')).toBe("default-src 'none'; style-src 'unsafe-inline'");
    expect(await res.text()).toBe(readFileSync(join(vault, 'visuals', d.track, `${d.id}.svg`), 'utf8'));
    const html = await (await get(`/runs/${runId}/review?include=pass`, bearer(VIEWER))).text();
    expect(html).toContain(`<img src="${d.svgUrl}"`);
  });

  it('the SVG route refuses paths outside the vault, other extensions and symlinks that leave it', async () => {
    const track = needsFix[0]!.path.split('/')[1]!;
    for (const path of [
      `/runs/${runId}/visuals/${track}/..%2F..%2F..%2Fetc%2Fpasswd.svg`,
      `/runs/${runId}/visuals/..%2F..%2Fquestions/x.svg`,
      `/runs/${runId}/visuals/..%2F..%2F..%2F..%2F..%2Fetc/passwd.svg`,
      `/runs/${runId}/visuals/${track}/${needsFix[0]!.id}.dot`,
    ]) {
      const res = await get(path, bearer(OPERATOR));
      expect(res.status, path).toBe(400);
    }
    // A link planted in visuals/<track>/ that points out of the vault.
    const outside = join(tmpdir(), `review-outside-${process.pid}.svg`);
    writeFileSync(outside, '<svg xmlns="http://www.w3.org/2000/svg"><text>secret</text></svg>');
    mkdirSync(join(vault, 'visuals', track), { recursive: true });
    symlinkSync(outside, join(vault, 'visuals', track, 'planted-0001.svg'));
    const res = await get(`/runs/${runId}/visuals/${track}/planted-0001.svg`, bearer(OPERATOR));
    expect(res.status).toBe(400);
    expect(await res.text()).not.toContain('secret');
    expect((await get(`/runs/${runId}/visuals/${track}/absent-0001.svg`, bearer(OPERATOR))).status).toBe(404);
    expect((await get(`/runs/${runId}/visuals/${track}/${needsFix[0]!.id}.svg`)).status).toBe(401);
  });
});
