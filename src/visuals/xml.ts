/**
 * A small, strict XML tokenizer for SVG checking. It is deliberately stricter than XML where
 * XML and the HTML parser disagree (a browser may parse an inline SVG with the HTML parser):
 * comments holding `--` or opening with `>`/`->`, unquoted or duplicate attributes, undefined
 * entities and stray `<` are syntax errors, so the checker and the browser always see the same
 * elements. Every token keeps its byte span so the normalizer can copy untouched text verbatim.
 */

export interface XmlAttr {
  /** As written, e.g. `xlink:href`, `onLoad`. */
  name: string;
  /** The value as written, without quotes. */
  raw: string;
  /** The value with entities decoded: what a browser would act on. */
  value: string;
  start: number;
  end: number;
}

export type XmlToken =
  | { type: 'text'; start: number; end: number; text: string }
  | { type: 'comment'; start: number; end: number; body: string }
  | { type: 'cdata'; start: number; end: number; body: string }
  | { type: 'pi'; start: number; end: number; target: string; body: string }
  | { type: 'doctype'; start: number; end: number; body: string; internalSubset: boolean }
  | { type: 'open'; start: number; end: number; name: string; attrs: XmlAttr[]; selfClosing: boolean }
  | { type: 'close'; start: number; end: number; name: string };

export class XmlSyntaxError extends Error {
  override readonly name = 'XmlSyntaxError';
  constructor(message: string, readonly offset: number, readonly line: number) {
    super(`line ${line}: ${message}`);
  }
}

const NAME_START = /[A-Za-z_:\u00C0-\uFFFF]/;
const NAME_CHAR = /[A-Za-z0-9_:.\-\u00B7\u00C0-\uFFFF]/;
const PREDEFINED: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

/** The element or attribute name without its namespace prefix, lower-cased (`svg:SCRIPT` → `script`). */
export function localName(name: string): string {
  const i = name.lastIndexOf(':');
  return (i >= 0 ? name.slice(i + 1) : name).toLowerCase();
}

