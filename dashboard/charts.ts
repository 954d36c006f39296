/** Inline SVG charts, rendered on the server: no script, font or file from elsewhere. */
import type { CoverageGrid } from './data.js';

export const esc = (s: unknown): string =>
  String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

const W = 460;
const H = 200;
const PAD = { l: 44, r: 12, t: 26, b: 30 };
const fmt = (n: number): string => (Math.abs(n) >= 100 || Number.isInteger(n) ? String(Math.round(n)) : n.toFixed(2));

/** The top of a count axis: an even whole number at least `max`, so the middle tick is whole too. */
export function countAxisMax(max: number): number {
  const n = Math.max(2, Math.ceil(max));
  return n % 2 === 0 ? n : n + 1;
}

function frame(title: string, id: string, yMax: number, xs: number[], body: string, legend = ''): string {
  const ih = H - PAD.t - PAD.b;
  const ticks = [0, 0.5, 1].map((f) => {
    const y = PAD.t + ih - f * ih;
    return `<line x1="${PAD.l}" x2="${W - PAD.r}" y1="${y}" y2="${y}" stroke="#e3e6ea"/><text class="tick" x="${PAD.l - 6}" y="${y + 4}" text-anchor="end">${fmt(f * yMax)}</text>`;
  });
  const xl = xs.map((x, i) => `<text x="${xAt(i, xs.length)}" y="${H - PAD.b + 16}" text-anchor="middle">${x}</text>`);
  return (
    `<svg class="chart" id="${id}" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${esc(title)}" font-family="sans-serif" font-size="11" fill="#333">` +
    `<text x="${PAD.l}" y="15" font-size="13" font-weight="bold">${esc(title)}</text>${legend}` +
    ticks.join('') +
    xl.join('') +
    `<text x="${W - PAD.r}" y="${H - 2}" text-anchor="end" fill="#777">iteration</text>` +
    body +
    '</svg>'
  );
}

function xAt(i: number, n: number): number {
  const iw = W - PAD.l - PAD.r;
  return PAD.l + (n <= 1 ? iw / 2 : (iw * (i + 0.5)) / n);
}
const yAt = (v: number, max: number): number => PAD.t + (H - PAD.t - PAD.b) * (1 - (max > 0 ? v / max : 0));

function emptyChart(title: string, id: string): string {
  return `<svg class="chart" id="${id}" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" font-family="sans-serif" font-size="12"><text x="${PAD.l}" y="15" font-size="13" font-weight="bold">${esc(title)}</text><text x="${W / 2}" y="${H / 2}" text-anchor="middle" fill="#888">no iterations yet</text></svg>`;
}

/** A line over iterations; `limit` draws a dashed horizontal line (the budget). */
export function lineChart(opts: { id: string; title: string; xs: number[]; ys: (number | null)[]; color: string; limit?: { value: number; label: string }; counts?: boolean }): string {
  if (opts.xs.length === 0) return emptyChart(opts.title, opts.id);
  const top = Math.max(1e-9, ...opts.ys.map((y) => y ?? 0), opts.limit?.value ?? 0);
  // Counts (calls, drafts) get whole-number ticks; amounts (cost) a little headroom.
  const max = opts.counts ? countAxisMax(top) : top * 1.05;
  const pts = opts.ys.map((y, i) => (y === null ? null : `${xAt(i, opts.xs.length).toFixed(1)},${yAt(y, max).toFixed(1)}`)).filter((p): p is string => p !== null);
  let body = `<polyline fill="none" stroke="${opts.color}" stroke-width="2" points="${pts.join(' ')}"/>`;
  body += pts.map((p) => `<circle cx="${p.split(',')[0]}" cy="${p.split(',')[1]}" r="3" fill="${opts.color}"/>`).join('');
  if (opts.limit) {
    const y = yAt(opts.limit.value, max);
    body += `<line x1="${PAD.l}" x2="${W - PAD.r}" y1="${y}" y2="${y}" stroke="#c0392b" stroke-dasharray="5 4"/><text x="${W - PAD.r}" y="${y - 4}" text-anchor="end" fill="#c0392b">${esc(opts.limit.label)}</text>`;
  }
  return frame(opts.title, opts.id, max, opts.xs, body);
}

export const VERDICT_COLORS = { PASS: '#2e8b57', NEEDS_FIX: '#e0a100', DROP: '#c0392b' } as const;

