/** Bad question files shared by the bad-input tests (validate and analyze without Redis; run with it). */
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PROJECT_ROOT } from './fixtures.js';

export interface CliOutput {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the compiled CLI with stdout and stderr apart (a bad file's warnings go to stderr). */
export function execCli(args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): Promise<CliOutput> {
  return new Promise((resolve) => {
    execFile(process.execPath, [join(PROJECT_ROOT, 'bin', 'vault-loop.js'), ...args], { cwd: opts.cwd, env: { ...process.env, ...opts.env }, maxBuffer: 64 * 1024 * 1024, timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

/** The folder of the vault's first question file (the bad files go beside it). */
export function questionDir(vault: string): string {
  const track = readdirSync(join(vault, 'questions')).sort()[0]!;
  const area = readdirSync(join(vault, 'questions', track)).sort()[0]!;
  return join(vault, 'questions', track, area);
}

/** The bad question files, each written beside a real one in a fresh vault. */
export const BAD_FILES: { name: string; file: string; write: (abs: string) => void; validate: RegExp; analyze: RegExp }[] = [
  {
    name: 'malformed YAML',
    file: 'zz-malformed.yaml',
    write: (abs) => writeFileSync(abs, 'id: global-9999\ntitle: [unclosed\n  scenario: : :\n'),
    validate: /zz-malformed\.yaml:\d+: error: .*(flow sequence|Unexpected)/i,
    analyze: /skipped questions\/[\w-]+\/[\w-]+\/zz-malformed\.yaml: not parseable as YAML/,
  },
  {
    name: 'a YAML alias bomb',
    file: 'zz-bomb.yaml',
    write: (abs) => {
      let s = 'a: &a ["x","x","x","x","x","x","x","x","x"]\n';
      for (let i = 1; i < 12; i++) s += `${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(9).fill(`*${String.fromCharCode(96 + i)}`).join(',')}]\n`;
      writeFileSync(abs, s);
    },
    validate: /zz-bomb\.yaml: error: Excessive alias count/,
    analyze: /skipped questions\/[\w-]+\/[\w-]+\/zz-bomb\.yaml: /,
  },
  {
    name: 'a 10 MB question file',
    file: 'zz-huge.yaml',
    write: (abs) => writeFileSync(abs, `id: global-9998\ntitle: "${'a'.repeat(10 * 1024 * 1024)}"\n`),
    validate: /zz-huge\.yaml: error: file is 104857\d\d bytes; the limit is 1048576 bytes/,
    // The analyzer does not read it either (the loader's limit), and says so.
    analyze: /skipped questions\/[\w-]+\/[\w-]+\/zz-huge\.yaml: larger than 1048576 bytes \(the loader's limit\); not read/,
  },
  {
    name: 'invalid UTF-8',
    file: 'zz-latin1.yaml',
    write: (abs) => writeFileSync(abs, Buffer.concat([Buffer.from('id: global-9997\ntitle: "caf'), Buffer.from([0xe9]), Buffer.from('"\n')])),
    validate: /zz-latin1\.yaml:2: error: not valid UTF-8 \(byte offset \d+\)/,
    analyze: /skipped questions\/[\w-]+\/[\w-]+\/zz-latin1\.yaml: not valid UTF-8/,
  },
  {
    name: 'a symlink that points outside the vault',
    file: 'zz-link.yaml',
    write: (abs) => {
      const outside = join(mkdtempSync(join(tmpdir(), 'vl-outside-')), 'secret.yaml');
      writeFileSync(outside, 'id: global-9996\ntitle: outside\n');
      symlinkSync(outside, abs);
    },
    validate: /zz-link\.yaml: error: symbolic link points outside the vault \(.*secret\.yaml\); not read/,
    analyze: /skipped questions\/[\w-]+\/[\w-]+\/zz-link\.yaml: symbolic link points outside the vault/,
  },
];

