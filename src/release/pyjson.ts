/**
 * JSON text byte-for-byte like Python's `json.dumps`, because the release hash and the site
 * files must match what the original (Python) tools produced for the same input.
 *
 * Differences from JSON.stringify that matter here:
 * - `sort_keys` orders by code point (JS `sort()` orders by UTF-16 unit; they differ above U+FFFF).
 * - Python's default separators are `, ` and `: ` (`,` alone before a newline when indenting).
 * - floats print with Python's `repr` (`1e-05`, `1.5e+16`), integers with every digit.
 * - `ensure_ascii=True` escapes DEL and every non-ASCII UTF-16 unit as `\uXXXX` (lowercase hex).
 * String escaping with `ensure_ascii=False` is the same as JSON.stringify: `\" \\ \b \f \n \r \t`,
 * other C0 controls as `\u00XX` lowercase, DEL and U+2028/2029 left raw.
 */
import { pyFloatRepr } from '../util/pyfloat.js';

export interface PyJsonOptions {
  sortKeys?: boolean;
  /** Spaces per level; undefined = one line. */
  indent?: number;
  /** Python's `separators`; default `[', ', ': ']` (or `[',', ': ']` with indent). */
  separators?: readonly [string, string];
  ensureAscii?: boolean;
}

/** Compares by Unicode code point, as Python compares `str`. */
export function compareCodePoints(a: string, b: string): number {
  const ia = a[Symbol.iterator]();
  const ib = b[Symbol.iterator]();
  for (;;) {
    const x = ia.next();
    const y = ib.next();
    if (x.done) return y.done ? 0 : -1;
    if (y.done) return 1;
    const cx = x.value.codePointAt(0)!;
    const cy = y.value.codePointAt(0)!;
    if (cx !== cy) return cx < cy ? -1 : 1;
  }
}

export { pyFloatRepr };

/** json.dumps's text of a float: repr, except NaN and the infinities (allow_nan's `NaN`, `Infinity`, `-Infinity`). */
function jsonFloatText(x: number): string {
  if (Number.isNaN(x)) return 'NaN';
  if (x === Infinity) return 'Infinity';
  if (x === -Infinity) return '-Infinity';
  return pyFloatRepr(x);
}

function numberText(n: number): string {
  // An integral JS number came from a YAML int (or an integral float we cannot tell apart);
  // print every digit like a Python int rather than JS's `1e+21`.
  if (Number.isInteger(n)) return BigInt(n).toString();
  return jsonFloatText(n);
}

function stringText(s: string, ensureAscii: boolean): string {
  const json = JSON.stringify(s);
  if (!ensureAscii) return json;
  return json.replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** A YAML/Pydantic date or datetime as Pydantic's JSON mode writes it (see hashing.ts). */
export function dateText(d: Date): string {
  const iso = d.toISOString();
  if (iso.endsWith('T00:00:00.000Z')) return iso.slice(0, 10);
  return iso.endsWith('.000Z') ? `${iso.slice(0, 19)}Z` : iso;
}

export function pyJsonDumps(value: unknown, opts: PyJsonOptions = {}): string {
  const ensureAscii = opts.ensureAscii ?? true;
  const indent = opts.indent;
  const [itemSep, keySep] = opts.separators ?? (indent === undefined ? [', ', ': '] : [',', ': ']);

  const walk = (v: unknown, depth: number): string => {
    if (v === null || v === undefined) return 'null';
    if (typeof v === 'string') return stringText(v, ensureAscii);
    if (typeof v === 'boolean') return v ? 'true' : 'false';
    if (typeof v === 'number') return numberText(v);
    if (typeof v === 'bigint') return v.toString();
    if (v instanceof Date) return stringText(dateText(v), ensureAscii);
    const open = (items: string[], l: string, r: string): string => {
      if (items.length === 0) return `${l}${r}`;
      if (indent === undefined) return `${l}${items.join(itemSep)}${r}`;
      const pad = '\n' + ' '.repeat(indent * (depth + 1));
      return `${l}${pad}${items.join(itemSep + pad)}\n${' '.repeat(indent * depth)}${r}`;
    };
    if (Array.isArray(v)) return open(v.map((x) => walk(x, depth + 1)), '[', ']');
    if (v instanceof Map) return walk(Object.fromEntries([...v.entries()].map(([k, x]) => [String(k), x])), depth);
    if (typeof v === 'object') {
      // Keys holding `undefined` are absent, as in JSON.stringify (Python has no undefined).
      let keys = Object.keys(v as object).filter((k) => (v as Record<string, unknown>)[k] !== undefined);
      if (opts.sortKeys) keys = keys.sort(compareCodePoints);
      return open(
        keys.map((k) => `${stringText(k, ensureAscii)}${keySep}${walk((v as Record<string, unknown>)[k], depth + 1)}`),
        '{',
        '}',
      );
    }
    throw new TypeError(`cannot serialise a ${typeof v} as JSON`);
  };
  return walk(value, 0);
}
