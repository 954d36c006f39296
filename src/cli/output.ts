/** CLI output helpers: the only place (with the commands) that writes to stdout/stderr directly. */
// errors.ts, not config/index.ts: this module is loaded for every command, `--help` included.
import { ConfigError, VaultLoopError, type ErrorCode } from '../errors.js';

/** Errors whose message is already a complete, user-facing sentence (no stack trace printed). */
export class UserError extends Error {
  override readonly name = 'UserError';
  constructor(message: string, readonly exitCode = 1) {
    super(message);
  }
}

/** Errors of the family whose message is a complete sentence for the person at the terminal. */
const SENTENCE_CODES: ReadonlySet<ErrorCode> = new Set<ErrorCode>(['VAULT_LOCKED', 'REDIS_UNAVAILABLE', 'CORPUS_FILE', 'BUDGET_EXHAUSTED', 'RUN_NOT_FOUND', 'NOT_FOUND', 'STATE_CONFLICT', 'INVALID_REQUEST']);

export function reportFatal(e: unknown): number {
  if (e instanceof UserError) {
    process.stderr.write(`vault-loop: ${e.message}\n`);
    return e.exitCode;
  }
  if (e instanceof ConfigError) {
    process.stderr.write(`${e.message}\n`);
    return 1;
  }
  if (e instanceof VaultLoopError && SENTENCE_CODES.has(e.code)) {
    process.stderr.write(`vault-loop: ${e.message}\n`);
    return 1;
  }
  const err = e as Error;
  process.stderr.write(`vault-loop: unexpected error: ${err?.message ?? String(e)}\n`);
  if (process.env.VAULT_LOOP_DEBUG === '1' && err?.stack) process.stderr.write(`${err.stack}\n`);
  return 1;
}

/** Renders rows as an aligned plain-text table. */
export function table(headers: string[], rows: (string | number)[][]): string {
  const cells = [headers, ...rows.map((r) => r.map(String))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  return [line(cells[0]!), line(widths.map((w) => '-'.repeat(w))), ...cells.slice(1).map(line)].join('\n');
}

/** The width output is laid out for: the terminal's columns, 80 when stdout is not a terminal. */
export function terminalWidth(out: NodeJS.WriteStream = process.stdout): number {
  return out.isTTY && out.columns ? out.columns : 80;
}

const widest = (text: string): number => Math.max(0, ...text.split('\n').map((l) => l.length));

/** One table column: its full and short header, and its cells. */
export interface FitColumn {
  header: string;
  /** The header used when the full ones do not fit; explained in the legend below the table. */
  short?: string;
  /** What the short header stands for (the legend). */
  meaning?: string;
  cells: string[];
}

/**
 * A table that fits `width` columns: the full headers if the table fits with them; else short
 * headers with a legend; else the columns stacked in several tables, each led by the first
 * (key) column; a cell too wide for even that is cut with "…". No line is wider than `width`.
 */
export function fitTable(columns: FitColumn[], width: number): string {
  const render = (cols: FitColumn[], short: boolean) => table(cols.map((c) => (short && c.short) || c.header), transpose(cols.map((c) => c.cells)));
  const full = render(columns, false);
  if (widest(full) <= width) return full;
  const abbreviated = columns.filter((c) => c.short && c.meaning);
  const legend = wrapItems(abbreviated.map((c, i) => `${c.short} = ${c.meaning}${i < abbreviated.length - 1 ? ',' : '.'}`), width);
  const short = render(columns, true);
  if (widest(short) <= width) return `${short}\n${legend}`;
  // Stacked: the key column, then as many columns as fit, in their order; again for the rest.
  const [key, ...rest] = columns;
  const groups: FitColumn[][] = [];
  for (const col of rest) {
    const group = groups.at(-1);
    if (group && widest(render([key!, ...group, col], true)) <= width) group.push(col);
    else groups.push([col]);
  }
  const tables = groups.map((g) => {
    const cut = (c: FitColumn, room: number): FitColumn => ({ ...c, cells: c.cells.map((s) => (s.length > room ? `${s.slice(0, Math.max(room - 1, 0))}…` : s)) });
    if (g.length > 1 || widest(render([key!, ...g], true)) <= width) return render([key!, ...g], true);
    // One column alone too wide: its cells are cut to the room left beside the key column.
    const keyWidth = Math.max(((key!.short ?? key!.header) || '').length, ...key!.cells.map((s) => s.length));
    return render([key!, cut(g[0]!, Math.max(width - keyWidth - 2, 1))], true);
  });
  return `${tables.join('\n\n')}\n${legend}`;
}

function transpose(cols: string[][]): string[][] {
  const n = Math.max(0, ...cols.map((c) => c.length));
  return Array.from({ length: n }, (_, i) => cols.map((c) => c[i] ?? ''));
}

/** Items (each kept whole) on lines of at most `width`, separated by spaces. */
function wrapItems(items: string[], width: number): string {
  const lines: string[] = [];
  for (const item of items) {
    const last = lines.at(-1);
    if (last !== undefined && last.length + 1 + item.length <= width) lines[lines.length - 1] = `${last} ${item}`;
    else lines.push(item);
  }
  return lines.join('\n');
}

/**
 * Word-wraps one line to `width`; continuation lines get `indent`. A word longer than the room
 * (a path) is never cut: it gets a line of its own.
 */
export function wrapWords(line: string, width: number, indent = '  '): string {
  if (line.length <= width) return line;
  const lead = /^\s*/.exec(line)![0];
  const words = line.slice(lead.length).split(' ');
  const out: string[] = [];
  let cur = lead;
  let pad = lead;
  for (const w of words) {
    if (cur.trim() === '') cur = pad + w;
    else if (cur.length + 1 + w.length <= width) cur += ` ${w}`;
    else {
      out.push(cur);
      pad = lead + indent;
      cur = pad + w;
    }
  }
  out.push(cur);
  return out.join('\n');
}

/**
 * `label: command` on one line if it fits; else the label, then the command on the lines below,
 * each option with its value kept together and continued with " \" so it still pastes into a shell.
 */
export function labelledCommand(label: string, command: string, width: number): string {
  if (label.length + 2 + command.length <= width) return `${label}: ${command}`;
  const parts = command.split(/ (?=--)/);
  const lines: string[] = [];
  for (const p of parts) {
    const indent = lines.length > 1 ? 4 : 2;
    const last = lines.at(-1);
    if (last !== undefined && indent + last.length + 1 + p.length + 2 <= width) lines[lines.length - 1] = `${last} ${p}`;
    else lines.push(p);
  }
  return [`${label}:`, ...lines.map((l, i) => `  ${i > 0 ? '  ' : ''}${l}${i < lines.length - 1 ? ' \\' : ''}`)].join('\n');
}
