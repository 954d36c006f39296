import { describe, expect, it } from 'vitest';
import { pyFloatRepr, pyRound } from '../../src/analysis/pyround.js';

// Expected values produced by CPython 3 `round(v, n)` / `repr(x)` on this machine.
const CPYTHON_ROUND: [number, number, number][] = [
  [2.675, 2, 2.67],
  [0.125, 2, 0.12], // exact tie → even (toFixed gives 0.13)
  [0.375, 2, 0.38], // exact tie → even, upward
  [0.625, 2, 0.62],
  [2.5, 0, 2.0],
  [3.5, 0, 4.0],
  [0.5, 0, 0.0],
  [1.005, 2, 1.0], // near-tie just below
  [1.015, 2, 1.01],
  [1.025, 2, 1.02],
  [0.045, 2, 0.04],
  [0.285, 2, 0.28],
  [1.115, 2, 1.11],
  [2.345, 2, 2.35], // near-tie just above
  [2.355, 2, 2.35],
  [-2.675, 2, -2.67],
  [-0.125, 2, -0.12],
  [0.05, 1, 0.1],
  [0.15, 1, 0.1],
  [0.25, 1, 0.2],
  [0.35, 1, 0.3],
  [0.45, 1, 0.5],
  [8.125, 2, 8.12],
  [1.4849999999999999, 2, 1.48],
  [1.4850000000000001, 2, 1.49],
  [0.7 * 1.2, 2, 0.84],
  [1.5 * 1.3 * 1.4, 2, 2.73],
  [53 / 66, 1, 0.8],
  [1001 / 13, 1, 77.0],
  [125.0, -1, 120.0],
  [135.0, -1, 140.0],
  [5e-324, 2, 0.0],
  [1e300, 2, 1e300],
  [0.30000000000000004, 2, 0.3],
];

describe('pyRound', () => {
  it.each(CPYTHON_ROUND)('round(%s, %s) == %s as in CPython', (v, n, want) => {
    expect(pyRound(v, n)).toBe(want);
  });

  it('differs from toFixed exactly on binary ties', () => {
    expect(Number((0.125).toFixed(2))).toBe(0.13);
    expect(pyRound(0.125, 2)).toBe(0.12);
    expect(Number((2.5).toFixed(0))).toBe(3);
    expect(pyRound(2.5, 0)).toBe(2);
  });

  it('agrees with toFixed (exact-value rounding) except on exact binary ties, which go to even', () => {
    let ties = 0;
    for (let k = 0; k < 5000; k++) {
      const v = k / 1000 + 0.0005; // mostly near-ties, a few exact ones (0.0625, 0.1875, ...)
      const fixed = Number(v.toFixed(3));
      // A double is exactly halfway at 3 decimals iff it is m/2000 with m odd, and m/2000 is a
      // binary fraction only when it is an odd multiple of 1/16 (multiplying by 16 is exact).
      const exactTie = Number.isInteger(v * 16) && (v * 16) % 2 === 1;
      if (exactTie) {
        ties++;
        expect(Math.round(pyRound(v, 3) * 1000) % 2).toBe(0);
      } else {
        expect(pyRound(v, 3)).toBe(fixed);
      }
    }
    expect(ties).toBeGreaterThan(0);
  });

  it('keeps non-finite values and zero', () => {
    expect(pyRound(Infinity, 2)).toBe(Infinity);
    expect(Number.isNaN(pyRound(NaN, 2))).toBe(true);
    expect(Object.is(pyRound(-0, 2), -0)).toBe(true);
  });
});

describe('pyFloatRepr', () => {
  it.each([
    [0, '0.0'],
    [2, '2.0'],
    [1e16, '1e+16'],
    [1.5e-5, '1.5e-05'],
    [0.0001, '0.0001'],
    [123.456, '123.456'],
    [1e22, '1e+22'],
    [-0.5, '-0.5'],
    [2.73, '2.73'],
  ])('repr(%s) == %s', (x, want) => {
    expect(pyFloatRepr(x)).toBe(want);
  });
});
