/**
 * Visual sources for the offline generator: a small dot digraph in the semantic palette (≤16 nodes)
 * or a matplotlib script that writes an SVG to VISUAL_OUT_PATH, chosen by the cell's archetype and
 * drawn from the question's own numbers, with an objective alt text.
 */
import { formatQuantity } from '../../checks/arithmetic.js';
import type { HwProfile } from '../../corpus/hardware.js';
import type { QuestionParts } from './templates.js';

export interface OfflineVisual {
  visual: { kind: 'dot' | 'matplotlib'; alt: string; caption: string };
  visual_source: string;
}

const COMPUTE = 'fillcolor="#cfe2f3", color="#4a90c4"';
const DATA = 'fillcolor="#d4edda", color="#3d9e5a"';
const ACCENT = 'fillcolor="#fdebd0", color="#c87b2a"';

function dq(s: string): string {
  return s.replace(/\\/g, '\\\\').replace(/"/g, '\\"');
}

function py(s: string): string {
  return JSON.stringify(s);
}

function seriesText(parts: QuestionParts): string {
  return parts.series.map((p) => `${p.label} ${formatQuantity(p.value)} ${parts.unit}`).join(', ');
}

function dotSource(archetype: string, parts: QuestionParts, hw: HwProfile): { source: string; shows: string } {
  const head = [
    'digraph G {',
    '  graph [rankdir=LR, fontname="Helvetica", fontsize=12, bgcolor="white"];',
    '  node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=11, fontcolor="#333333"];',
    '  edge [color="#4a90c4", fontname="Helvetica", fontsize=10, fontcolor="#333333"];',
  ];
  const lines: string[] = [];
  let shows: string;
  if (/ring|tree/i.test(archetype)) {
    const n = 6;
    for (let i = 0; i < n; i++) lines.push(`  r${i} [label="rank ${i}\\n${dq(hw.short)}", ${COMPUTE}];`);
    for (let i = 0; i < n; i++) lines.push(`  r${i} -> r${(i + 1) % n} [label="${dq(`${hw.linkBw} ${hw.linkUnit}`)}"];`);
    shows = `a ring of ${n} ${hw.short} ranks, each passing chunks to its neighbour over ${hw.link} at ${hw.linkBw} ${hw.linkUnit}`;
  } else if (/topology|placement/i.test(archetype)) {
    lines.push(`  sw0 [label="switch A", ${ACCENT}];`, `  sw1 [label="switch B", ${ACCENT}];`, `  core [label="core", ${ACCENT}];`);
    for (let i = 0; i < 8; i++) {
      lines.push(`  n${i} [label="${dq(hw.short)} ${i}", ${COMPUTE}];`);
      lines.push(`  n${i} -> sw${i < 4 ? 0 : 1};`);
    }
    lines.push(`  sw0 -> core [label="uplink"];`, `  sw1 -> core [label="uplink"];`);
    shows = `8 ${hw.short} nodes placed under two leaf switches joined by a core switch`;
  } else {
    // fanout (and any other dot archetype): the question's stages or components as a flow.
    lines.push(`  src [label="${dq(hw.short)}", ${COMPUTE}];`);
    parts.series.slice(0, 12).forEach((p, i) => {
      lines.push(`  s${i} [label="${dq(p.label)}\\n${dq(formatQuantity(p.value))} ${dq(parts.unit)}", ${i % 2 ? ACCENT : DATA}];`);
      lines.push(`  ${i === 0 ? 'src' : `s${i - 1}`} -> s${i};`);
    });
    shows = `a flow from the ${hw.short} through ${seriesText(parts)}`;
  }
  return { source: [...head, ...lines, '}'].join('\n'), shows };
}

function matplotlibSource(archetype: string, parts: QuestionParts): { source: string; shows: string } {
  const labels = parts.series.map((p) => p.label);
  const values = parts.series.map((p) => Number(formatQuantity(p.value).replaceAll(',', '')));
  // JSON lists of strings and numbers are valid Python literals, so no json import is needed.
  const common = [
    'import os',
    'import matplotlib',
    'matplotlib.use("Agg")',
    'import matplotlib.pyplot as plt',
    'import numpy as np',
    '',
    'out = os.environ["VISUAL_OUT_PATH"]',
    `labels = ${JSON.stringify(labels)}`,
    `values = np.array(${JSON.stringify(values)}, dtype=float)`,
  ];
  common.push('fig, ax = plt.subplots(figsize=(6.8, 4.6))');
  let body: string[];
  let shows: string;
  if (/hockey|curve/i.test(archetype)) {
    body = [
      'rho = np.linspace(0.05, 0.95, 60)',
      'service = values[0] * (1 - 0.3)',
      'ax.plot(rho, service / (1 - rho), color="#4a90c4", linewidth=2)',
      'ax.set_xlabel("utilization")',
      `ax.set_ylabel(${py(`response time (${parts.unit})`)})`,
    ];
    shows = `response time rising steeply with utilization, ${seriesText(parts)}`;
  } else if (/gantt|timeline/i.test(archetype)) {
    body = [
      'starts = np.concatenate([[0.0], np.cumsum(values)[:-1]])',
      'ax.barh(labels, values, left=starts, color="#cfe2f3", edgecolor="#4a90c4")',
      `ax.set_xlabel(${py(parts.unit)})`,
    ];
    shows = `a timeline of consecutive phases: ${seriesText(parts)}`;
  } else {
    body = [
      'colors = ["#cfe2f3", "#d4edda", "#fdebd0"] * 8',
      'edges = ["#4a90c4", "#3d9e5a", "#c87b2a"] * 8',
      'ax.bar(labels, values, color=colors[: len(values)], edgecolor=edges[: len(values)])',
      `ax.set_ylabel(${py(parts.unit)})`,
    ];
    shows = `bars comparing ${seriesText(parts)}`;
  }
  const tail = ['ax.spines["top"].set_visible(False)', 'ax.spines["right"].set_visible(False)', 'fig.savefig(out, format="svg", bbox_inches="tight")'];
  return { source: [...common, ...body, ...tail, ''].join('\n'), shows };
}

export function buildVisual(format: 'dot' | 'matplotlib', archetype: string, parts: QuestionParts, hw: HwProfile, titleCore: string): OfflineVisual {
  const { source, shows } = format === 'dot' ? dotSource(archetype, parts, hw) : matplotlibSource(archetype, parts);
  const kindWord = format === 'dot' ? 'Diagram' : 'Chart';
  let alt = `${kindWord} (${archetype}) showing ${shows}.`;
  if (alt.length > 390) alt = `${alt.slice(0, 387)}...`;
  return { visual: { kind: format, alt, caption: titleCore.slice(0, 120) }, visual_source: source };
}