function lineAt(text: string, offset: number): number {
  let line = 1;
  for (let i = 0; i < offset && i < text.length; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}

/** Decodes the five predefined entities and numeric references; anything else is an error. */
export function decodeEntities(s: string, fail: (msg: string) => never = (m) => { throw new Error(m); }): string {
  if (!s.includes('&')) return s;
  return s.replace(/&([^;&\s]*);?/g, (whole, ref: string) => {
    if (!whole.endsWith(';')) fail(`bare '&' (write &amp;)`);
    if (ref.startsWith('#x') || ref.startsWith('#X')) {
      const cp = Number.parseInt(ref.slice(2), 16);
      if (!/^[0-9a-fA-F]+$/.test(ref.slice(2)) || cp > 0x10ffff) fail(`bad character reference &${ref};`);
      return String.fromCodePoint(cp);
    }
    if (ref.startsWith('#')) {
      const cp = Number.parseInt(ref.slice(1), 10);
      if (!/^[0-9]+$/.test(ref.slice(1)) || cp > 0x10ffff) fail(`bad character reference &${ref};`);
      return String.fromCodePoint(cp);
    }
    const v = PREDEFINED[ref];
    if (v === undefined) fail(`undefined entity &${ref}; (only &lt; &gt; &amp; &quot; &apos; and numeric references are allowed)`);
    return v;
  });
}

/** Tokenizes a whole document; throws XmlSyntaxError (with the line) on anything ill-formed. */
export function tokenizeXml(text: string): XmlToken[] {
  const tokens: XmlToken[] = [];
  let i = 0;
  const fail = (msg: string, at = i): never => {
    throw new XmlSyntaxError(msg, at, lineAt(text, at));
  };
  const readName = (what: string): string => {
    const s = i;
    if (i >= text.length || !NAME_START.test(text[i]!)) fail(`expected ${what} name`);
    i++;
    while (i < text.length && NAME_CHAR.test(text[i]!)) i++;
    return text.slice(s, i);
  };
  const skipWs = () => {
    while (i < text.length && /[ \t\r\n]/.test(text[i]!)) i++;
  };

  while (i < text.length) {
    const start = i;
    if (text[i] !== '<') {
      const next = text.indexOf('<', i);
      const end = next < 0 ? text.length : next;
      const raw = text.slice(i, end);
      const decoded = decodeEntities(raw, (m) => fail(m, start));
      tokens.push({ type: 'text', start, end, text: decoded });
      i = end;
      continue;
    }
    if (text.startsWith('<!--', i)) {
      const close = text.indexOf('-->', i + 4);
      if (close < 0) fail('unterminated comment');
      const body = text.slice(i + 4, close);
      // XML forbids `--` in comments; HTML ends comments at `--!>` and at `<!-->`. Refusing both keeps parsers in step.
      if (body.includes('--') || body.startsWith('>') || body.startsWith('->') || body.endsWith('-')) fail('comment contains "--" or an HTML-only comment form');
      i = close + 3;
      tokens.push({ type: 'comment', start, end: i, body });
      continue;
    }
    if (text.startsWith('<![CDATA[', i)) {
      const close = text.indexOf(']]>', i + 9);
      if (close < 0) fail('unterminated CDATA section');
      i = close + 3;
      tokens.push({ type: 'cdata', start, end: i, body: text.slice(start + 9, close) });
      continue;
    }
    if (/^<!DOCTYPE/i.test(text.slice(i, i + 9))) {
      // Scan to the closing `>` outside quotes and outside an internal subset `[...]`.
      let j = i + 9;
      let quote = '';
      let depth = 0;
      let internalSubset = false;
      for (; j < text.length; j++) {
        const c = text[j]!;
        if (quote) {
          if (c === quote) quote = '';
        } else if (c === '"' || c === "'") quote = c;
        else if (c === '[') {
          depth++;
          internalSubset = true;
        } else if (c === ']') depth--;
        else if (c === '>' && depth <= 0) break;
      }
      if (j >= text.length) fail('unterminated DOCTYPE');
      // Entities declared here would be expanded later in the document (billion laughs, external entities).
      if (internalSubset) fail('DOCTYPE with an internal subset (entity declarations) is not allowed', start);
      i = j + 1;
      tokens.push({ type: 'doctype', start, end: i, body: text.slice(start + 9, j), internalSubset });
      continue;
    }
    if (text.startsWith('<!', i)) fail(`markup declaration "${text.slice(i, i + 10).split(/\s/)[0]}" is not allowed`);
    if (text.startsWith('<?', i)) {
      const close = text.indexOf('?>', i + 2);
      if (close < 0) fail('unterminated processing instruction');
      i += 2;
      const target = readName('processing-instruction');
      const body = text.slice(i, close);
      i = close + 2;
      tokens.push({ type: 'pi', start, end: i, target, body });
      continue;
    }
    if (text.startsWith('</', i)) {
      i += 2;
      const name = readName('closing tag');
      skipWs();
      if (text[i] !== '>') fail(`expected ">" to close </${name}`);
      i++;
      tokens.push({ type: 'close', start, end: i, name });
      continue;
    }
    // Start tag.
    i++;
    if (i >= text.length || !NAME_START.test(text[i]!)) fail(`stray "<" (not followed by a tag name)`);
    const name = readName('element');
    const attrs: XmlAttr[] = [];
    const seen = new Set<string>();
    let selfClosing = false;
    for (;;) {
      const hadWs = i < text.length && /[ \t\r\n]/.test(text[i]!);
      skipWs();
      if (i >= text.length) fail(`unterminated tag <${name}`, start);
      if (text[i] === '>') {
        i++;
        break;
      }
      if (text.startsWith('/>', i)) {
        selfClosing = true;
        i += 2;
        break;
      }
      if (!hadWs) fail(`expected whitespace before an attribute in <${name}>`);
      const aStart = i;
      const aName = readName('attribute');
      skipWs();
      if (text[i] !== '=') fail(`attribute ${aName} in <${name}> has no value`);
      i++;
      skipWs();
      const q = text[i] ?? '';
      if (q !== '"' && q !== "'") fail(`attribute ${aName} in <${name}> has an unquoted value`);
      const close = text.indexOf(q, i + 1);
      if (close < 0) fail(`unterminated value of attribute ${aName} in <${name}>`);
      const raw = text.slice(i + 1, close);
      if (raw.includes('<')) fail(`"<" inside the value of attribute ${aName} in <${name}>`);
      i = close + 1;
      const key = aName.toLowerCase();
      if (seen.has(key)) fail(`duplicate attribute ${aName} in <${name}>`);
      seen.add(key);
      attrs.push({ name: aName, raw, value: decodeEntities(raw, (m) => fail(`${m} in attribute ${aName}`, aStart)), start: aStart, end: i });
    }
    tokens.push({ type: 'open', start, end: i, name, attrs, selfClosing });
  }
  return tokens;
}

/** Checks nesting (every close matches its open, one root element, nothing but whitespace/comments around it). */
export function checkWellFormed(text: string, tokens: readonly XmlToken[]): void {
  const stack: string[] = [];
  let roots = 0;
  const fail = (msg: string, at: number): never => {
    throw new XmlSyntaxError(msg, at, lineAt(text, at));
  };
  for (const t of tokens) {
    if (t.type === 'open') {
      if (stack.length === 0) {
        roots++;
        if (roots > 1) fail(`a second root element <${t.name}>`, t.start);
      }
      if (!t.selfClosing) stack.push(t.name);
    } else if (t.type === 'close') {
      const top = stack.pop();
      if (top !== t.name) fail(top ? `</${t.name}> closes <${top}>` : `</${t.name}> without an opening tag`, t.start);
    } else if (stack.length === 0 && (t.type === 'text' ? t.text.trim() !== '' : t.type === 'cdata')) {
      fail('content outside the root element', t.start);
    }
  }
  if (stack.length > 0) fail(`<${stack[stack.length - 1]}> is never closed`, text.length);
  if (roots === 0) fail('no root element', 0);
}
