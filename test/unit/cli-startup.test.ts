/**
 * What a CLI start loads: the bundle bin/vault-loop.js runs (bin/build.js, checked through
 * esbuild's metafile) defines the commands with commander alone and loads each command's
 * implementation, and the packages it needs, only when that command runs. Also: a start for one
 * command word defines only that command, with the same help.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../helpers/fixtures.js';
import { buildProgram } from '../../src/cli/program.js';
import { COMMAND_TABLE } from '../../src/cli/commands/index.js';
// @ts-expect-error -- a plain ESM script without types (bin/build.js)
import { bundle } from '../../bin/build.js';

interface Metafile {
  outputs: Record<string, { entryPoint?: string; imports: { path: string; kind: string; external?: boolean }[]; inputs: Record<string, unknown> }>;
}

let meta: Metafile;
beforeAll(async () => {
  meta = ((await (bundle as () => Promise<{ metafile: Metafile }>)()) as { metafile: Metafile }).metafile;
}, 120_000);

const outputOf = (entry: string): string => {
  const key = Object.keys(meta.outputs).find((k) => meta.outputs[k]!.entryPoint === entry);
  if (!key) throw new Error(`no output for ${entry}`);
  return key;
};

/** The outputs loaded with `out` before any of its code runs (static imports, transitively). */
function staticClosure(out: string): { files: Set<string>; packages: Set<string>; inputs: string[] } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const visit = (o: string): void => {
    if (files.has(o)) return;
    files.add(o);
    for (const i of meta.outputs[o]!.imports) {
      if (i.kind !== 'import-statement') continue;
      if (i.external) packages.add(i.path);
      else visit(i.path);
    }
  };
  visit(out);
  const inputs = [...files].flatMap((f) => Object.keys(meta.outputs[f]!.inputs));
  return { files, packages, inputs };
}

const nonBuiltin = (pkgs: Set<string>): string[] => [...pkgs].filter((p) => !p.startsWith('node:'));
const bundledPackages = (inputs: string[]): string[] => [...new Set(inputs.filter((i) => i.includes('node_modules/')).map((i) => i.split('node_modules/')[1]!.split('/')[0]!))].sort();

describe('the CLI bundle', () => {
  it('starts (and answers --help) with commander and the command definitions only', () => {
    const main = staticClosure(outputOf('src/cli/main.ts'));
    expect(nonBuiltin(main.packages)).toEqual([]);
    expect(bundledPackages(main.inputs)).toEqual(['commander']);
    // No implementation is part of the start: none of the heavy modules of src/.
    for (const heavy of ['src/config/index.ts', 'src/redis/index.ts', 'src/queues/index.ts', 'src/analysis/index.ts', 'src/host/corpus-host.ts', 'src/cli/actions/']) {
      expect(main.inputs.filter((i) => i.startsWith(heavy)), heavy).toEqual([]);
    }
  });

  it('loads each command implementation by a dynamic import when the command runs', () => {
    const dynamic = meta.outputs[outputOf('src/cli/main.ts')]!.imports.filter((i) => i.kind === 'dynamic-import').map((i) => i.path);
    const actions = Object.keys(meta.outputs).filter((k) => /^src\/cli\/actions\/[a-z-]+\.ts$/.test(meta.outputs[k]!.entryPoint ?? ''));
    expect(actions.length).toBeGreaterThanOrEqual(15);
    for (const a of actions) expect(dynamic, a).toContain(a);
  });

  it('status loads a Redis client and the config, and no BullMQ, Express, YAML parser or provider SDK', () => {
    const status = staticClosure(outputOf('src/cli/actions/status.ts'));
    expect(nonBuiltin(status.packages)).toEqual([]);
    expect(bundledPackages(status.inputs)).toEqual(expect.arrayContaining(['ioredis', 'zod']));
    for (const p of bundledPackages(status.inputs)) expect(['bullmq', 'express', 'yaml', 'fast-glob', 'pino', 'openai', '@anthropic-ai', '@google', '@bull-board']).not.toContain(p);
  });

  it('analyze loads neither BullMQ nor a Redis client nor Express', () => {
    const analyze = staticClosure(outputOf('src/cli/actions/analyze.ts'));
    expect(nonBuiltin(analyze.packages).filter((p) => ['bullmq', 'express', 'pino'].includes(p))).toEqual([]);
    expect(bundledPackages(analyze.inputs)).not.toContain('ioredis');
  });
});

/**
 * Node's built-in modules a start of the built CLI loaded by the time it exited (recorded at exit
 * by a module given to --import), and how the command ended.
 */
function builtinsLoaded(args: string[]): { code: number | null; stderr: string; builtins: string[] } {
  const dir = mkdtempSync(join(tmpdir(), 'vl-startup-'));
  try {
    const out = join(dir, 'loaded.json');
    const recorder = `data:text/javascript,import { writeFileSync } from 'node:fs'; process.on('exit', () => writeFileSync(${JSON.stringify(out)}, JSON.stringify(process.moduleLoadList)));`;
    const r = spawnSync(process.execPath, ['--import', recorder, join(PROJECT_ROOT, 'bin', 'vault-loop.js'), ...args], { encoding: 'utf8', env: { ...process.env, VAULT_LOOP_LOG_LEVEL: 'silent' } });
    const list = JSON.parse(readFileSync(out, 'utf8')) as string[];
    return { code: r.status, stderr: r.stderr, builtins: list.filter((m) => m.startsWith('NativeModule ')).map((m) => m.slice('NativeModule '.length)) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('what the built CLI loads when it runs', () => {
  it('status on a redis:// URL loads neither the TLS module (ioredis needs it for rediss:// only) nor child_process (for an embedded server only)', () => {
    // Port 1: nothing listens, so the command fails after loading everything it loads to connect.
    const r = builtinsLoaded(['status', '--redis', 'redis://127.0.0.1:1', '--prefix', 'vl-startup-test']);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/refused the connection/);
    expect(r.builtins).toContain('net');
    expect(r.builtins.filter((m) => /tls|child_process/.test(m))).toEqual([]);
  });

  it('--help loads no child_process (commander needs it for executable subcommands only)', () => {
    const r = builtinsLoaded(['--help']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.builtins).toContain('events');
    expect(r.builtins.filter((m) => /child_process/.test(m))).toEqual([]);
  });
});

describe('the command table', () => {
  it('names the command words each register function adds', () => {
    for (const c of COMMAND_TABLE) {
      const p = new Command();
      c.register(p);
      expect(p.commands.map((x) => x.name())).toEqual(c.words);
    }
  });

  it('a start for one command word defines that command only, with the same help as the full program', () => {
    const full = buildProgram();
    for (const c of COMMAND_TABLE) {
      for (const word of c.words) {
        const one = buildProgram([word, '--help']);
        expect(one.commands.map((x) => x.name())).toEqual(c.words);
        expect(one.commands.find((x) => x.name() === word)!.helpInformation()).toBe(full.commands.find((x) => x.name() === word)!.helpInformation());
      }
    }
    expect(buildProgram(['--help']).commands.length).toBe(full.commands.length);
    expect(buildProgram(['statsu']).commands.length).toBe(full.commands.length);
  });
});
