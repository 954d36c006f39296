/**
 * The arithmetic re-check of napkin math: finds statements such as `61 GB / 2.0 TB/s = 30.5 ms`
 * or `$2 \times 32 \times 8 = 512$`, evaluates the left side and compares it with the right side.
 *
 * Quantities carry dimensions (src/checks/units.ts, on mathjs): when every unit of a statement is
 * known, its sides are compared in SI units. A mismatch by a unit factor (1000ⁿ, 1024ⁿ, ×8) or of
 * dimension is a *unit* finding, evidence for the judge; a mismatch by any other factor beyond every
 * tolerance is a *value* finding, and only that one is certain (the pre-judge may DROP on it) —
 * and only for a `=`/`≈` statement of the napkin math, not for prose ("which gives 7.5 MB") or the
 * solution text. KB and friends are read as 1000ⁿ or 1024ⁿ unless the text uses IEC prefixes.
 * Ranges ("15–60 W × 8 h = 120–480 Wh") are evaluated end by end. Anything it cannot read with
 * confidence (symbols, prose between numbers, definitions such as `Wait Time = 200ms`) is skipped,
 * never failed: a false DROP costs more than a missed check.
 */
import { combineDims, MAGNITUDE_WORDS, sameDims, scaleDims, unitScale } from './units.js';

export type ArithmeticStatus = 'passed' | 'failed' | 'not-run';

export interface ArithmeticResult {
  status: ArithmeticStatus;
  /** Statements evaluated. */
  checked: number;
  /** One line per statement whose sides disagree (values and units). */
  failures: string[];
  /** The same, with their kind and certainty. */
  problems: ArithmeticProblem[];
}

/** value: wrong beyond every tolerance; unit: off by a unit factor; dimension: sides of different kinds. */
export type MismatchKind = 'value' | 'unit' | 'dimension';

export interface ArithmeticProblem {
  kind: MismatchKind;
  /** Certain enough to DROP without a model call (see docs/checks.md). */
  certain: boolean;
  message: string;
  statement: string;
}

export interface ArithmeticOptions {
  /** Relative tolerance (default 0.02). A stated value's own rounding is always allowed too. */
  relTol?: number;
  /**
   * The whole draft's text, to learn the byte convention: with IEC prefixes (GiB) or a stated
   * "1 KB = 1,024 bytes" anywhere, KB/MB/GB are no longer read both ways.
   */
  context?: string;
  /** Prose statements only count for evidence (the solution text): never certain. */
  prose?: boolean;
}

export interface ArithmeticStatement {
  /** The statement as read (after KaTeX and markdown were flattened). */
  text: string;
  ok: boolean;
  /** What disagrees, when not ok. */
  kind?: MismatchKind;
  /** A failure certain enough to DROP on. */
  certain: boolean;
  /** Left side, numbers only (units ignored, K/M/B suffixes and % applied). */
  computed: number;
  /** The stated right side, same convention. */
  stated: number;
  /** Where the right side's first number sits in the original text, for repairs. */
  statedSpan: { start: number; end: number };
}

export const DEFAULT_REL_TOL = 0.02;

// ---------------------------------------------------------------------------------------------
// Flattening KaTeX and markdown, keeping a map from each output character to its source offset.

interface Mapped {
  text: string;
  map: number[];
}

function rewrite(m: Mapped, re: RegExp, replace: (match: RegExpExecArray) => string): Mapped {
  let text = '';
  const map: number[] = [];
  let last = 0;
  re.lastIndex = 0;
  for (let match = re.exec(m.text); match; match = re.exec(m.text)) {
    if (match[0] === '') {
      re.lastIndex++;
      continue;
    }
    text += m.text.slice(last, match.index);
    map.push(...m.map.slice(last, match.index));
    const out = replace(match);
    text += out;
    const src = m.map[match.index] ?? 0;
    for (let i = 0; i < out.length; i++) map.push(src);
    last = match.index + match[0].length;
  }
  text += m.text.slice(last);
  map.push(...m.map.slice(last));
  return { text, map };
}

