/**
 * Quantities with dimensions for the arithmetic re-check, on mathjs's unit system (Wh ↔ J,
 * bit ↔ byte, Hz ↔ 1/s, SI and IEC prefixes) plus FLOP, OP and MAC as units of their own.
 *
 * FLOP, OP and MAC are units of their own (a MAC converts to one OP).
 *
 * mathjs is large: its single-file browser build is loaded on the first unit met (about ten times
 * faster to load than the many-module build), and every unit string is converted once and cached,
 * so the re-check of a chunk pays for mathjs at most once per process.
 *
 * Only an allow-list of base units is accepted: mathjs knows "in", "ft", "cup", "g" and many more,
 * and a word after a number ("8 GPUs", "3 in flight") must not become a length. Anything not on the
 * list is unknown (scale 1, no dimension) and never makes a statement fail on its own.
 */
import { createRequire } from 'node:module';

export interface UnitScale {
  /** Factor to SI base units (bits for data, J for energy, s for time). */
  scale: number;
  /** Every part of the unit was recognised. */
  known: boolean;
  /** Dimension exponents (mathjs's base dimensions plus FLOP, OP, MAC); null when unknown. */
  dims: readonly number[] | null;
  /** Dimension signature ("0,0,-1,…"): two units convert only when theirs agree. */
  dim: string;
  /** A decimal prefix above 1 on bytes or bits (kB, MB, GB…): read as 1000ⁿ or 1024ⁿ by convention. */
  decimalData: boolean;
  /** An IEC prefix (KiB, GiB…): the text distinguishes binary from decimal. */
  binaryData: boolean;
  /** Power of 1000 of the decimal data prefixes (kB 1, MB 2, GB/s 3…); 0 without data units. */
  dataPow: number;
}

export const MAGNITUDE_WORDS: Record<string, number> = { thousand: 1e3, million: 1e6, billion: 1e9, trillion: 1e12 };

/** The part of mathjs this module uses. */
interface MathUnit {
  value: number | null;
  dimensions: number[];
  units: { unit: { name: string }; prefix: { name: string } }[];
}
interface MathLib {
  unit(text: string): MathUnit;
  createUnit(name: string, def: { definition?: string; aliases?: string[]; prefixes?: string }): unknown;
}

let math: MathLib | null = null;
function lib(): MathLib {
  if (math) return math;
  const m = createRequire(import.meta.url)('mathjs/lib/browser/math.js') as MathLib;
  // Counts of work: their own dimensions, so "TFLOP / (TFLOP/s)" is a time and FLOPs ≠ bytes.
  m.createUnit('FLOP', { aliases: ['flop'], prefixes: 'short' });
  m.createUnit('OP', { aliases: ['op'], prefixes: 'short' });
  // A MAC is one operation here, of the OP kind: "34.7 TOPS / 2 = 17.35 TMACs/s" states the ×2 itself.
  m.createUnit('MAC', { definition: '1 OP', aliases: ['mac'], prefixes: 'short' });
  math = m;
  return m;
}

/** Base units (as mathjs names them, prefix removed) that napkin math uses. */
const ALLOWED_BASES = new Set([
  'b', 'bits', 'B', 'bytes', 'Hz', 'hertz', 'W', 'watt', 'J', 'joule', 'Wh', 'V', 'A', 'Ah', 'C',
  's', 'sec', 'second', 'min', 'minute', 'h', 'hr', 'hour', 'day', 'week',
  'FLOP', 'flop', 'OP', 'op', 'MAC', 'mac', 'm',
]);

const WORD_PREFIX: Record<string, string> = { kilo: 'k', mega: 'M', giga: 'G', tera: 'T', peta: 'P', milli: 'm', micro: 'u', nano: 'n' };

