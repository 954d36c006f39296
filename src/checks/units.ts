/**
 * Unit scales for the arithmetic re-check. Only what napkin math in the vault uses: SI and binary
 * prefixes on bytes/bits/Hz/W/J/FLOPs/OPS/MACs, and time. An unknown unit ("GPUs", "°C/W",
 * "tokens") has scale 1 and is marked unknown, so it never makes a statement fail on its own.
 */

const SI_PREFIX: Record<string, number> = {
  k: 1e3,
  K: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  m: 1e-3,
  μ: 1e-6,
  µ: 1e-6,
  u: 1e-6,
  n: 1e-9,
};
const BINARY_PREFIX: Record<string, number> = { Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3, Ti: 1024 ** 4 };
const WORD_PREFIX: Record<string, number> = { kilo: 1e3, mega: 1e6, giga: 1e9, tera: 1e12, peta: 1e15, milli: 1e-3, micro: 1e-6, nano: 1e-9 };

/** Base units a prefix may attach to (case-sensitive: "mB" is not "MB"). */
const BASES = new Set([
  'B', 'b', 'bit', 'bits', 'byte', 'bytes', 'bps', 'Bps', 'Hz', 'W', 'J', 'Wh', 'V', 'A',
  'FLOP', 'FLOPs', 'FLOPS', 'flops', 'OPS', 'Ops', 'OPs', 'ops', 'MAC', 'MACs', 'MACS', 's',
]);

const TIME: Record<string, number> = {
  s: 1, sec: 1, secs: 1, second: 1, seconds: 1,
  ms: 1e-3, us: 1e-6, μs: 1e-6, µs: 1e-6, ns: 1e-9,
  min: 60, mins: 60, minute: 60, minutes: 60,
  h: 3600, hr: 3600, hrs: 3600, hour: 3600, hours: 3600,
  day: 86400, days: 86400,
};

/** Dimensionless markers that are as good as known. */
const DIMENSIONLESS = new Set(['x', '×', 'times']);

export const MAGNITUDE_WORDS: Record<string, number> = { thousand: 1e3, million: 1e6, billion: 1e9, trillion: 1e12 };

export interface UnitScale {
  scale: number;
  /** Every part of the unit was recognised. */
  known: boolean;
  /** Dimension signature ("data/time", "energy"): two units convert only when theirs agree. */
  dim: string;
}

/** Base unit → dimension, as [numerator dims, denominator dims]. */
function baseDim(base: string): [string[], string[]] {
  if (/^(?:B|b|bit|bits|byte|bytes)$/i.test(base)) return [['data'], []];
  if (/^(?:bps|Bps)$/.test(base)) return [['data'], ['time']];
  if (base === 'Hz' || base === 'hertz') return [[], ['time']];
  if (base === 'W' || /^watts?$/.test(base)) return [['energy'], ['time']];
  if (base === 'J' || /^joules?$/.test(base)) return [['energy'], []];
  if (base === 'Wh') return [['energy'], []];
  if (/^flops?$/i.test(base)) return [['flop'], []];
  if (/^ops$/i.test(base)) return [['op'], []];
  if (/^macs?$/i.test(base)) return [['mac'], []];
  if (base === 'V' || base === 'A') return [[base], []];
  return [[], []];
}

interface Part {
  scale: number;
  known: boolean;
  num: string[];
  den: string[];
}

function partScale(raw: string): Part {
  let part = raw.replace(/[.,;:]+$/, '');
  const none = { num: [], den: [] };
  if (part === '') return { scale: 1, known: true, ...none };
  const dash = part.lastIndexOf('-');
  if (dash > 0 && dash < part.length - 1) part = part.slice(dash + 1);
  const based = (scale: number, base: string): Part => {
    const [num, den] = baseDim(base);
    return { scale, known: true, num, den };
  };
  if (DIMENSIONLESS.has(part)) return { scale: 1, known: true, ...none };
  if (TIME[part] !== undefined) return { scale: TIME[part]!, known: true, num: ['time'], den: [] };
  if (TIME[part.toLowerCase()] !== undefined && part.length > 3) return { scale: TIME[part.toLowerCase()]!, known: true, num: ['time'], den: [] };
  if (BASES.has(part)) return based(1, part);
  const lower = part.toLowerCase();
  for (const [w, f] of Object.entries(WORD_PREFIX)) {
    const rest = lower.slice(w.length);
    if (lower.startsWith(w) && ['bits', 'bit', 'bytes', 'byte', 'hertz', 'watts', 'watt', 'joules', 'flops'].includes(rest)) return based(f, rest);
  }
  for (const [p, f] of Object.entries(BINARY_PREFIX)) {
    if (part.startsWith(p) && BASES.has(part.slice(p.length))) return based(f, part.slice(p.length));
  }
  const first = part[0]!;
  if (SI_PREFIX[first] !== undefined && BASES.has(part.slice(1))) return based(SI_PREFIX[first]!, part.slice(1));
  return { scale: 1, known: false, ...none };
}

/** Scale of a unit such as "GB", "TB/s", "μJ/inference", "GPU-hours" (first word only). */
export function unitScale(unit: string): UnitScale {
  const word = unit.trim().split(/\s+/)[0] ?? '';
  if (word === '') return { scale: 1, known: false, dim: '' };
  const [num, ...dens] = word.split('/');
  const n = partScale(num ?? '');
  let scale = n.scale;
  let known = n.known && (num ?? '') !== '';
  const top = [...n.num];
  const bottom = [...n.den];
  for (const d of dens) {
    const s = partScale(d);
    scale /= s.scale;
    known = known && s.known;
    top.push(...s.den);
    bottom.push(...s.num);
  }
  // Cancel, then sort, so "J/s" and "W" share a signature.
  for (let i = top.length - 1; i >= 0; i--) {
    const j = bottom.indexOf(top[i]!);
    if (j >= 0) {
      top.splice(i, 1);
      bottom.splice(j, 1);
    }
  }
  return { scale, known, dim: `${top.sort().join('*')}/${bottom.sort().join('*')}` };
}
