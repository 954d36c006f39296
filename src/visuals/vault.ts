/**
 * Renders the visuals of a whole vault (the `render` command; the original's render_visuals.py).
 * Discovery: every question with a `visual` mapping. The source is `visuals/<track>/<stem>.dot`
 * or `.py` beside the rendered `<stem>.svg` (stem from visual.rendered/path, else the id), or
 * `visual.source` when the YAML names one; with neither, the SVG is hand-written and only checked.
 * The generator writes `kind: svg` next to a .dot/.py source (SEED-SPEC §11.5), so a source
 * file on disk wins over the declared kind.
 *
 * Staleness: an SVG is re-rendered when it is missing, older than its source, or was rendered
 * from a source whose sha256 differs from today's (`visuals/.render-index.json`). An SVG with no
 * record that is newer than its source is trusted and recorded; a render that gives the bytes
 * already on disk rewrites nothing.
 */
import { lstat, readFile, realpath } from 'node:fs/promises';
import { NotRegularFileError, readRegularText } from '../util/files.js';
import { join, relative, resolve } from 'node:path';
import { loadVault, sha256, toPosix } from '../corpus/loader.js';
import { atomicWrite } from '../corpus/writer.js';
import { UnsafePathError } from '../errors.js';
import { assertInside, assertSafeName, visualFile } from './paths.js';
import { PYTHON_DISABLED } from './python.js';
import { renderVisual, type VisualKind } from './render.js';
import { sanitizeSvg } from './sanitize.js';
import { isMapping } from '../util/mapping.js';

export const RENDER_INDEX_FILE = 'visuals/.render-index.json';

export interface RenderIndexEntry {
  source: string;
  kind: VisualKind;
  sourceSha256: string;
  svgSha256: string;
  renderedAt: string;
}

export interface RenderIndex {
  version: 1;
  /** Keyed by the rendered SVG's path relative to the vault. */
  entries: Record<string, RenderIndexEntry>;
}

export interface RenderVaultOptions {
  vault: string;
  force?: boolean;
  /** Only this question id. */
  id?: string;
  allowPython?: boolean;
  /** The bubblewrap launcher for python visuals (config `pythonSandbox`). */
  sandbox?: string;
  /** Decide what is stale and report it; render and write nothing. */
  dryRun?: boolean;
  timeoutMs?: number;
  /** Clock for the index's renderedAt (tests). */
  now?: () => Date;
}

export type RenderItemStatus = 'rendered' | 'would-render' | 'skipped' | 'error';

export interface RenderItem {
  id: string;
  /** The question file, relative to the vault. */
  question: string;
  kind?: VisualKind;
  source?: string;
  output?: string;
  status: RenderItemStatus;
  /** Why it was rendered, skipped or failed. */
  reason: string;
  warnings: string[];
}

export interface RenderVaultReport {
  /** Rendered, or (dry run) would be rendered. */
  rendered: number;
  skipped: number;
  errors: number;
  items: RenderItem[];
}


async function statOrNull(p: string) {
  try {
    return await lstat(p);
  } catch {
    return null;
  }
}

export async function readRenderIndex(vault: string): Promise<RenderIndex> {
  try {
    const parsed = JSON.parse(await readFile(join(vault, RENDER_INDEX_FILE), 'utf8')) as RenderIndex;
    if (parsed && parsed.version === 1 && isMapping(parsed.entries)) return parsed;
  } catch {
    /* missing or unreadable: every SVG counts as unrecorded, so it is re-rendered once */
  }
  return { version: 1, entries: {} };
}

interface Planned {
  item: RenderItem;
  kind: VisualKind;
  srcAbs: string;
  outAbs: string;
  track: string;
}

/** Resolves one question's visual to its source and output, or an item that is already final. */
async function plan(vault: string, question: string, doc: Record<string, unknown>, visual: Record<string, unknown>): Promise<Planned | RenderItem> {
  const id = typeof doc.id === 'string' ? doc.id : question.split('/').pop()!.replace(/\.yaml$/, '');
  const base: RenderItem = { id, question, status: 'error', reason: '', warnings: [] };
  const track = typeof doc.track === 'string' && doc.track !== '' ? doc.track : 'global';
  const declared = visual.kind ?? 'svg';
  if (declared === 'mermaid') return { ...base, status: 'skipped', reason: 'mermaid visuals are reserved and not rendered' };
  if (declared !== 'svg' && declared !== 'dot' && declared !== 'matplotlib') {
    return { ...base, reason: `unsupported visual kind ${JSON.stringify(declared)} (expected svg, dot or matplotlib)` };
  }
  try {
    assertSafeName(id, 'id');
    const outName = [visual.rendered, visual.path].find((v) => typeof v === 'string') ?? `${id}.svg`;
    if (typeof outName !== 'string' || !outName.endsWith('.svg')) throw new UnsafePathError(`visual output ${JSON.stringify(outName)} must end in .svg`);
    const outAbs = visualFile(vault, track, outName);
    const stem = outName.slice(0, -'.svg'.length);
    let kind: VisualKind = declared;
    let srcAbs: string;
    if (typeof visual.source === 'string') {
      srcAbs = visualFile(vault, track, visual.source);
      if (kind === 'svg') kind = visual.source.endsWith('.dot') ? 'dot' : visual.source.endsWith('.py') ? 'matplotlib' : 'svg';
    } else if (kind === 'dot' || kind === 'matplotlib') {
      srcAbs = visualFile(vault, track, `${stem}.${kind === 'dot' ? 'dot' : 'py'}`);
    } else {
      const dot = visualFile(vault, track, `${stem}.dot`);
      const py = visualFile(vault, track, `${stem}.py`);
      if (await statOrNull(dot)) [kind, srcAbs] = ['dot', dot];
      else if (await statOrNull(py)) [kind, srcAbs] = ['matplotlib', py];
      else srcAbs = outAbs;
    }
    const rel = (p: string) => toPosix(relative(vault, p));
    const item: RenderItem = { ...base, kind, source: rel(srcAbs), output: rel(outAbs) };
    const st = await statOrNull(srcAbs);
    if (!st) return { ...item, reason: kind === 'svg' ? 'svg source missing' : `${kind} source missing` };
    if (st.isSymbolicLink()) assertInside(await realpath(vault), await realpath(srcAbs));
    return { item, kind, srcAbs, outAbs, track };
  } catch (e) {
    if (e instanceof UnsafePathError) return { ...base, reason: e.message };
    throw e;
  }
}

