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
export { pyFloatRepr } from '../util/pyfloat.js';

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