function flatten(source: string): Mapped {
  let m: Mapped = { text: source, map: Array.from({ length: source.length }, (_, i) => i) };
  const steps: [RegExp, (x: RegExpExecArray) => string][] = [
    // Literal escapes stored as text by some writers (`30B \u00d7 2 bytes`).
    [/\\u([0-9a-fA-F]{4})/g, (x) => String.fromCharCode(parseInt(x[1]!, 16))],
    [/\\(?:text|mathrm|mathbf|textbf|operatorname|mbox)\s*\{([^{}]*)\}/g, (x) => ` ${x[1]} `],
    [/\\frac\s*\{([^{}]*)\}\s*\{([^{}]*)\}/g, (x) => `((${x[1]})/(${x[2]}))`],
    [/\\sqrt\s*\{([^{}]*)\}/g, (x) => `sqrt(${x[1]})`],
    [/\^\{([^{}]*)\}/g, (x) => `^(${x[1]})`],
    [/\\(?:times)(?![A-Za-z])/g, () => ' × '],
    [/\\(?:cdot)(?![A-Za-z])/g, () => ' × '],
    [/\\(?:div)(?![A-Za-z])/g, () => ' / '],
    [/\\(?:approx|simeq|cong)(?![A-Za-z])/g, () => ' ≈ '],
    [/\\sim(?![A-Za-z])/g, () => ' ~ '],
    [/\\(?:leq|le|geq|ge|ll|gg|lt|gt|neq|ne)(?![A-Za-z])/g, () => ' < '],
    [/\\(?:rightarrow|to|Rightarrow|implies)(?![A-Za-z])/g, () => ' → '],
    [/\\(?:left|right)(?![A-Za-z])/g, () => ''],
    [/\\%/g, () => '%'],
    [/\\[,;:! ]/g, () => ' '],
    [/\\mu(?![A-Za-z])/g, () => 'μ'],
    [/\\rho(?![A-Za-z])/g, () => 'ρ'],
    [/\\lambda(?![A-Za-z])/g, () => 'λ'],
    [/\\alpha(?![A-Za-z])/g, () => 'α'],
    [/\\[A-Za-z]+/g, () => ' '],
    [/[{}]/g, () => ' '],
    // Markdown bold and KaTeX delimiters / currency: no arithmetic meaning.
    [/\*\*/g, () => '  '],
    [/\$/g, () => ' '],
    [/−/g, () => '-'],
    // Arithmetic written in prose: "3 × 2.5 GB, which gives 7.5 GB" (checked only with an operator on the left).
    [/,?\s+(?:which|this|that)\s+(?:gives|is|comes\s+to|yields|makes|equals|means)\s+(?=[~≈]?\s*[\d.$])/gi, () => ' ⟹ '],
    [/,?\s+(?:giving|yielding|for\s+a\s+total\s+of|resulting\s+in|equals|we\s+get|i\.e\.,?)\s+(?=[~≈]?\s*[\d.$])/gi, () => ' ⟹ '],
    [/(?:->|=>|⇒|→)/g, () => ' ⟹ '],
    [/(?:<=|>=|!=|≤|≥|≠|≪|≫|<<|>>)/g, () => ' < '],
    [/==/g, () => ' ='],
  ];
  for (const [re, fn] of steps) m = rewrite(m, re, fn);
  return m;
}

// ---------------------------------------------------------------------------------------------
// Tokens

interface NumTok {
  k: 'num';
  /** The digits as written (no magnitude, no percent). */
  printed: number;
  decimals: number;
  /** K/M/B suffix or "million" etc. */
  mag: number;
  pct: boolean;
  unit: string;
  /** The upper end of a range ("15–60 W"); its digits as written. */
  hi?: { printed: number; decimals: number };
  /** Exponent of scientific notation ("1e9"): the tolerance is taken on the mantissa. */
  exp10: number;
  start: number;
  end: number;
}
type Op = '+' | '-' | '*' | '/' | '^';
type Tok =
  | NumTok
  | { k: 'op'; op: Op; start: number; end: number }
  | { k: 'lp' | 'rp' | 'tilde'; start: number; end: number }
  | { k: 'rel'; approx: boolean; prose: boolean; start: number; end: number }
  | { k: 'word'; text: string; start: number; end: number }
  | { k: 'punct'; text: string; start: number; end: number };

/** Words that end a number's unit (prose, not units). */
const STOP_WORDS = new Set(
  (
    'per at of in on for with from to into and or vs versus is are was were be been by than the a an so which that this it ' +
    'as over under about approximately roughly around nearly only each every if then else when while where but not no ' +
    'leaves leaving gives yields means requires needs fits exceeds takes gets becomes stays reaches would will can could ' +
    'should must may might has have had do does did all any both either'
  ).split(' '),
);
const APPROX_WORDS = new Set(['about', 'approximately', 'roughly', 'around', 'nearly', 'approx', 'approx.', 'circa']);
const MAG_SUFFIX: Record<string, number> = { K: 1e3, k: 1e3, M: 1e6, B: 1e9, T: 1e12 };