export async function renderVault(opts: RenderVaultOptions): Promise<RenderVaultReport> {
  const vault = resolve(opts.vault);
  const now = opts.now ?? (() => new Date());
  const { files } = await loadVault(vault);
  const index = await readRenderIndex(vault);
  const items: RenderItem[] = [];
  const seenOutputs = new Set<string>();
  let indexChanged = false;

  for (const f of files) {
    const visual = f.doc?.visual;
    if (!f.doc || !isMapping(visual)) continue;
    if (opts.id !== undefined && f.doc.id !== opts.id) continue;
    const p = await plan(vault, f.relPath, f.doc, visual);
    if (!('srcAbs' in p)) {
      items.push(p);
      continue;
    }
    const { item, kind, srcAbs, outAbs, track } = p;
    if (seenOutputs.has(item.output!)) continue;
    seenOutputs.add(item.output!);
    let source: string;
    try {
      source = await readRegularText(srcAbs);
    } catch (e) {
      // A FIFO or device planted as a visual source is reported, never waited on.
      if (!(e instanceof NotRegularFileError)) throw e;
      items.push({ ...item, status: 'error', reason: e.message });
      continue;
    }

    if (kind === 'svg') {
      // Hand-written: checked, never rewritten.
      const checked = sanitizeSvg(source, { source: 'svg' });
      items.push(
        checked.errors.length > 0
          ? { ...item, reason: `unsafe or invalid SVG: ${checked.errors.join('; ')}`, warnings: checked.warnings }
          : { ...item, status: 'skipped', reason: 'hand-written svg checked', warnings: checked.warnings },
      );
      continue;
    }

    const sourceSha256 = sha256(source);
    let reason = 'forced';
    if (!opts.force) {
      const [srcSt, outSt] = [await lstat(srcAbs), await statOrNull(outAbs)];
      const entry = index.entries[item.output!];
      if (!outSt) reason = 'svg missing';
      else if (srcSt.mtimeMs > outSt.mtimeMs) reason = 'source newer than svg';
      else if (!entry) {
        // An SVG newer than its source (committed with it, say) is trusted: recorded, not re-rendered,
        // so a first `render` does not churn a vault's history.
        if (!opts.dryRun) {
          index.entries[item.output!] = { source: item.source!, kind, sourceSha256, svgSha256: sha256(await readFile(outAbs)), renderedAt: now().toISOString() };
          indexChanged = true;
        }
        items.push({ ...item, status: 'skipped', reason: 'up to date (svg newer than its source; recorded)' });
        continue;
      } else if (entry.sourceSha256 !== sourceSha256) reason = 'source changed since the last render';
      else {
        items.push({ ...item, status: 'skipped', reason: 'up to date' });
        continue;
      }
    }
    if (kind === 'matplotlib' && !opts.allowPython) {
      items.push({ ...item, status: 'skipped', reason: PYTHON_DISABLED });
      continue;
    }
    if (opts.dryRun) {
      items.push({ ...item, status: 'would-render', reason });
      continue;
    }
    const r = await renderVisual({ id: item.id, track, kind, source, allowPython: Boolean(opts.allowPython), timeoutMs: opts.timeoutMs, ...(opts.sandbox ? { sandbox: opts.sandbox } : {}) });
    if (!r.ok) {
      items.push({ ...item, reason: r.error, warnings: r.warnings ?? [] });
      continue;
    }
    // The same bytes already on disk: recorded, not rewritten (no change to commit).
    const existing = await readFile(outAbs, 'utf8').catch(() => null);
    if (existing !== r.svg) await atomicWrite(outAbs, r.svg);
    index.entries[item.output!] = { source: item.source!, kind, sourceSha256, svgSha256: sha256(r.svg), renderedAt: now().toISOString() };
    indexChanged = true;
    items.push(existing === r.svg ? { ...item, status: 'skipped', reason: 'svg already matches its source; recorded', warnings: r.warnings } : { ...item, status: 'rendered', reason, warnings: r.warnings });
  }

  if (indexChanged) await atomicWrite(join(vault, RENDER_INDEX_FILE), `${JSON.stringify(index, null, 2)}\n`);
  const count = (...s: RenderItemStatus[]) => items.filter((i) => s.includes(i.status)).length;
  return { rendered: count('rendered', 'would-render'), skipped: count('skipped'), errors: count('error'), items };
}