/** Stacked PASS / NEEDS_FIX / DROP bars per iteration. */
export function verdictBars(id: string, title: string, rows: { x: number; PASS: number; NEEDS_FIX: number; DROP: number }[]): string {
  if (rows.length === 0) return emptyChart(title, id);
  const max = countAxisMax(Math.max(1, ...rows.map((r) => r.PASS + r.NEEDS_FIX + r.DROP)));
  const bw = Math.min(36, ((W - PAD.l - PAD.r) / rows.length) * 0.6);
  let body = '';
  rows.forEach((r, i) => {
    let acc = 0;
    for (const k of ['PASS', 'NEEDS_FIX', 'DROP'] as const) {
      if (r[k] === 0) continue;
      const y0 = yAt(acc, max);
      acc += r[k];
      const y1 = yAt(acc, max);
      body += `<rect x="${(xAt(i, rows.length) - bw / 2).toFixed(1)}" y="${y1.toFixed(1)}" width="${bw.toFixed(1)}" height="${(y0 - y1).toFixed(1)}" fill="${VERDICT_COLORS[k]}"><title>iteration ${r.x}: ${k} ${r[k]}</title></rect>`;
    }
  });
  // Each entry as wide as its label (about 7 px a character at this size): no label runs into the next swatch.
  let x = W - PAD.r - legendWidth(['PASS', 'NEEDS_FIX', 'DROP']);
  let legend = '';
  for (const k of ['PASS', 'NEEDS_FIX', 'DROP'] as const) {
    legend += `<rect class="swatch" x="${x}" y="6" width="10" height="10" fill="${VERDICT_COLORS[k]}"/><text class="label" x="${x + 14}" y="15">${k}</text>`;
    x += legendEntryWidth(k);
  }
  return frame(title, id, max, rows.map((r) => r.x), body, legend);
}

export const LEGEND_CHAR_PX = 7;
const legendEntryWidth = (label: string): number => 14 + label.length * LEGEND_CHAR_PX + 12;
const legendWidth = (labels: string[]): number => labels.reduce((n, l) => n + legendEntryWidth(l), 0);

/** A cell the plan never asks for (outside the zone × level affinity): grey, not "no gap" white. */
export const NOT_PLANNED_FILL = '#c9ced6';

/** White → deep red by the share of the largest priority. */
function heat(p: number, max: number): string {
  const f = max > 0 ? Math.min(1, p / max) : 0;
  const c = (a: number, b: number) => Math.round(a + (b - a) * f);
  return `rgb(${c(255, 180)},${c(255, 30)},${c(255, 40)})`;
}

/** One zone × level heatmap per track, coloured by gap priority. */
export function heatmaps(grid: CoverageGrid): string {
  if (grid.tracks.length === 0) return '<p class="muted">No coverage report yet.</p>';
  const steps = 8;
  let legend = `<svg class="heat-legend" id="heatmap-legend" viewBox="0 0 260 34" width="260" height="34" font-family="sans-serif" font-size="10" fill="#333"><text x="0" y="10">gap priority</text>`;
  for (let i = 0; i < steps; i++) legend += `<rect x="${i * 30}" y="14" width="30" height="10" fill="${heat((grid.maxPriority * i) / (steps - 1), grid.maxPriority)}" stroke="#dde1e6"/>`;
  legend += `<text x="0" y="33">0 (no gap)</text><text x="${steps * 30}" y="33" text-anchor="end">${grid.maxPriority.toFixed(2)}</text>`;
  legend = legend.replace('viewBox="0 0 260 34" width="260"', 'viewBox="0 0 360 34" width="360"');
  legend += `<rect x="${steps * 30 + 14}" y="14" width="30" height="10" fill="${NOT_PLANNED_FILL}" stroke="#dde1e6"/><text x="${steps * 30 + 48}" y="23">not planned</text></svg>`;
  const cw = 42;
  const ch = 18;
  const left = 92;
  const top = 34;
  return grid.tracks
    .map((t) => {
      const w = left + cw * grid.levels.length + 8;
      const h = top + ch * grid.zones.length + 6;
      let s = `<svg class="heatmap" id="heatmap-${esc(t.track)}" viewBox="0 0 ${w} ${h}" width="${w}" height="${h}" font-family="sans-serif" font-size="10" fill="#333" role="img" aria-label="coverage gaps of ${esc(t.track)}">`;
      s += `<text x="4" y="13" font-size="13" font-weight="bold">${esc(t.track)}</text>`;
      grid.levels.forEach((l, j) => (s += `<text x="${left + cw * j + cw / 2}" y="${top - 5}" text-anchor="middle">${esc(l)}</text>`));
      grid.zones.forEach((z, i) => {
        s += `<text x="${left - 5}" y="${top + ch * i + 13}" text-anchor="end">${esc(z)}</text>`;
        grid.levels.forEach((l, j) => {
          const cell = t.cells.find((c) => c.zone === z && c.level === l)!;
          const planned = cell.expected > 0;
          s += planned
            ? `<rect x="${left + cw * j}" y="${top + ch * i}" width="${cw - 1}" height="${ch - 1}" fill="${heat(cell.priority, grid.maxPriority)}"><title>${esc(t.track)} ${esc(z)} ${esc(l)}: priority ${cell.priority.toFixed(2)}${cell.priority > 0 ? '' : ' (no gap)'} (have ${cell.actual}, expected ${fmt(cell.expected)})</title></rect>`
            : `<rect class="not-planned" x="${left + cw * j}" y="${top + ch * i}" width="${cw - 1}" height="${ch - 1}" fill="${NOT_PLANNED_FILL}"><title>${esc(t.track)} ${esc(z)} ${esc(l)}: not planned (outside the zone × level affinity; have ${cell.actual})</title></rect>`;
        });
      });
      return `${s}</svg>`;
    })
    .join('') + legend;
}
