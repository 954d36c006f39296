/**
 * Renders Graphviz dot to SVG with the WASM build of Graphviz, in-process (loaded once, reused).
 * Model-written dot is screened first: attributes that link out or read files (URL, href, image,
 * fontpath, shapefile, …) and HTML labels with <IMG>/HREF are refused with the line they are on.
 * The screen tokenizes dot (strings, `+` concatenation, HTML strings, comments), so quoting an
 * attribute name (`"URL"=…`) or splitting it (`"UR" + "L"=…`) does not slip past it.
 */
import { Graphviz } from '@hpcc-js/wasm-graphviz';

export type RenderOutcome = { ok: true; svg: string } | { ok: false; error: string };

export interface DotOptions {
  /** Larger sources are refused (default 64 KiB). Layout runs synchronously, so size is the time bound. */
  maxSourceBytes?: number;
}

export const DEFAULT_MAX_DOT_BYTES = 64 * 1024;

/** Attribute names that make Graphviz emit links or read files (lower-cased; matched case-insensitively). */
export const FORBIDDEN_DOT_ATTRIBUTES: readonly string[] = [
  'href',
  'url',
  'labelurl',
  'labelhref',
  'edgeurl',
  'edgehref',
  'headurl',
  'headhref',
  'tailurl',
  'tailhref',
  'target',
  'labeltarget',
  'edgetarget',
  'headtarget',
  'tailtarget',
  'image',
  'imagepath',
  'fontpath',
  'shapefile',
  'stylesheet',
];
const FORBIDDEN = new Set(FORBIDDEN_DOT_ATTRIBUTES);

interface DotToken {
  kind: 'id' | 'string' | 'html' | 'punct';
  value: string;
  line: number;
}

class DotScreenError extends Error {}

function tokenizeDot(src: string): DotToken[] {
  const out: DotToken[] = [];
  let i = 0;
  let line = 1;
  const fail = (msg: string): never => {
    throw new DotScreenError(`line ${line}: ${msg}`);
  };
  while (i < src.length) {
    const c = src[i]!;
    if (c === '\n') {
      line++;
      i++;
      continue;
    }
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (src.startsWith('//', i) || (c === '#' && (i === 0 || src[i - 1] === '\n'))) {
      while (i < src.length && src[i] !== '\n') i++;
      continue;
    }
    if (src.startsWith('/*', i)) {
      const end = src.indexOf('*/', i + 2);
      if (end < 0) fail('unterminated /* comment');
      for (let k = i; k < end; k++) if (src[k] === '\n') line++;
      i = end + 2;
      continue;
    }
    if (c === '"') {
      const startLine = line;
      let v = '';
      i++;
      for (;;) {
        if (i >= src.length) fail('unterminated string');
        const d = src[i]!;
        if (d === '\\' && i + 1 < src.length) {
          const e = src[i + 1]!;
          // `\` + newline is a line continuation; `\"` an escaped quote; other escapes (\n, \l) stay as written.
          if (e === '\n') line++;
          else v += e === '"' ? '"' : `\\${e}`;
          i += 2;
          continue;
        }
        if (d === '"') break;
        if (d === '\n') line++;
        v += d;
        i++;
      }
      i++;
      out.push({ kind: 'string', value: v, line: startLine });
      continue;
    }
    if (c === '<') {
      const startLine = line;
      let depth = 0;
      const s = i;
      for (; i < src.length; i++) {
        if (src[i] === '\n') line++;
        if (src[i] === '<') depth++;
        else if (src[i] === '>' && --depth === 0) break;
      }
      if (depth !== 0) fail('unterminated HTML label');
      i++;
      out.push({ kind: 'html', value: src.slice(s + 1, i - 1), line: startLine });
      continue;
    }
    if (src.startsWith('->', i) || src.startsWith('--', i)) {
      out.push({ kind: 'punct', value: src.slice(i, i + 2), line });
      i += 2;
      continue;
    }
    if ('=;,[]{}:+'.includes(c)) {
      out.push({ kind: 'punct', value: c, line });
      i++;
      continue;
    }
    const m = /^(?:[A-Za-z_\u0080-\uffff][A-Za-z0-9_\u0080-\uffff]*|-?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?))/.exec(src.slice(i, i + 4096));
    if (!m) fail(`unexpected character ${JSON.stringify(c)}`);
    out.push({ kind: 'id', value: m![0], line });
    i += m![0].length;
  }
  // Fold `"a" + "b"` into one string, as Graphviz does.
  const folded: DotToken[] = [];
  for (let k = 0; k < out.length; k++) {
    const t = out[k]!;
    const prev = folded[folded.length - 1];
    if (t.kind === 'punct' && t.value === '+' && prev?.kind === 'string' && out[k + 1]?.kind === 'string') {
      prev.value += out[k + 1]!.value;
      k++;
      continue;
    }
    folded.push({ ...t });
  }
  return folded;
}

/** Returns null when the source is acceptable, else the reason it is refused. */
export function screenDot(src: string, opts: DotOptions = {}): string | null {
  const max = opts.maxSourceBytes ?? DEFAULT_MAX_DOT_BYTES;
  const size = Buffer.byteLength(src, 'utf8');
  if (size > max) return `dot source is ${size} bytes; the limit is ${max}`;
  if (src.includes('\u0000')) return 'dot source contains a NUL byte';
  let tokens: DotToken[];
  try {
    tokens = tokenizeDot(src);
  } catch (e) {
    if (e instanceof DotScreenError) return `dot source ${e.message}`;
    throw e;
  }
  for (let k = 0; k < tokens.length; k++) {
    const t = tokens[k]!;
    if (t.kind === 'html' && (/<\s*img\b/i.test(t.value) || /\b(?:href|src|url)\s*=/i.test(t.value))) {
      return `dot source line ${t.line}: HTML label with an image or link is not allowed (no external files or links)`;
    }
    const next = tokens[k + 1];
    if ((t.kind === 'id' || t.kind === 'string') && next?.kind === 'punct' && next.value === '=') {
      const name = t.value.toLowerCase();
      if (FORBIDDEN.has(name)) return `dot source line ${t.line}: attribute "${t.value}" is not allowed (no links or external files)`;
      const value = tokens[k + 2];
      if (name === 'fontname' && value && /[/\\]/.test(value.value)) return `dot source line ${t.line}: fontname must be a font name, not a path`;
    }
  }
  return null;
}

let graphviz: Promise<Graphviz> | undefined;

/** The shared Graphviz instance; the WASM module is compiled on the first call only. */
export function loadGraphviz(): Promise<Graphviz> {
  graphviz ??= Graphviz.load().catch((e: unknown) => {
    graphviz = undefined;
    throw e;
  });
  return graphviz;
}

/** Screens and renders dot to raw SVG (not yet sanitized; renderVisual does both). Never throws. */
export async function renderDot(source: string, opts: DotOptions = {}): Promise<RenderOutcome> {
  const refused = screenDot(source, opts);
  if (refused) return { ok: false, error: refused };
  let gv: Graphviz;
  try {
    gv = await loadGraphviz();
  } catch (e) {
    return { ok: false, error: `graphviz could not be loaded: ${(e as Error).message}` };
  }
  try {
    const svg = gv.dot(source, 'svg');
    if (!svg.trim()) return { ok: false, error: 'graphviz produced no output' };
    return { ok: true, svg };
  } catch (e) {
    return { ok: false, error: `graphviz: ${String((e as Error).message ?? e).split('\n')[0]}` };
  }
}
