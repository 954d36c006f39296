/**
 * The pre-judge over question files, for `vault-loop check`: any question files, not only drafts,
 * against a vault's near-duplicate index. Findings get a severity a CI can gate on:
 * certain → error, evidence of a defect → warning, style notes (form, realism) → note.
 * Also renders findings as SARIF 2.1.0 for code-scanning tools.
 */
import { readFileSync } from 'node:fs';
import { parseQuestionText } from '../corpus/loader.js';
import { NearDupIndex } from './neardup.js';
import { prejudge } from './prejudge.js';
import type { Finding } from './run.js';

export type CheckSeverity = 'error' | 'warning' | 'note';

export interface FileFinding {
  path: string;
  line?: number;
  id: string | null;
  severity: CheckSeverity;
  level: Finding['level'] | 'parse';
  check: Finding['check'] | 'yaml';
  field?: string;
  message: string;
}

const STYLE = new Set(['form', 'realism', 'visual']);

export function severityOf(f: Pick<Finding, 'level' | 'check'>): CheckSeverity {
  if (f.level === 'certain') return 'error';
  return STYLE.has(f.check) ? 'note' : 'warning';
}

/** The line of a field's key in the YAML text (the last path segment), if it is there. */
function lineOf(text: string, field: string | undefined): number | undefined {
  if (!field) return undefined;
  const key = field.replace(/\[\d+\]/g, '').split('.').at(-1)!;
  const lines = text.split('\n');
  const i = lines.findIndex((l) => new RegExp(`^\\s*-?\\s*${key.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\s*:`).test(l));
  return i >= 0 ? i + 1 : undefined;
}

export interface CheckFilesInput {
  /** Display path and absolute path of each file, in order (earlier files count as "earlier drafts"). */
  files: { path: string; abs: string }[];
  /** The vault's questions to compare with (its own files excluded by id). */
  vault?: NearDupIndex;
}

export function checkFiles(input: CheckFilesInput): { findings: FileFinding[]; checked: number } {
  const findings: FileFinding[] = [];
  const docs: { id: string; doc: Record<string, unknown>; path: string; text: string }[] = [];
  for (const f of input.files) {
    let text: string;
    try {
      text = readFileSync(f.abs, 'utf8');
    } catch (e) {
      findings.push({ path: f.path, id: null, severity: 'error', level: 'parse', check: 'yaml', message: `cannot read the file: ${(e as Error).message}` });
      continue;
    }
    const parsed = parseQuestionText(text, f.path);
    if (!parsed.doc) {
      for (const p of parsed.problems) {
        findings.push({ path: f.path, ...(p.line !== undefined ? { line: p.line } : {}), id: null, severity: 'error', level: 'parse', check: 'yaml', message: p.message });
      }
      continue;
    }
    const id = typeof parsed.doc.id === 'string' && parsed.doc.id !== '' ? parsed.doc.id : f.path;
    docs.push({ id, doc: parsed.doc, path: f.path, text });
  }
  const vault = input.vault;
  const { dropped, toJudge } = prejudge(
    docs.map((d) => ({ id: d.id, doc: d.doc })),
    vault ? { nearest: (doc, o) => vault.nearest(doc, o ?? {}) } : null,
  );
  const byId = new Map(docs.map((d) => [d.id, d]));
  // In file order, whatever the verdict.
  for (const r of [...dropped, ...toJudge].sort((a, b) => docs.findIndex((d) => d.id === a.id) - docs.findIndex((d) => d.id === b.id))) {
    const src = byId.get(r.id)!;
    for (const f of r.report.findings) {
      const line = lineOf(src.text, f.field);
      findings.push({
        path: src.path,
        ...(line !== undefined ? { line } : {}),
        id: typeof src.doc.id === 'string' ? src.doc.id : null,
        severity: severityOf(f),
        level: f.level,
        check: f.check,
        ...(f.field ? { field: f.field } : {}),
        message: f.message,
      });
    }
  }
  return { findings, checked: input.files.length };
}

const RANK: Record<CheckSeverity, number> = { note: 0, warning: 1, error: 2 };

/** Whether any finding is at or above `level`. */
export function failsAt(findings: readonly FileFinding[], level: 'error' | 'warning'): boolean {
  return findings.some((f) => RANK[f.severity] >= RANK[level]);
}

/** SARIF 2.1.0: one run, one rule per check kind, one result per finding. */
export function toSarif(findings: readonly FileFinding[], version: string): Record<string, unknown> {
  const rules = [...new Set(findings.map((f) => f.check))].sort();
  return {
    $schema: 'https://json.schemastore.org/sarif-2.1.0.json',
    version: '2.1.0',
    runs: [
      {
        tool: {
          driver: {
            name: 'vault-loop check',
            version,
            informationUri: 'https://github.com/vault-loop/vault-loop',
            rules: rules.map((r) => ({ id: r, name: r, shortDescription: { text: `vault-loop pre-judge: ${r}` } })),
          },
        },
        results: findings.map((f) => ({
          ruleId: f.check,
          ruleIndex: rules.indexOf(f.check),
          level: f.severity,
          message: { text: f.message },
          locations: [
            {
              physicalLocation: {
                artifactLocation: { uri: f.path },
                ...(f.line !== undefined ? { region: { startLine: f.line } } : {}),
              },
            },
          ],
          properties: { certainty: f.level, ...(f.field ? { field: f.field } : {}), ...(f.id ? { questionId: f.id } : {}) },
        })),
      },
    ],
  };
}
