/**
 * The single entry point the render job calls: source text in, checked SVG text out. Pure apart
 * from the matplotlib sandbox's own temp folder; it reads and writes no vault files.
 */
import { UnsafePathError } from '../errors.js';
import { renderDot } from './dot.js';
import { assertSafeName } from './paths.js';
import { renderMatplotlib } from './python.js';
import { sanitizeSvg } from './sanitize.js';

export type VisualKind = 'dot' | 'matplotlib' | 'svg';

export interface RenderVisualInput {
  id: string;
  track: string;
  kind: VisualKind;
  /** The dot source, the python script, or the SVG text. */
  source: string;
  allowPython: boolean;
  /** The bubblewrap launcher for matplotlib (config `pythonSandbox`). */
  sandbox?: string;
  /** Matplotlib limits (defaults: 60 s, 2 MiB). */
  timeoutMs?: number;
  maxOutputBytes?: number;
}

export type RenderVisualResult = { ok: true; svg: string; warnings: string[] } | { ok: false; error: string; warnings?: string[] };

export async function renderVisual(input: RenderVisualInput): Promise<RenderVisualResult> {
  try {
    assertSafeName(input.track, 'track');
    assertSafeName(input.id, 'id');
  } catch (e) {
    if (e instanceof UnsafePathError) return { ok: false, error: e.message };
    throw e;
  }
  let raw: string;
  const warnings: string[] = [];
  switch (input.kind) {
    case 'dot': {
      const r = await renderDot(input.source);
      if (!r.ok) return r;
      raw = r.svg;
      break;
    }
    case 'matplotlib': {
      const r = await renderMatplotlib(input.source, { allowPython: input.allowPython, timeoutMs: input.timeoutMs, maxOutputBytes: input.maxOutputBytes, ...(input.sandbox ? { sandbox: input.sandbox } : {}) });
      if (!r.ok) return r;
      raw = r.svg;
      warnings.push(...r.warnings);
      break;
    }
    case 'svg':
      raw = input.source;
      break;
    default:
      return { ok: false, error: `unknown visual kind ${JSON.stringify(input.kind)} (expected dot, matplotlib or svg)` };
  }
  const checked = sanitizeSvg(raw, { source: input.kind, maxBytes: input.maxOutputBytes });
  warnings.push(...checked.warnings);
  if (checked.errors.length > 0) return { ok: false, error: `unsafe or invalid SVG: ${checked.errors.join('; ')}`, warnings };
  return { ok: true, svg: checked.svg, warnings };
}