/** One written unit part → mathjs syntax (or null when it cannot be a unit). */
function toMathSyntax(part: string): string | null {
  let p = part.replace(/[.,;:]+$/, '');
  if (p === '') return null;
  const dash = p.lastIndexOf('-');
  if (dash > 0 && dash < p.length - 1) p = p.slice(dash + 1);
  p = p.replace(/^[μµ]/, 'u');
  // Rates written as one word: Gbps, GBps, TFLOPS, TOPS.
  let m = /^([kKMGTP]?i?)(bps|Bps)$/.exec(p);
  if (m) return `${fixPrefix(m[1]!)}${m[2] === 'bps' ? 'b' : 'B'}/s`;
  m = /^([kKMGTP]?)(FLOPS|flops|OPS)$/.exec(p);
  if (m) return `${fixPrefix(m[1]!)}${m[2] === 'OPS' ? 'OP' : 'FLOP'}/s`;
  m = /^([kKMGTP]?)(FLOPs|FLOP|flop|OPs|Ops|ops|MACs|MACS|MAC|macs)$/.exec(p);
  if (m) return `${fixPrefix(m[1]!)}${/^flop/i.test(m[2]!) ? 'FLOP' : /^op/i.test(m[2]!) ? 'OP' : 'MAC'}`;
  const lower = p.toLowerCase();
  for (const [w, pre] of Object.entries(WORD_PREFIX)) {
    if (!lower.startsWith(w)) continue;
    const rest = lower.slice(w.length);
    const base = { bits: 'b', bit: 'b', bytes: 'B', byte: 'B', hertz: 'Hz', watts: 'W', watt: 'W', joules: 'J', joule: 'J', seconds: 's', second: 's' }[rest];
    if (base) return `${pre}${base}`;
  }
  if (/^(?:bytes?)$/i.test(p)) return 'B';
  if (/^(?:bits?)$/i.test(p)) return 'b';
  if (/^(?:secs?|seconds?)$/i.test(p)) return 's';
  if (/^(?:mins?|minutes?)$/i.test(p)) return 'min';
  if (/^(?:hrs?|hours?)$/i.test(p)) return 'h';
  if (/^(?:days?)$/i.test(p)) return 'day';
  if (/^(?:weeks?)$/i.test(p)) return 'week';
  if (/^(?:watts?)$/i.test(p)) return 'W';
  if (/^(?:joules?)$/i.test(p)) return 'J';
  // "KB", "KHz": the upper-case K of common use is mathjs's k.
  m = /^K(i?)(B|b|Hz|W|J|Wh|FLOP)$/.exec(p);
  if (m) return `${m[1] ? 'Ki' : 'k'}${m[2]}`;
  if (!/^[A-Za-z]+$/.test(p)) return null;
  return p;
}

function fixPrefix(pre: string): string {
  return pre === 'K' ? 'k' : pre === 'Ki' ? 'Ki' : pre;
}

const cache = new Map<string, UnitScale>();
const UNKNOWN: UnitScale = { scale: 1, known: false, dims: null, dim: '', decimalData: false, binaryData: false, dataPow: 0 };
const PREFIX_POW: Record<string, number> = { k: 1, M: 2, G: 3, T: 4, P: 5, E: 6 };

/** Scale and dimension of a unit such as "GB", "TB/s", "kWh", "μJ/inference" (first word only). */
export function unitScale(unit: string): UnitScale {
  const word = unit.trim().split(/\s+/)[0] ?? '';
  let hit = cache.get(word);
  if (hit) return hit;
  hit = parseUnit(word);
  if (cache.size > 10_000) cache.clear();
  cache.set(word, hit);
  return hit;
}

function parseUnit(word: string): UnitScale {
  if (word === '') return UNKNOWN;
  const parts = word.split('/');
  if (parts.some((p) => p === '')) return UNKNOWN;
  const syntax = parts.map(toMathSyntax);
  if (syntax.some((s) => s === null)) return UNKNOWN;
  let u: MathUnit;
  try {
    u = lib().unit(`1 ${syntax.map((s, i) => (i === 0 ? s : `(${s})`)).join(' / ')}`);
  } catch {
    return UNKNOWN;
  }
  if (u.value === null || !u.units.every((x) => ALLOWED_BASES.has(x.unit.name))) return UNKNOWN;
  const data = u.units.filter((x) => ['b', 'bits', 'B', 'bytes'].includes(x.unit.name));
  return {
    scale: u.value,
    known: true,
    dims: [...u.dimensions],
    dim: u.dimensions.join(','),
    decimalData: data.some((x) => ['k', 'M', 'G', 'T', 'P', 'E'].includes(x.prefix.name)),
    binaryData: data.some((x) => /i$/.test(x.prefix.name)),
    // mathjs lists every unit with its power (B/s: B ^1, s ^-1).
    dataPow: data.reduce((n, x) => n + (PREFIX_POW[x.prefix.name] ?? 0) * ((x as { power?: number }).power ?? 1), 0),
  };
}

/** Dimension vector of a plain number. */
export function dimensionless(): number[] {
  return [];
}

/** Adds (sign 1) or subtracts (sign -1) two dimension vectors; an empty vector is all zeros. */
export function combineDims(a: readonly number[], b: readonly number[], sign: 1 | -1): number[] {
  const n = Math.max(a.length, b.length);
  return Array.from({ length: n }, (_, i) => (a[i] ?? 0) + sign * (b[i] ?? 0));
}

export function scaleDims(a: readonly number[], k: number): number[] {
  return a.map((x) => x * k);
}

export function sameDims(a: readonly number[], b: readonly number[]): boolean {
  const n = Math.max(a.length, b.length);
  for (let i = 0; i < n; i++) if (Math.abs((a[i] ?? 0) - (b[i] ?? 0)) > 1e-9) return false;
  return true;
}

/** Whether mathjs has been loaded in this process (the benchmark reports it). */
export function unitsLoaded(): boolean {
  return math !== null;
}
