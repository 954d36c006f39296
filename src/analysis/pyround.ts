/**
 * Python's float rounding and printing, reproduced exactly.
 *
 * The reference analyzer sorts on `round(score, 2)`, so a rounding that differs from CPython's by
 * one unit in the last place reorders plan cells. CPython rounds the *exact* binary value of the
 * double, half to even; `Number(x.toFixed(n))` rounds exact ties away from zero instead
 * (0.125 → 0.13 where Python gives 0.12). Every finite double is a finite decimal, so we expand
 * it exactly with BigInt and round that.
 */

const view = new DataView(new ArrayBuffer(8));

/** The exact value of |x| as `digits / 10^scale` (digits a BigInt, scale ≥ 0). */
function exactDecimal(ax: number): { digits: bigint; scale: number } {
  view.setFloat64(0, ax);
  const hi = view.getUint32(0);
  const lo = view.getUint32(4);
  const biasedExp = (hi >>> 20) & 0x7ff;
  let mant = (BigInt(hi & 0xfffff) << 32n) | BigInt(lo);
  let exp2: number;
  if (biasedExp === 0) {
    exp2 = -1074; // subnormal
  } else {
    mant |= 1n << 52n;
    exp2 = biasedExp - 1075;
  }
  if (exp2 >= 0) return { digits: mant << BigInt(exp2), scale: 0 };
  // mant * 2^-k == mant * 5^k / 10^k
  const k = -exp2;
  return { digits: mant * 5n ** BigInt(k), scale: k };
}

/** Python 3 `round(x, ndigits)` for a float `x` (round-half-even on the exact binary value). */
export function pyRound(x: number, ndigits = 0): number {
  if (!Number.isFinite(x) || x === 0) return x;
  if (!Number.isInteger(ndigits)) throw new RangeError(`ndigits must be an integer, got ${ndigits}`);
  const negative = x < 0;
  const { digits, scale } = exactDecimal(Math.abs(x));
  if (ndigits >= scale) return x; // already exact at that many decimals
  const div = 10n ** BigInt(scale - ndigits);
  let q = digits / div;
  const twiceRem = (digits % div) * 2n;
  if (twiceRem > div || (twiceRem === div && (q & 1n) === 1n)) q += 1n;
  let text: string;
  if (ndigits >= 0) {
    const s = q.toString().padStart(ndigits + 1, '0');
    text = ndigits === 0 ? s : `${s.slice(0, s.length - ndigits)}.${s.slice(s.length - ndigits)}`;
  } else {
    text = q === 0n ? '0' : `${q}${'0'.repeat(-ndigits)}`;
  }
  // Number() parses decimal text with correct rounding, as CPython's result conversion does.
  const r = Number(text);
  return negative ? -r : r;
}

/**
 * Python's `repr(float)` / f-string `{x}`: the shortest round-trip digits (same as JS), but
 * integral values keep `.0` and the exponent form is used below 1e-4 and from 1e16 up.
 */
export function pyFloatRepr(x: number): string {
  if (Number.isNaN(x)) return 'nan';
  if (x === Infinity) return 'inf';
  if (x === -Infinity) return '-inf';
  if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0';
  const [mantissa, expText] = x.toExponential().split('e') as [string, string];
  const exp = Number(expText);
  if (exp < -4 || exp >= 16) {
    return `${mantissa}e${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
  }
  const sign = x < 0 ? '-' : '';
  const digits = mantissa.replace('-', '').replace('.', '');
  let out: string;
  if (exp >= 0) {
    const intPart = digits.length > exp + 1 ? digits.slice(0, exp + 1) : digits.padEnd(exp + 1, '0');
    const frac = digits.length > exp + 1 ? digits.slice(exp + 1) : '0';
    out = `${intPart}.${frac}`;
  } else {
    out = `0.${'0'.repeat(-exp - 1)}${digits}`;
  }
  return sign + out;
}
