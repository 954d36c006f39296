/**
 * The semantic palette of the vault's visual style (SEED-SPEC §7): fill/stroke pairs per role.
 * Greys (r = g = b, white and black included) are neutral and always allowed: graphviz draws its
 * background white and its default strokes black, and the style guide's text colour is #333.
 */
export const SEMANTIC_PALETTE = {
  compute: { fill: '#cfe2f3', stroke: '#4a90c4' },
  data: { fill: '#d4edda', stroke: '#3d9e5a' },
  accent: { fill: '#fdebd0', stroke: '#c87b2a' },
  error: { fill: '#f9d6d5', stroke: '#cc4444' },
  mitRed: { fill: '#a31f34', stroke: '#a31f34' },
} as const;

export const ROOT_FONT_FAMILY = 'Helvetica Neue, Helvetica, Arial, sans-serif';

const PALETTE_HEX = new Set<string>(Object.values(SEMANTIC_PALETTE).flatMap((p) => [p.fill, p.stroke]));

/** CSS named colours that show up in graphviz and matplotlib output; the rest are resolved as unknown names. */
const NAMED: Record<string, string> = {
  white: '#ffffff',
  black: '#000000',
  gray: '#808080',
  grey: '#808080',
  lightgray: '#d3d3d3',
  lightgrey: '#d3d3d3',
  darkgray: '#a9a9a9',
  darkgrey: '#a9a9a9',
  dimgray: '#696969',
  silver: '#c0c0c0',
  gainsboro: '#dcdcdc',
  whitesmoke: '#f5f5f5',
  red: '#ff0000',
  green: '#008000',
  blue: '#0000ff',
  yellow: '#ffff00',
  orange: '#ffa500',
  purple: '#800080',
  navy: '#000080',
  lightblue: '#add8e6',
};

const NON_COLOURS = new Set(['none', 'transparent', 'currentcolor', 'inherit', 'context-fill', 'context-stroke', '']);

/** Normalizes a colour to `#rrggbb` (lower case); null for non-colours (none, url(#…)); the name for unknown names. */
export function normalizeColour(value: string): string | null {
  const v = value.trim().toLowerCase();
  if (NON_COLOURS.has(v) || v.startsWith('url(')) return null;
  let m = /^#([0-9a-f])([0-9a-f])([0-9a-f])$/.exec(v);
  if (m) return `#${m[1]}${m[1]}${m[2]}${m[2]}${m[3]}${m[3]}`;
  m = /^#([0-9a-f]{6})(?:[0-9a-f]{2})?$/.exec(v);
  if (m) return `#${m[1]}`;
  m = /^rgba?\(\s*(\d+)\s*,\s*(\d+)\s*,\s*(\d+)/.exec(v);
  if (m) return `#${[m[1], m[2], m[3]].map((n) => Math.min(255, Number(n)).toString(16).padStart(2, '0')).join('')}`;
  return NAMED[v] ?? v;
}

/** True when a normalized colour is in the semantic palette or is a neutral grey. */
export function isAllowedColour(normalized: string): boolean {
  if (PALETTE_HEX.has(normalized)) return true;
  const m = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/.exec(normalized);
  return Boolean(m && m[1] === m[2] && m[2] === m[3]);
}
