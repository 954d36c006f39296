/**
 * The review page's data and HTML: a run's judged drafts (NEEDS_FIX, optionally PASS) with the
 * judge's findings beside the question's own text and its rendered visual. Every text shown comes
 * from model-written files or verdicts, so every text is escaped, and the page carries no script.
 * The actions themselves are src/services/review.ts reviewDraft, called by app.ts.
 */
import { readFile, realpath, stat } from 'node:fs/promises';
import { relative, isAbsolute, sep } from 'node:path';
import { DEFAULT_MAX_FILE_BYTES, parseQuestionText, sha256 } from '../src/corpus/loader.js';
import { isMapping } from '../src/util/mapping.js';
import { safeVaultPath } from '../src/corpus/writer.js';
import { UnsafePathError } from '../src/errors.js';
import type { AppliedVerdict, RunState, RunStore, VerdictHistoryEntry } from '../src/state/run-state.js';
import type { Role } from './auth.js';
import { esc, VERDICT_COLORS } from './charts.js';
import { layout } from './views.js';

export type Verdict = AppliedVerdict['verdict'];
export const VERDICTS: readonly Verdict[] = ['PASS', 'NEEDS_FIX', 'DROP'];

/** Draft ids and track names as the pipeline mints them: no separators, no dot-dot, no NUL. */
const SAFE_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]*$/;
export const isSafeName = (s: string): boolean => SAFE_NAME.test(s) && s.length <= 120;

export interface DraftText {
  title: string;
  scenario: string;
  question: string;
  solution: string;
  commonMistake: string;
  napkinMath: string;
  visualAlt: string;
}

export interface ReviewItem {
  id: string;
  iter: number;
  track: string;
  path: string;
  verdict: Verdict;
  criteria: Record<string, string>;
  issues: string[];
  fix_suggestion: string;
  reasoning: string | null;
  round: number;
  history: VerdictHistoryEntry[];
  applied: AppliedVerdict['applied'];
  review: AppliedVerdict['review'] | null;
  /** The file against what was judged: a reject of an edited file is refused. */
  file: 'as-judged' | 'edited' | 'missing' | 'unreadable';
  /** The question's text (null when the file is gone or not a YAML mapping). */
  text: DraftText | null;
  /** Where the rendered SVG is served (null: the draft has none on disk). */
  svgUrl: string | null;
}

const str = (v: unknown): string => (typeof v === 'string' ? v : v === undefined || v === null ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v));
const obj = (v: unknown): Record<string, unknown> => (isMapping(v) ? v : {});

/** questions/<track>/<area>/<id>.yaml → <track>. */
const trackOfPath = (p: string): string => p.split('/')[1] ?? '';

/**
 * Parses a verdict filter (`?verdict=NEEDS_FIX,PASS`, repeatable). Returns null when a value is
 * not a verdict, so the caller can answer 400.
 */
export function parseVerdictFilter(raw: unknown, fallback: readonly Verdict[]): Verdict[] | null {
  if (raw === undefined) return [...fallback];
  const parts = (Array.isArray(raw) ? raw : [raw]).flatMap((x) => String(x).split(',')).map((x) => x.trim().toUpperCase()).filter(Boolean);
  if (parts.length === 0 || parts.some((p) => !(VERDICTS as readonly string[]).includes(p))) return null;
  return [...new Set(parts)] as Verdict[];
}

/** The URL the review page shows a draft's SVG from. */
export const svgRoute = (runId: string, track: string, id: string): string => `/runs/${encodeURIComponent(runId)}/visuals/${encodeURIComponent(track)}/${encodeURIComponent(id)}.svg`;

