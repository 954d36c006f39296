/**
 * SVG normalizer and checker. Every SVG the vault keeps (rendered from dot or matplotlib, or written
 * by hand) passes through here: active content and external references are errors, the original's
 * normalization is applied (generator comments removed, root font-family added), and departures
 * from the style guide (§7: viewBox width, palette, node count, gradients) are warnings.
 *
 * It works on the token stream of src/visuals/xml.ts, never on regexes over the raw text, so
 * `<SCRIPT`, `<svg:script`, entity-encoded `javascript:` and odd quoting are all seen as a browser
 * would see them. Output is the input with whole tokens dropped or the root tag edited; everything
 * else is copied byte for byte.
 */
import { isAllowedColour, normalizeColour, ROOT_FONT_FAMILY } from './palette.js';
import { checkWellFormed, localName, tokenizeXml, XmlSyntaxError, type XmlToken } from './xml.js';

export type SvgSource = 'dot' | 'matplotlib' | 'svg';

export interface SanitizeOptions {
  source: SvgSource;
  /** Larger inputs are refused before parsing (default 2 MiB). */
  maxBytes?: number;
  /** Generated dot diagrams with more nodes than this get a warning (default 16, the style guide's limit). */
  maxDotNodes?: number;
}

export interface SanitizeResult {
  /** The normalized SVG; empty when there are errors. */
  svg: string;
  warnings: string[];
  errors: string[];
}

export const DEFAULT_MAX_SVG_BYTES = 2 * 1024 * 1024;
export const VIEWBOX_WIDTH_RANGE = { min: 600, max: 800 } as const;

/** Elements that run code, embed other documents or fetch resources, or animate (which can rewrite hrefs). */
const FORBIDDEN_ELEMENTS: Record<string, string> = {
  script: 'scripts are not allowed',
  foreignobject: 'foreignObject can embed HTML',
  image: 'raster/external images are not allowed',
  feimage: 'feImage can load external images',
  iframe: 'embedded documents are not allowed',
  embed: 'embedded documents are not allowed',
  object: 'embedded documents are not allowed',
  audio: 'media elements are not allowed',
  video: 'media elements are not allowed',
  canvas: 'canvas is not allowed',
  handler: 'event handlers are not allowed',
  listener: 'event listeners are not allowed',
  set: 'animation elements are not allowed (static images only)',
  animate: 'animation elements are not allowed (static images only)',
  animatemotion: 'animation elements are not allowed (static images only)',
  animatetransform: 'animation elements are not allowed (static images only)',
  animatecolor: 'animation elements are not allowed (static images only)',
  discard: 'animation elements are not allowed (static images only)',
};

const COLOUR_ATTRS = new Set(['fill', 'stroke', 'stop-color', 'flood-color', 'lighting-color', 'color']);
const STANDARD_SVG_DOCTYPE = /^\s*svg\s+PUBLIC\s+"-\/\/W3C\/\/DTD SVG 1\.[01]\/\/EN"\s+"http:\/\/www\.w3\.org\/Graphics\/SVG\/1\.[01]\/DTD\/svg1[01]\.dtd"\s*$/;

/** Lower-cased with whitespace and control characters removed: `java\tscript:` reads as `javascript:` to a browser. */
const squash = (s: string) =>
  Array.from(s)
    .filter((c) => c.charCodeAt(0) > 0x20 && c.charCodeAt(0) !== 0x7f)
    .join('')
    .toLowerCase();
const excerpt = (s: string) => JSON.stringify(s.length > 60 ? `${s.slice(0, 57)}...` : s);

