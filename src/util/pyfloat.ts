/**
 * Python's float text, the one copy (the analysis reports and the release hashes both print
 * floats the way Python does).
 */

/**
 * Python's `repr(float)` / f-string `{x}`: the shortest round-trip digits (same as JS), but
 * integral values keep `.0` and the exponent form is used below 1e-4 and from 1e16 up; NaN and the
 * infinities are `nan`, `inf`, `-inf` (json.dumps writes those differently: see src/release/pyjson.ts).
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