async function draftFile(vault: string, v: AppliedVerdict): Promise<{ file: ReviewItem['file']; text: DraftText | null }> {
  let abs: string;
  try {
    abs = safeVaultPath(vault, v.path);
  } catch {
    return { file: 'unreadable', text: null };
  }
  let bytes: Buffer;
  try {
    const st = await stat(abs);
    if (!st.isFile() || st.size > DEFAULT_MAX_FILE_BYTES) return { file: 'unreadable', text: null };
    bytes = await readFile(abs);
  } catch (e) {
    return { file: (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'missing' : 'unreadable', text: null };
  }
  const file = sha256(bytes) === v.fileHash ? 'as-judged' : 'edited';
  const { doc } = parseQuestionText(bytes.toString('utf8'), v.path);
  if (!doc) return { file, text: null };
  const details = obj(doc.details);
  return {
    file,
    text: {
      title: str(doc.title),
      scenario: str(doc.scenario),
      question: str(doc.question),
      solution: str(details.realistic_solution),
      commonMistake: str(details.common_mistake),
      napkinMath: str(details.napkin_math),
      visualAlt: str(obj(doc.visual).alt),
    },
  };
}

/** The run's judged drafts whose verdict is in `verdicts`, oldest iteration first. */
export async function reviewItems(store: RunStore, run: RunState, verdicts: readonly Verdict[]): Promise<ReviewItem[]> {
  const [all, drafts] = await Promise.all([store.verdicts(run.runId), store.drafts(run.runId)]);
  const chosen = [...all.values()].filter((v) => verdicts.includes(v.verdict)).sort((a, b) => a.iter - b.iter || a.id.localeCompare(b.id));
  return Promise.all(
    chosen.map(async (v): Promise<ReviewItem> => {
      const track = drafts.get(v.id)?.track ?? trackOfPath(v.path);
      const { file, text } = await draftFile(run.vault, v);
      const svg = isSafeName(track) && isSafeName(v.id) ? await visualFile(run.vault, track, v.id) : null;
      return {
        id: v.id,
        iter: v.iter,
        track,
        path: v.path,
        verdict: v.verdict,
        criteria: v.criteria ?? {},
        issues: v.issues ?? [],
        fix_suggestion: v.fix_suggestion ?? '',
        reasoning: v.reasoning ?? null,
        round: v.round ?? 0,
        history: v.history ?? [],
        applied: v.applied,
        review: v.review ?? null,
        file,
        text,
        svgUrl: svg ? svgRoute(run.runId, track, v.id) : null,
      };
    }),
  );
}

/**
 * The absolute path of `visuals/<track>/<id>.svg` in `vault`, or null when there is no such regular
 * file. Throws UnsafePathError for names that would leave the vault, lexically or through a link.
 */
export async function visualFile(vault: string, track: string, id: string): Promise<string | null> {
  if (!isSafeName(track) || !isSafeName(id)) throw new UnsafePathError(`visuals/${JSON.stringify(track)}/${JSON.stringify(id)}.svg is not a visual of this vault`);
  const abs = safeVaultPath(vault, 'visuals', track, `${id}.svg`);
  let real: string;
  let root: string;
  try {
    [real, root] = await Promise.all([realpath(abs), realpath(vault)]);
  } catch {
    return null;
  }
  // A symlink planted in visuals/ must not serve a file from elsewhere.
  const rel = relative(root, real);
  if (rel === '' || rel.startsWith(`..${sep}`) || rel === '..' || isAbsolute(rel)) throw new UnsafePathError(`visuals/${track}/${id}.svg resolves outside the vault`);
  const st = await stat(real).catch(() => null);
  return st?.isFile() ? real : null;
}

// ---- HTML ----

const REVIEW_CSS = `
.draft{background:#fff;border:1px solid #dde1e6;border-radius:6px;margin:0 0 1rem;padding:.6rem .9rem}
.draft h2{font-size:1.05rem;margin:.2rem 0 .4rem}.cols{display:flex;gap:1.2rem;flex-wrap:wrap}
.cols>div{flex:1 1 26rem;min-width:20rem}.txt{white-space:pre-wrap;margin:.1rem 0 .6rem}
dt{font-weight:bold;font-size:.85rem;color:#444}dd{margin:0 0 .5rem}
.verdict{padding:.1rem .45rem;border-radius:.6rem;font-size:.8rem;color:#fff}
.review{padding:.2rem .5rem;border-radius:4px;font-size:.85rem;background:#eef1f4}
.review-accepted{background:#d4efdf}.review-rejected{background:#f5d5d1}.review-sent-to-revision{background:#fcf3cf}
.visual img{max-width:100%;border:1px solid #dde1e6;background:#fff}
.history{font-size:.85rem}.warn{color:#a04000}
`;

const REVIEW_LABEL: Record<NonNullable<AppliedVerdict['review']>['action'], string> = { accepted: 'accepted', rejected: 'rejected', 'sent-to-revision': 'sent to revision' };
const FILE_LABEL: Record<ReviewItem['file'], string> = {
  'as-judged': '',
  edited: 'the file was edited since it was judged (reject is refused)',
  missing: 'the file is gone',
  unreadable: 'the file cannot be read',
};

const verdictBadge = (v: string): string => `<span class="verdict" style="background:${VERDICT_COLORS[v as Verdict] ?? '#777'}">${esc(v)}</span>`;
const para = (label: string, text: string, cls: string): string => (text ? `<dt>${esc(label)}</dt><dd class="txt ${cls}">${esc(text)}</dd>` : '');

function itemHtml(runId: string, it: ReviewItem, role: Role, include: boolean): string {
  const base = `/api/runs/${encodeURIComponent(runId)}/drafts/${encodeURIComponent(it.id)}`;
  const gone = it.applied === 'pruned' || it.applied === 'already-gone' || it.review?.action === 'rejected';
  const button = (action: string, label: string) =>
    `<form class="inline" method="post" action="${base}/${action}">${include ? '<input type="hidden" name="include" value="pass">' : ''}<button type="submit" class="${action}">${label}</button></form>`;
  let h = `<section class="draft" id="draft-${esc(it.id)}" data-draft="${esc(it.id)}" data-verdict="${esc(it.verdict)}" data-review="${esc(it.review?.action ?? '')}">`;
  h += `<h2>${verdictBadge(it.verdict)} <code>${esc(it.id)}</code> ${esc(it.text?.title ?? '')}</h2>`;
  h += `<p class="muted">iteration ${it.iter} · track ${esc(it.track)} · <code>${esc(it.path)}</code>${it.round > 0 ? ` · revision round ${it.round}` : ''}</p>`;
  h += it.review
    ? `<p class="review review-${esc(it.review.action)}">${esc(REVIEW_LABEL[it.review.action] ?? it.review.action)} by <b>${esc(it.review.by)}</b> at ${esc(it.review.at.slice(0, 19).replace('T', ' '))} UTC${it.review.note ? ` — ${esc(it.review.note)}` : ''}</p>`
    : '<p class="review">not reviewed yet</p>';
  if (FILE_LABEL[it.file] && !gone) h += `<p class="warn">${esc(FILE_LABEL[it.file])}</p>`;
  h += '<div class="cols"><div><h3>Question</h3>';
  if (it.text) {
    h += '<dl>';
    h += para('scenario', it.text.scenario, 'scenario');
    h += para('question', it.text.question, 'question');
    h += para('realistic solution', it.text.solution, 'solution');
    h += para('common mistake', it.text.commonMistake, 'mistake');
    h += para('napkin math', it.text.napkinMath, 'napkin');
    h += '</dl>';
  } else h += `<p class="muted">${gone ? 'deleted' : esc(FILE_LABEL[it.file] || 'not a YAML mapping')}</p>`;
  if (it.svgUrl) h += `<div class="visual"><h3>Visual</h3><img src="${esc(it.svgUrl)}" alt="${esc(it.text?.visualAlt ?? '')}"></div>`;
  h += '</div><div><h3>Judge</h3><dl>';
  const crit = Object.entries(it.criteria);
  if (crit.length) h += `<dt>criteria</dt><dd><table class="criteria">${crit.map(([k, v]) => `<tr><td>${esc(k)}</td><td>${esc(v)}</td></tr>`).join('')}</table></dd>`;
  if (it.issues.length) h += `<dt>issues</dt><dd><ul class="issues">${it.issues.map((i) => `<li>${esc(i)}</li>`).join('')}</ul></dd>`;
  h += para('fix suggestion', it.fix_suggestion, 'fix');
  h += para('reasoning', it.reasoning ?? '', 'reasoning');
  h += '</dl>';
  if (it.history.length) {
    h += '<h3>Earlier verdicts</h3><ol class="history">';
    for (const e of it.history) h += `<li>round ${e.round}: ${verdictBadge(e.verdict)}${e.issues.length ? `<ul>${e.issues.map((i) => `<li>${esc(i)}</li>`).join('')}</ul>` : ''}${e.fix_suggestion ? `<div class="txt">fix: ${esc(e.fix_suggestion)}</div>` : ''}</li>`;
    h += '</ol>';
  }
  if (role === 'operator' && !gone) h += `<div class="actions">${button('accept', 'accept')}${button('reject', 'reject')}${button('revise', 'send to revision')}</div>`;
  h += '</div></div></section>';
  return h;
}

export function reviewPage(run: RunState, items: ReviewItem[], role: Role, includePass: boolean): string {
  const id = encodeURIComponent(run.runId);
  const counts = (v: Verdict) => items.filter((i) => i.verdict === v).length;
  let body = `<style>${REVIEW_CSS}</style><p><a href="/runs/${id}">← run ${esc(run.runId)}</a></p>`;
  body += `<h1>Review drafts of run ${esc(run.runId)}</h1>`;
  body += `<p class="muted" id="review-counts">${counts('NEEDS_FIX')} NEEDS_FIX${includePass ? ` · ${counts('PASS')} PASS` : ''} · ` +
    (includePass ? `<a id="toggle-pass" href="/runs/${id}/review">hide PASS drafts</a>` : `<a id="toggle-pass" href="/runs/${id}/review?include=pass">show PASS drafts too</a>`) +
    (role === 'operator' ? '' : ' · viewers cannot review') +
    '</p>';
  body += '<p class="muted">accept keeps a draft for promotion · reject deletes its files (only if unchanged since judging) · send to revision marks it for the next <code>vault-loop revise</code></p>';
  if (items.length === 0) body += '<p id="review-none">No drafts to review.</p>';
  for (const it of items) body += itemHtml(run.runId, it, role, includePass);
  return layout(`vault-loop review ${run.runId}`, body, { role });
}

/** A refused form action, as a page with the way back (a script gets JSON instead). */
export function reviewErrorPage(runId: string, message: string, role: Role): string {
  return layout('review refused', `<h1>Not done</h1><p id="review-error">${esc(message)}</p><p><a href="/runs/${encodeURIComponent(runId)}/review">back to the review page</a></p>`, { role });
}