/** Problems in CSS text (a style element or attribute): imports, non-local url(), script URLs. */
function cssProblems(css: string): string[] {
  const out: string[] = [];
  const flat = squash(css.replace(/\/\*[\s\S]*?\*\//g, ''));
  if (flat.includes('@import')) out.push('CSS @import is not allowed');
  if (/url\((?!['"]?#)/.test(flat)) out.push('CSS url() must point inside the document (url(#id))');
  if (flat.includes('javascript:') || flat.includes('vbscript:')) out.push('script URL in CSS');
  if (flat.includes('data:')) out.push('data: URI in CSS');
  if (flat.includes('expression(') || flat.includes('-moz-binding') || flat.includes('behavior:')) out.push('scripted CSS is not allowed');
  return out;
}

function cssColours(css: string): string[] {
  const out: string[] = [];
  for (const m of css.matchAll(/(?:^|;|\s)(fill|stroke|stop-color|color)\s*:\s*([^;]+)/gi)) out.push(m[2]!);
  return out;
}

/** Normalizes and checks one SVG document. Never throws. */
export function sanitizeSvg(input: string, opts: SanitizeOptions): SanitizeResult {
  const warnings: string[] = [];
  const errors: string[] = [];
  const maxBytes = opts.maxBytes ?? DEFAULT_MAX_SVG_BYTES;
  const size = Buffer.byteLength(input, 'utf8');
  if (size > maxBytes) return { svg: '', warnings, errors: [`SVG is ${size} bytes; the limit is ${maxBytes}`] };

  let tokens: XmlToken[];
  try {
    tokens = tokenizeXml(input);
    checkWellFormed(input, tokens);
  } catch (e) {
    if (e instanceof XmlSyntaxError) return { svg: '', warnings, errors: [`not well-formed XML: ${e.message}`] };
    throw e;
  }

  const offPalette = new Set<string>();
  const parts: string[] = [];
  let cursor = 0;
  const drop = (t: XmlToken) => {
    parts.push(input.slice(cursor, t.start));
    cursor = t.end;
    // Swallow the line break after a dropped line-level token, so no blank line is left behind.
    if (input[cursor] === '\r') cursor++;
    if (input[cursor] === '\n') cursor++;
  };

  let depth = 0;
  let metadataDepth = -1;
  let styleDepth = -1;
  let rootSeen = false;
  let nodeCount = 0;
  let gradientWarned = false;
  let filterWarned = false;

  for (const t of tokens) {
    // Inside <metadata> everything is dropped (the original's docs ask for metadata to be stripped).
    if (metadataDepth >= 0) {
      if (t.type === 'open' && !t.selfClosing) depth++;
      if (t.type === 'close') {
        depth--;
        if (depth === metadataDepth) {
          // drop() already copied everything before <metadata>; skip to after </metadata>.
          metadataDepth = -1;
          cursor = t.start;
          drop(t);
        }
      }
      continue;
    }
    switch (t.type) {
      case 'comment':
        if (/^\s*Generated by\b/.test(t.body)) drop(t);
        break;
      case 'pi':
        if (t.target === 'xml' && t.start === 0) break;
        errors.push(t.target.toLowerCase() === 'xml-stylesheet' ? 'an xml-stylesheet instruction loads an external stylesheet' : `processing instruction <?${t.target}?> is not allowed`);
        break;
      case 'doctype':
        if (t.internalSubset || /<!ENTITY/i.test(t.body)) {
          errors.push('DOCTYPE with an internal subset (entity declarations) is not allowed');
        } else {
          // Graphviz emits the public SVG 1.1 DOCTYPE; it adds nothing and can make XML tools fetch the DTD.
          if (!STANDARD_SVG_DOCTYPE.test(t.body)) warnings.push(`removed a non-standard DOCTYPE: ${excerpt(t.body.trim())}`);
          drop(t);
        }
        break;
      case 'cdata':
        if (styleDepth < 0) errors.push('CDATA outside <style> is not allowed (HTML parsers read it differently)');
        else errors.push(...cssProblems(t.body));
        break;
      case 'text':
        if (styleDepth >= 0) errors.push(...cssProblems(t.text));
        break;
      case 'close':
        depth--;
        if (depth === styleDepth) styleDepth = -1;
        break;
      case 'open': {
        const el = localName(t.name);
        const isRoot = !rootSeen;
        rootSeen = true;
        if (isRoot && el !== 'svg') {
          errors.push(`the root element is <${t.name}>, not <svg>`);
        }
        const forbidden = FORBIDDEN_ELEMENTS[el];
        if (forbidden) errors.push(`<${t.name}>: ${forbidden}`);
        if (el === 'lineargradient' || el === 'radialgradient') {
          if (!gradientWarned) warnings.push('gradients are against the style guide (flat fills only)');
          gradientWarned = true;
        }
        if (el === 'filter') {
          if (!filterWarned) warnings.push('filters (shadows, 3-D effects) are against the style guide');
          filterWarned = true;
        }
        for (const a of t.attrs) {
          const an = localName(a.name);
          const lowerName = a.name.toLowerCase();
          if (lowerName === 'xmlns' || lowerName.startsWith('xmlns:')) continue;
          const flat = squash(a.value);
          if (an.startsWith('on')) {
            errors.push(`event-handler attribute ${a.name} on <${t.name}>`);
            continue;
          }
          if (an === 'href' || an === 'src' || an === 'base') {
            if (!a.value.trim().startsWith('#')) errors.push(`external reference ${a.name}=${excerpt(a.value)} on <${t.name}> (only #fragment links are allowed)`);
            continue;
          }
          if (flat.includes('javascript:') || flat.includes('vbscript:')) errors.push(`script URL in ${a.name} on <${t.name}>`);
          else if (flat.includes('data:')) errors.push(`data: URI in ${a.name} on <${t.name}>`);
          else if (an === 'style') errors.push(...cssProblems(a.value).map((p) => `${p} (style attribute on <${t.name}>)`));
          else if (/url\((?!['"]?#)/.test(flat)) errors.push(`external url() in ${a.name} on <${t.name}> (only url(#id) is allowed)`);
          if (COLOUR_ATTRS.has(an)) {
            const c = normalizeColour(a.value);
            if (c && !isAllowedColour(c)) offPalette.add(c);
          }
          if (an === 'style') {
            for (const v of cssColours(a.value)) {
              const c = normalizeColour(v);
              if (c && !isAllowedColour(c)) offPalette.add(c);
            }
          }
          if (an === 'class' && el === 'g' && a.value.split(/\s+/).includes('node')) nodeCount++;
        }
        if (isRoot && el === 'svg') {
          const edited = editRoot(input.slice(t.start, t.end), t, warnings, errors);
          parts.push(input.slice(cursor, t.start), edited);
          cursor = t.end;
        }
        if (el === 'metadata' && !t.selfClosing) {
          drop(t);
          metadataDepth = depth;
          depth++;
          break;
        }
        if (el === 'metadata') {
          drop(t);
          break;
        }
        if (el === 'style' && !t.selfClosing) styleDepth = depth;
        if (!t.selfClosing) depth++;
        break;
      }
    }
  }
  parts.push(input.slice(cursor));

  if (opts.source === 'dot' && nodeCount > (opts.maxDotNodes ?? 16)) {
    warnings.push(`generated dot diagram has ${nodeCount} nodes; the style guide allows at most ${opts.maxDotNodes ?? 16}`);
  }
  if (offPalette.size > 0) {
    warnings.push(`colours outside the semantic palette: ${[...offPalette].sort().join(', ')}`);
  }
  const unique = (xs: string[]) => [...new Set(xs)];
  const errs = unique(errors);
  return { svg: errs.length > 0 ? '' : parts.join(''), warnings: unique(warnings), errors: errs };
}

/** Checks the root tag's viewBox and namespace and adds the root font-family; returns the edited tag text. */
function editRoot(tagText: string, t: Extract<XmlToken, { type: 'open' }>, warnings: string[], errors: string[]): string {
  const attr = (name: string) => t.attrs.find((a) => a.name.toLowerCase() === name.toLowerCase());
  const viewBox = attr('viewBox');
  if (!viewBox) {
    errors.push('the root <svg> has no viewBox');
  } else {
    const nums = viewBox.value.trim().split(/[\s,]+/).map(Number);
    if (nums.length !== 4 || nums.some((n) => !Number.isFinite(n)) || nums[2]! <= 0 || nums[3]! <= 0) {
      errors.push(`the root <svg> has an unusable viewBox ${excerpt(viewBox.value)}`);
    } else if (nums[2]! < VIEWBOX_WIDTH_RANGE.min || nums[2]! > VIEWBOX_WIDTH_RANGE.max) {
      warnings.push(`viewBox width ${nums[2]} is outside the style guide's ${VIEWBOX_WIDTH_RANGE.min}-${VIEWBOX_WIDTH_RANGE.max}`);
    }
  }
  let inserts = '';
  if (!t.attrs.some((a) => a.name === 'xmlns')) {
    warnings.push('added the missing xmlns="http://www.w3.org/2000/svg" to the root <svg>');
    inserts += ' xmlns="http://www.w3.org/2000/svg"';
  }
  if (!attr('font-family')) inserts += ` font-family="${ROOT_FONT_FAMILY}"`;
  if (!inserts) return tagText;
  const closeLen = t.selfClosing ? 2 : 1;
  return tagText.slice(0, tagText.length - closeLen) + inserts + tagText.slice(tagText.length - closeLen);
}