const NUM_RE = /^(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:[eE][+-]?\d+(?![A-Za-z]))?|^\.\d+/;
const WORD_RE = /^[A-Za-zμµ°Ωα-ωΑ-ΩΔ_][\wμµ°Ωα-ωΑ-ΩΔ'-]*(?:\/[A-Za-zμµ°Ω][\wμµ°Ω-]*)*/;
const ATTACHED_UNIT_RE = /^[A-Za-zμµ°Ω][\wμµ°Ω-]*(?:\/[A-Za-zμµ°Ω][\wμµ°Ω-]*)*/;

function isTimesX(s: string, i: number): boolean {
  // "3x3", "8x80GB", "3x3 x 100": an x that multiplies (followed by a number or a parenthesis).
  if (s[i] !== 'x' && s[i] !== 'X') return false;
  if (/[A-Za-z]/.test(s[i + 1] ?? '')) return false;
  let j = i + 1;
  while (s[j] === ' ') j++;
  return /[\d(.]/.test(s[j] ?? '');
}

function tokenize(s: string): Tok[] {
  const toks: Tok[] = [];
  let i = 0;
  const last = (): Tok | undefined => toks[toks.length - 1];
  while (i < s.length) {
    const c = s[i]!;
    if (c === ' ' || c === '\t') {
      i++;
      continue;
    }
    const rest = s.slice(i);
    const num = /[\d.]/.test(c) ? NUM_RE.exec(rest) : null;
    if (num) {
      const text = num[0];
      const dot = text.replace(/[eE].*$/, '').split('.');
      const expM = /[eE]([+-]?\d+)$/.exec(text);
      const tok: NumTok = {
        k: 'num',
        printed: Number(text.replaceAll(',', '')),
        decimals: dot.length > 1 ? dot[1]!.length : 0,
        mag: 1,
        pct: false,
        unit: '',
        exp10: expM ? Number(expM[1]) : 0,
        start: i,
        end: i + text.length,
      };
      let j = i + text.length;
      // A range: "15–60 W", "15 to 60 W", "15-60 W" (a hyphen only with no spaces and a unit after).
      const range = /^(?:\s*[–—]\s*|\s+to\s+|-)((?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?)/.exec(s.slice(j));
      if (range && (range[0][0] !== '-' || /^\s?[A-Za-zμµ%]/.test(s.slice(j + range[0].length)))) {
        const hiText = range[1]!;
        const hiDot = hiText.split('.');
        tok.hi = { printed: Number(hiText.replaceAll(',', '')), decimals: hiDot.length > 1 ? hiDot[1]!.length : 0 };
        j += range[0].length;
      }
      // Attached suffix: %, a magnitude letter, or a unit ("16GB", "5°C/W", "8.75x").
      if (s[j] === '%') {
        tok.pct = true;
        j++;
      } else if (!isTimesX(s, j)) {
        const mag = /^[KkMBT](?![A-Za-z])/.exec(s.slice(j));
        if (mag) {
          tok.mag = MAG_SUFFIX[mag[0]]!;
          j += 1;
        }
        const unit = isTimesX(s, j) ? null : ATTACHED_UNIT_RE.exec(s.slice(j));
        if (unit) {
          tok.unit = unit[0];
          j += unit[0].length;
        }
      }
      // Spaced unit words: up to two ("GB", "MB model", "KV heads"), stopping at prose.
      let words = tok.unit ? 1 : 0;
      for (;;) {
        let k = j;
        while (s[k] === ' ') k++;
        if (isTimesX(s, k)) break;
        const w = WORD_RE.exec(s.slice(k));
        if (!w) break;
        const word = w[0];
        const lower = word.toLowerCase();
        if (MAGNITUDE_WORDS[lower] !== undefined) {
          tok.mag *= MAGNITUDE_WORDS[lower]!;
          j = k + word.length;
          continue;
        }
        if (words >= 2 || STOP_WORDS.has(lower) || APPROX_WORDS.has(lower)) break;
        // A word used as a function or assigned to ("ln(", "K=") is not a unit.
        if (s[k + word.length] === '(' || s[k + word.length] === '=') break;
        tok.unit = tok.unit ? `${tok.unit} ${word}` : word;
        words++;
        j = k + word.length;
      }
      tok.end = j;
      toks.push(tok);
      // An annotation in parentheses right after a number ("16GB (weights)", "2 (K,V)").
      let k = j;
      while (s[k] === ' ') k++;
      if (s[k] === '(') {
        let m = k + 1;
        while (s[m] === ' ') m++;
        if (!/[\d.($-]/.test(s[m] ?? '')) {
          let depth = 0;
          let e = k;
          for (; e < s.length; e++) {
            if (s[e] === '(') depth++;
            else if (s[e] === ')' && --depth === 0) break;
          }
          if (e < s.length) {
            i = e + 1;
            continue;
          }
        }
      }
      i = j;
      continue;
    }
    if (c === '~') {
      // "~604M" marks an approximate value; " ~ " between two sides is an approximate equality.
      const attached = /[\d.($]/.test(s[i + 1] ?? '');
      toks.push(attached ? { k: 'tilde', start: i, end: i + 1 } : { k: 'rel', approx: true, prose: false, start: i, end: i + 1 });
      i++;
      continue;
    }
    if (c === '=' || c === '≈' || c === '≃' || c === '≅' || c === '⟹') {
      toks.push({ k: 'rel', approx: c !== '=' && c !== '⟹', prose: c === '⟹', start: i, end: i + 1 });
      i++;
      continue;
    }
    if (c === '(' || c === ')') {
      toks.push({ k: c === '(' ? 'lp' : 'rp', start: i, end: i + 1 });
      i++;
      continue;
    }
    if ('+-*×·⋅/÷^'.includes(c)) {
      const op = c === '+' ? '+' : c === '-' ? '-' : c === '/' || c === '÷' ? '/' : c === '^' ? '^' : '*';
      toks.push({ k: 'op', op, start: i, end: i + 1 });
      i++;
      continue;
    }
    const prev = last();
    if ((c === 'x' || c === 'X') && prev && (prev.k === 'num' || prev.k === 'rp') && isTimesX(s, i)) {
      toks.push({ k: 'op', op: '*', start: i, end: i + 1 });
      i++;
      continue;
    }
    const word = WORD_RE.exec(rest);
    if (word) {
      toks.push({ k: 'word', text: word[0], start: i, end: i + word[0].length });
      i += word[0].length;
      continue;
    }
    toks.push({ k: 'punct', text: c, start: i, end: i + 1 });
    i++;
  }
  return toks;
}

// ---------------------------------------------------------------------------------------------
// Expressions. Every value is carried in two readings: raw (units ignored) and scaled (SI units).

interface Val {
  raw: number;
  scaled: number;
  /** Every unit met was recognised (the scaled reading means something). */
  known: boolean;
  /** Dimension exponents; null once two sides of a sum disagree or a unit is unknown. */
  dims: number[] | null;
  /** A unit in bits was met (so a ×8 against bytes is a unit factor). */
  bits: boolean;
  /** A decimal-prefixed data unit (KB, GB) was met: read as 1000ⁿ or 1024ⁿ unless the text fixes it. */
  decimalData: boolean;
  /** A binary-prefixed data unit (KiB, GiB) was met. */
  binary: boolean;
  /** Bare conversion constants (8, 1000, 1024, 3600…) among the operands: the writer converts by hand. */
  constants: number[];
  /** No operand carries a unit (plain numbers only). */
  unitless: boolean;
  /** Decimal prefix power of the data units (kB 1, MB 2…), for the KB = 1000/1024 reading; null when mixed. */
  dataPow: number | null;
  /** A range end was used. */
  range: boolean;
}

const BITS_RE = /(?:^|[^A-Za-z])(?:[kKMGT]?b|[kKMGT]?bps|[A-Za-z]*bits?)(?:\/|\s|$)/;
const BINARY_RE = /(?:^|[^A-Za-z])[KMGT]i[Bb]/;
/** Words that count things rather than measure them. */
const COUNT_WORD_RE = /^(?:[A-Z]{2,5}s|[a-z]{3,}s|req|tok|img|inference|params?|parameters?|tokens?|requests?|users?|images?|layers?|steps?|samples?|heads?|GPUs?|TPUs?|NPUs?|nodes?|queries|query|frames?|cores?|chips?|devices?|experts?)$/;
const CONVERSION_CONSTANTS = [8, 60, 1000, 1024, 3600, 86400, 1e6, 1e9, 1e12, 1024 ** 2, 1024 ** 3, 1 / 8, 1e-3, 1e-6, 1e-9];

function join(a: Val, b: Val, raw: number, scaled: number, dims: number[] | null, dataPow: number | null): Val {
  return {
    raw,
    scaled,
    known: a.known && b.known,
    dims,
    bits: a.bits || b.bits,
    decimalData: a.decimalData || b.decimalData,
    binary: a.binary || b.binary,
    constants: [...a.constants, ...b.constants],
    unitless: a.unitless && b.unitless,
    dataPow,
    range: a.range || b.range,
  };
}
interface Parsed {
  val: Val;
  end: number;
  hasOp: boolean;
  /** The first token, when the expression starts with a plain number. */
  first: NumTok | null;
}

/** `left op right` as one parsed expression: its value, ending where `right` ends. */
const applied = (left: Parsed, right: Parsed, val: Val): Parsed => ({ val, end: right.end, hasOp: true, first: left.first });

type Pick = 'lo' | 'hi';

function numVal(t: NumTok, pick: Pick = 'lo'): Val {
  const printed = pick === 'hi' && t.hi ? t.hi.printed : t.printed;
  const base = printed * t.mag * (t.pct ? 0.01 : 1);
  const range = pick === 'hi' && t.hi !== undefined;
  if (t.unit === '') {
    const constants = t.mag === 1 && !t.pct && CONVERSION_CONSTANTS.some((c) => Math.abs(base - c) <= 1e-9 * c) ? [base] : [];
    return { raw: base, scaled: base, known: true, dims: [], bits: false, decimalData: false, binary: false, constants, unitless: true, dataPow: 0, range };
  }
  const u = unitScale(t.unit);
  if (!u.known && COUNT_WORD_RE.test(t.unit)) {
    // "8 GPUs", "70B params": a count of things, dimensionless.
    return { raw: base, scaled: base, known: true, dims: [], bits: false, decimalData: false, binary: false, constants: [], unitless: false, dataPow: 0, range };
  }
  const rate = /^([A-Za-z]+)\/([A-Za-z]+)$/.exec(t.unit);
  if (!u.known && rate && COUNT_WORD_RE.test(rate[1]!)) {
    // "15 req/s", "3,000 tokens/s": a count per unit of time (or of anything known).
    const per = unitScale(rate[2]!);
    if (per.known && per.dims) {
      // Counted as unitless for a change of kind: "1000 ms / 41.8 ms = 23.9 tokens/s" leaves the "per second" implied.
      return { raw: base, scaled: base / per.scale, known: true, dims: per.dims.map((x) => -x), bits: false, decimalData: false, binary: false, constants: [], unitless: true, dataPow: 0, range };
    }
  }
  return {
    raw: base,
    scaled: base * u.scale,
    known: u.known,
    dims: u.dims ? [...u.dims] : null,
    bits: BITS_RE.test(t.unit),
    decimalData: u.decimalData,
    binary: u.binaryData || BINARY_RE.test(t.unit),
    constants: [],
    unitless: false,
    dataPow: u.dataPow,
    range,
  };
}

class Parser {
  constructor(
    private readonly t: Tok[],
    private readonly end: number,
    private readonly pick: Pick = 'lo',
  ) {}

  private at(i: number): Tok | undefined {
    return i < this.end ? this.t[i] : undefined;
  }

  expr(i: number): Parsed | null {
    return this.chain(i, (j) => this.term(j), ['+', '-'], (op, a, b) => {
      const sign = op === '+' ? 1 : -1;
      const dims = a.dims && b.dims && sameDims(a.dims, b.dims) ? a.dims : null;
      return join(a, b, a.raw + sign * b.raw, a.scaled + sign * b.scaled, dims, a.dataPow === b.dataPow ? a.dataPow : null);
    });
  }

  private term(i: number): Parsed | null {
    return this.chain(i, (j) => this.factor(j), ['*', '/'], (op, a, b) => {
      const mul = op === '*';
      const dims = a.dims && b.dims ? combineDims(a.dims, b.dims, mul ? 1 : -1) : null;
      const dataPow = a.dataPow !== null && b.dataPow !== null ? a.dataPow + (mul ? 1 : -1) * b.dataPow : null;
      return join(a, b, mul ? a.raw * b.raw : a.raw / b.raw, mul ? a.scaled * b.scaled : a.scaled / b.scaled, dims, dataPow);
    });
  }

  /** A left-associative chain `operand (op operand)*` over the operators in `ops`, folded by `fold`. */
  private chain(i: number, operand: (i: number) => Parsed | null, ops: readonly Op[], fold: (op: Op, a: Val, b: Val) => Val): Parsed | null {
    let left = operand(i);
    if (!left) return null;
    for (;;) {
      const op = this.at(left.end);
      if (!op || op.k !== 'op' || !ops.includes(op.op)) return left;
      const right = operand(left.end + 1);
      if (!right) return left;
      left = applied(left, right, fold(op.op, left.val, right.val));
    }
  }

  private factor(i: number): Parsed | null {
    const base = this.unary(i);
    if (!base) return null;
    const op = this.at(base.end);
    if (!op || op.k !== 'op' || op.op !== '^') return base;
    const exp = this.factor(base.end + 1);
    if (!exp) return base;
    // Exponents are plain numbers: the raw reading is the exponent in both readings.
    return applied(base, exp, {
      ...base.val,
      raw: base.val.raw ** exp.val.raw,
      scaled: base.val.scaled ** exp.val.raw,
      dims: base.val.dims && exp.val.dims && exp.val.dims.every((x) => x === 0) ? scaleDims(base.val.dims, exp.val.raw) : null,
      // 2^30 is a power, not a conversion constant of the writer's.
      constants: [],
      dataPow: null,
    });
  }

  private unary(i: number): Parsed | null {
    const t = this.at(i);
    if (!t) return null;
    if (t.k === 'tilde') return this.unary(i + 1);
    if (t.k === 'op' && t.op === '-') {
      const inner = this.unary(i + 1);
      if (!inner) return null;
      return { ...inner, val: { ...inner.val, raw: -inner.val.raw, scaled: -inner.val.scaled }, first: null };
    }
    return this.primary(i);
  }

  private primary(i: number): Parsed | null {
    const t = this.at(i);
    if (!t) return null;
    if (t.k === 'num') return { val: numVal(t, this.pick), end: i + 1, hasOp: false, first: t };
    if (t.k === 'lp') {
      const inner = this.expr(i + 1);
      if (!inner) return null;
      const close = this.at(inner.end);
      if (!close || close.k !== 'rp') return null;
      return { val: inner.val, end: inner.end + 1, hasOp: inner.hasOp, first: null };
    }
    return null;
  }
}

// ---------------------------------------------------------------------------------------------
// Comparing the two sides

/**
 * Unit factors: 1000ⁿ, ×8 / ÷8, 1.024ⁿ and their products. In the raw reading (units ignored) a
 * result off by one of them may be a unit change ("7B × 2 bytes = 14 GB"), so it is accepted; in
 * the SI reading it is a unit slip ("2 × 3.75 GB = 7.5 MB").
 */
function unitFactors(bits: boolean, binary: boolean): number[] {
  const out: number[] = [];
  for (let k = -8; k <= 8; k++) {
    for (const b of bits ? [1, 8, 1 / 8] : [1]) {
      for (let j = binary ? -4 : 0; j <= (binary ? 4 : 0); j++) out.push(10 ** (3 * k) * b * 1.024 ** j);
    }
  }
  return out;
}
const FACTOR_SETS = [unitFactors(false, false), unitFactors(false, true), unitFactors(true, false), unitFactors(true, true)] as const;
const SLIP_SETS = FACTOR_SETS.map((set) => set.filter((f) => Math.abs(f - 1) > 1e-9));

function near(l: number, r: number, f: number, tol: number): boolean {
  return Math.abs(l / f - r) <= tol * Math.abs(r) * (1 + 1e-9);
}

function agrees(left: Val, right: Val, mode: 'raw' | 'scaled', tol: number): boolean {
  const l = left[mode];
  const r = right[mode];
  if (!Number.isFinite(l) || !Number.isFinite(r)) return false;
  if (r === 0 || l === 0) return Math.abs(l - r) < 1e-12;
  if (Math.sign(l) !== Math.sign(r)) return false;
  const set = FACTOR_SETS[(left.bits || right.bits ? 2 : 0) + (left.binary || right.binary ? 1 : 0)]!;
  return set.some((f) => near(l, r, f, tol));
}

/**
 * Compares a left side with a stated value: null when they agree, else what disagrees. With every
 * unit known the SI reading decides; otherwise the raw reading, lenient about unit factors.
 */
function compare(left: Val, right: Val, tol: number, bytesFixed: boolean): MismatchKind | null {
  const dimsKnown = left.known && right.known && left.dims !== null && right.dims !== null;
  if (!dimsKnown) return agrees(left, right, 'raw', tol) ? null : 'value';
  const l = left.scaled;
  const r = right.scaled;
  const rawOk = agrees(left, right, 'raw', tol);
  if (!sameDims(left.dims!, right.dims!)) {
    // "10 × 8 = 80 Gb" after "10 GB": plain numbers computed by hand make no claim on units.
    if (left.unitless || right.unitless) return rawOk ? null : 'value';
    return 'dimension';
  }
  if (!Number.isFinite(l) || !Number.isFinite(r)) return 'value';
  if (r === 0 || l === 0) return Math.abs(l - r) < 1e-12 ? null : 'value';
  if (Math.sign(l) === Math.sign(r)) {
    if (near(l, r, 1, tol)) return null;
    // KB read as 1024 bytes: only across a change of prefix ("192 KB = 196,608 bytes"), by 1.024 per step.
    if (!bytesFixed && (left.decimalData || right.decimalData)) {
      const steps = left.dataPow !== null && right.dataPow !== null ? [left.dataPow - right.dataPow] : [-5, -4, -3, -2, -1, 1, 2, 3, 4, 5];
      if (steps.some((j) => j !== 0 && (near(l, r, 1.024 ** j, tol) || near(l, r, 1.024 ** -j, tol)))) return null;
    }
  }
  // "0.05 s × 1000 = 50 ms", "100 Gbps / 8 = 12.5 GB/s": a conversion written out with a bare constant.
  if (rawOk && left.constants.some((c) => near(l, r, c, tol) || near(l, r, 1 / c, tol))) return null;
  // Plain numbers have no unit to slip.
  if (left.unitless && right.unitless) return 'value';
  // 1.024ⁿ is a slip only where a prefix changes between the sides (or a binary prefix is used).
  const samePrefix = left.dataPow !== null && left.dataPow === right.dataPow;
  const slips = SLIP_SETS[(left.bits || right.bits ? 2 : 0) + (left.binary || right.binary || ((left.decimalData || right.decimalData) && !samePrefix) ? 1 : 0)]!;
  if (rawOk || (Math.sign(l) === Math.sign(r) && slips.some((f) => near(l, r, f, tol)))) return 'unit';
  return 'value';
}

/**
 * The power of 1000 that brings `left` closest to `right` (for repairs): a wrong value carries no
 * trustworthy bits/bytes or binary factor, so only the stated unit's prefix is kept.
 */
function closestFactor(left: number, right: number): number {
  const k = Math.round(Math.log10(Math.abs(left / right)) / 3);
  return 10 ** (3 * k);
}

function hasRange(toks: Tok[], a: number, b: number): boolean {
  for (let i = a; i < b; i++) if (toks[i]?.k === 'num' && (toks[i] as NumTok).hi) return true;
  return false;
}

function isBoundary(t: Tok | undefined): boolean {
  return !t || t.k === 'punct' || t.k === 'rel' || t.k === 'lp';
}

/** The longest tail of tokens [a, b) that is one whole expression, with a clean start. */
function trailing(toks: Tok[], a: number, b: number): (Parsed & { start: number }) | null {
  const p = new Parser(toks, b);
  for (let s = a; s < b; s++) {
    const t = toks[s]!;
    if (t.k !== 'num' && t.k !== 'lp' && t.k !== 'tilde' && !(t.k === 'op' && t.op === '-')) continue;
    const before = s > a ? toks[s - 1] : undefined;
    // "Reduce-Scatter (344 GB)", "ln(100)": a parenthesis after a word labels or calls, it does not compute.
    if (t.k === 'lp' && before?.k === 'word') continue;
    if (before && (before.k === 'op' || before.k === 'num' || before.k === 'rp' || before.k === 'tilde')) continue;
    // "8GB total - 2GB OS": a leading minus after prose is a dash in a sum we could not read.
    if (t.k === 'op' && !isBoundary(before)) continue;
    const e = p.expr(s);
    if (e && e.end === b) {
      // A bare number after prose ("at 102 GB/s = 137 ms") is a definition, not a conversion.
      if (!e.hasOp && s > a && !isBoundary(before)) return null;
      return { ...e, start: s };
    }
  }
  return null;
}

/** The expression at the head of tokens [a, b), after approximation words. */
function leading(toks: Tok[], a: number, b: number): { parsed: Parsed; start: number; approx: boolean } | null {
  let s = a;
  let approx = false;
  while (s < b) {
    const t = toks[s]!;
    if (t.k === 'tilde') {
      approx = true;
      s++;
    } else if (t.k === 'word' && APPROX_WORDS.has(t.text.toLowerCase())) {
      approx = true;
      s++;
    } else break;
  }
  const e = new Parser(toks, b).expr(s);
  if (!e) return null;
  const next = e.end < b ? toks[e.end] : undefined;
  // "= 2 * N": the right side goes on symbolically; the number alone is not the result.
  if (next && (next.k === 'op' || next.k === 'tilde')) return null;
  return { parsed: e, start: s, approx };
}

/**
 * The rounding a stated number allows: half its last digit ("7.5" → ±0.05), a whole digit when
 * approximate. In scientific notation the digit is the mantissa's ("1e9" ≈ 2^30: ±0.5e9, not ±0.5);
 * never more than half the value.
 */
function roundingTol(t: NumTok, approx: boolean): number {
  if (t.printed === 0) return 0;
  const ulp = 10 ** (t.exp10 - t.decimals);
  return Math.min(0.5, ((approx ? 1 : 0.5) * ulp) / Math.abs(t.printed));
}

/** Does the text fix the byte convention (IEC prefixes, or "1 KB = 1,024 bytes" / "= 1,000 bytes")? */
export function fixesByteConvention(text: string): boolean {
  return /\b\d+(?:\.\d+)?\s*[KMGTP]iB\b/.test(text) || /\b1\s*[kKMGT]B\s*=\s*(?:1,?024|1,?000|10\^\d|2\^\d)/.test(text);
}

/** Every checkable statement of a napkin-math text, with its outcome. */
export function arithmeticStatements(napkinMath: string, opts: ArithmeticOptions = {}): ArithmeticStatement[] {
  const relTol = opts.relTol ?? DEFAULT_REL_TOL;
  const out: ArithmeticStatement[] = [];
  if (typeof napkinMath !== 'string' || napkinMath.trim() === '') return out;
  const bytesFixed = fixesByteConvention(`${napkinMath}\n${opts.context ?? ''}`);
  let offset = 0;
  for (const rawLine of napkinMath.split('\n')) {
    const lineStart = offset;
    offset += rawLine.length + 1;
    // Bullets and list numbers ("- ", "* ", "1. ") are not arithmetic.
    const bullet = /^\s*(?:[-*•]|\d+\.)\s+/.exec(rawLine);
    const body = bullet ? ' '.repeat(bullet[0].length) + rawLine.slice(bullet[0].length) : rawLine;
    const flat = flatten(body);
    const toks = tokenize(flat.text);
    const rels: number[] = [];
    toks.forEach((t, i) => t.k === 'rel' && rels.push(i));
    if (rels.length === 0) continue;
    // Consecutive relation signs ("= ≈ 33GB") act as one.
    const groups: { first: number; last: number; approx: boolean; prose: boolean }[] = [];
    for (const r of rels) {
      const g = groups[groups.length - 1];
      const t = toks[r] as { approx: boolean; prose: boolean };
      if (g && g.last === r - 1) {
        g.last = r;
        g.approx ||= t.approx;
        g.prose ||= t.prose;
      } else groups.push({ first: r, last: r, approx: t.approx, prose: t.prose });
    }
    for (let gi = 0; gi < groups.length; gi++) {
      const g = groups[gi]!;
      const segStart = gi === 0 ? 0 : groups[gi - 1]!.last + 1;
      const segEnd = gi + 1 < groups.length ? groups[gi + 1]!.first : toks.length;
      const lhs = trailing(toks, segStart, g.first);
      const rhs = leading(toks, g.last + 1, segEnd);
      if (!lhs || !rhs) continue;
      const approx = g.approx || rhs.approx;
      const r = rhs.parsed;
      // Prose ("…, which gives 7.5 MB", "→") relates two things only when the left side computes.
      if (g.prose && !lhs.hasOp) continue;
      const lhsRange = hasRange(toks, lhs.start, lhs.end);
      const rhsRange = hasRange(toks, rhs.start, r.end);
      // "15–60 W × 8 h ≈ 300 Wh": a range against one value is a choice, not a claim we can check.
      if (lhsRange !== rhsRange) continue;
      if (!lhs.hasOp) {
        // A conversion ("10 MB = 80 Mb"): only between two plain numbers with recognised units.
        if (r.hasOp || !lhs.first || !r.first) continue;
        if (!lhs.first.unit || !r.first.unit || lhs.first.unit.includes(' ') || r.first.unit.includes(' ')) continue;
        if (!lhs.val.known || !r.val.known) continue;
        if (unitScale(lhs.first.unit).dim !== unitScale(r.first.unit).dim) continue;
      }
      // Each end of a range is checked on its own: the low ends together, the high ends together.
      const picks: Pick[] = lhsRange ? ['lo', 'hi'] : ['lo'];
      let kind: MismatchKind | null = null;
      for (const pick of picks) {
        const left = pick === 'lo' ? lhs.val : new Parser(toks, lhs.end, 'hi').expr(lhs.start)!.val;
        const right = pick === 'lo' ? r.val : new Parser(toks, r.end, 'hi').expr(rhs.start)!.val;
        // Candidates for the stated value: the whole right side, or its first number when the
        // right side carries on computing ("700 GB × 8 = 5,600 GB × $0.08 = $448").
        const candidates: { val: Val; tol: number }[] = [{ val: right, tol: r.hasOp || !r.first ? relTol : Math.max(relTol, roundingTol(r.first, approx)) }];
        if (r.hasOp && r.first && toks[rhs.start] === r.first) {
          candidates.push({ val: numVal(r.first, pick), tol: Math.max(relTol, roundingTol(r.first, approx)) });
        }
        const kinds = candidates.map((c) => compare(left, c.val, c.tol, bytesFixed));
        if (kinds.includes(null)) continue;
        // The mildest reading wins: a unit slip before a dimension mismatch before a wrong value.
        kind = kinds.includes('unit') ? 'unit' : kinds.includes('dimension') ? 'dimension' : 'value';
        break;
      }
      const ok = kind === null;
      const fullyKnown = lhs.val.known && r.val.known;
      const certain = kind === 'value' && fullyKnown && !g.prose && !opts.prose;
      const startTok = toks[lhs.start]!;
      const endTok = toks[r.end - 1]!;
      const text = flat.text.slice(startTok.start, endTok.end).replace(/\s+/g, ' ').trim();
      const stated = r.val.raw;
      const statedSpan = { start: -1, end: -1 };
      if (r.first) {
        // The digits as they appear in the source (with separators), for an exact span.
        const srcFrom = lineStart + (flat.map[r.first.start] ?? 0);
        const m = NUM_RE.exec(napkinMath.slice(srcFrom));
        if (m) Object.assign(statedSpan, { start: srcFrom, end: srcFrom + m[0].length });
      }
      out.push({ text, ok, ...(kind ? { kind } : {}), certain, computed: lhs.val.raw, stated, statedSpan });
    }
  }
  return out;
}

function fmt(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  const a = Math.abs(x);
  if (a !== 0 && (a >= 1e7 || a < 1e-3)) return x.toExponential(3);
  return String(Number(x.toPrecision(4)));
}

function describe(s: ArithmeticStatement): string {
  if (s.kind === 'dimension') return `"${s.text}": the two sides are of different kinds (units do not convert)`;
  if (s.kind === 'unit') {
    return `"${s.text}": the stated value is off by a unit factor (1000ⁿ, 1024ⁿ or ×8) from what the left side gives in its units`;
  }
  return `"${s.text}": the left side evaluates to ${fmt(s.computed)}, which does not match the stated ${fmt(s.stated)}`;
}

export function checkArithmetic(napkinMath: string, opts: ArithmeticOptions = {}): ArithmeticResult {
  const statements = arithmeticStatements(napkinMath, opts);
  const bad = statements.filter((s) => !s.ok);
  const problems = bad.map((s): ArithmeticProblem => ({ kind: s.kind ?? 'value', certain: s.certain, message: describe(s), statement: s.text }));
  return {
    status: statements.length === 0 ? 'not-run' : bad.length > 0 ? 'failed' : 'passed',
    checked: statements.length,
    failures: problems.map((p) => p.message),
    problems,
  };
}

/** Formats a recomputed value the way napkin math prints it: 3–4 significant digits, thousands separated. */
export function formatQuantity(x: number): string {
  const a = Math.abs(x);
  if (a >= 1000) return Math.round(x).toLocaleString('en-US');
  const digits = a >= 100 ? 1 : a >= 1 ? 2 : 3;
  const s = x.toFixed(a === 0 ? 0 : Math.max(digits, -Math.floor(Math.log10(a)) + 2));
  return s.includes('.') ? s.replace(/0+$/, '').replace(/\.$/, '') : s;
}

/**
 * Rewrites the stated value of every failing statement with the recomputed one (in the stated
 * unit: the closest legitimate unit factor is kept). Statements it cannot place are left alone.
 */
export function repairArithmetic(napkinMath: string, opts: ArithmeticOptions = {}): string {
  let text = napkinMath;
  // Repair one at a time from the end, so earlier spans stay valid; re-read after each, because a
  // fixed value can feed the next statement of a chain.
  for (let pass = 0; pass < 20; pass++) {
    const bad = arithmeticStatements(text, opts).filter((s) => !s.ok && s.statedSpan.start >= 0);
    if (bad.length === 0) break;
    const s = bad[0]!;
    const current = text.slice(s.statedSpan.start, s.statedSpan.end);
    const printed = Number(current.replaceAll(',', ''));
    if (!Number.isFinite(printed) || printed === 0 || s.stated === 0) break;
    // stated = printed × (magnitude, percent): keep those, change the digits.
    const perPrinted = s.stated / printed;
    const f = closestFactor(s.computed, s.stated);
    const next = formatQuantity(s.computed / f / perPrinted);
    if (next === current) break;
    text = text.slice(0, s.statedSpan.start) + next + text.slice(s.statedSpan.end);
  }
  return text;
}
