/**
 * Bad input without Redis: each case gives one clear message and leaves the vault as it was
 * (snapshot before and after). validate and analyze on bad question files; a config file with
 * wrong types; unknown flags on every command.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command, CommanderError } from 'commander';
import { afterAll, describe, expect, it } from 'vitest';
import { commands } from '../../src/cli/commands/index.js';
import { BAD_FILES, execCli, questionDir } from '../helpers/bad-files.js';
import { freshVault, vaultSnapshot } from '../helpers/pipeline.js';

const tmp = mkdtempSync(join(tmpdir(), 'vl-bad-input-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const cli = (args: string[], env: NodeJS.ProcessEnv = {}) => execCli(args, { cwd: tmp, env: { REDIS_URL: '', ...env } });

describe('bad question files: validate and analyze', () => {
  // Every kind at once, in one vault: each case one at a time is test/heavy/bad-question-files.test.ts.
  it('every kind of bad file in one vault: validate names each and exits 1; analyze skips each and says so; the vault is unchanged', async () => {
    const vault = await freshVault(40, 5);
    for (const bad of BAD_FILES) bad.write(join(questionDir(vault), bad.file));
    const before = vaultSnapshot(vault);

    const v = await cli(['validate', '--vault', vault, '--errors-only']);
    expect(v.code, v.stderr).toBe(1);
    for (const bad of BAD_FILES) expect(v.stdout, bad.name).toMatch(bad.validate);
    expect(v.stdout).toMatch(new RegExp(`validated ${40 + BAD_FILES.length} files: \\d+ errors? in ${BAD_FILES.length} files`));
    expect(v.stderr).toBe('');

    const a = await cli(['analyze', '--vault', vault, '--no-index', '--out', join(tmp, 'report-all-bad')]);
    expect(a.code, a.stderr).toBe(0);
    for (const bad of BAD_FILES) expect(a.stdout, bad.name).toMatch(bad.analyze);
    expect(a.stderr).not.toMatch(/unexpected error/);

    expect(vaultSnapshot(vault)).toBe(before);
  });
});

describe('a config file with wrong types', () => {
  it('run names the file, the key, what was expected and what it got; nothing is written', async () => {
    const vault = await freshVault(40, 6);
    writeFileSync(join(vault, 'vault-loop.config.yaml'), 'maxCalls: lots\ngenBatchSize: 3.5\nvisualEachIter: maybe\n');
    const before = vaultSnapshot(vault);
    const r = await cli(['run', '--vault', vault, '--progress', 'none']);
    expect(r.code).toBe(1);
    const file = join(vault, 'vault-loop.config.yaml');
    expect(r.stderr).toContain(`config: maxCalls: `);
    expect(r.stderr).toContain(`got "lots" (from config file ${file})`);
    expect(r.stderr).toMatch(/config: genBatchSize: .*expected int.*got 3\.5/);
    expect(r.stderr).toMatch(/config: visualEachIter: .*got "maybe"/);
    expect(r.stderr).not.toMatch(/unexpected error|\n\s+at /);
    expect(vaultSnapshot(vault)).toBe(before);
  });

  it('an unknown key and a file that is not a mapping are named too', async () => {
    const vault = await freshVault(40, 6);
    const file = join(tmp, 'list.config.yaml');
    writeFileSync(file, '- maxCalls\n- 3\n');
    const r1 = await cli(['worker', '--config', file]);
    expect(r1.code).toBe(1);
    expect(r1.stderr.trim()).toBe(`config: ${file}: expected a mapping of keys to values`);
    writeFileSync(join(vault, 'vault-loop.config.yaml'), 'maxCals: 3\n');
    const before = vaultSnapshot(vault);
    const r2 = await cli(['run', '--vault', vault]);
    expect(r2.code).toBe(1);
    expect(r2.stderr).toMatch(/config: unknown key "maxCals" \(from config file .*vault-loop\.config\.yaml\); known keys: /);
    expect(vaultSnapshot(vault)).toBe(before);
  });
});

describe('unknown CLI flags', () => {
  /** Every command as the CLI registers it, parsed in-process with commander's real parser. */
  function program(): { program: Command; errors: string[] } {
    const errors: string[] = [];
    const p = new Command().exitOverride().configureOutput({ writeErr: (s) => errors.push(s), writeOut: () => {} });
    for (const register of commands) register(p);
    const quiet = (c: Command) => {
      c.exitOverride().configureOutput({ writeErr: (s) => errors.push(s), writeOut: () => {} });
      c.commands.forEach(quiet);
    };
    quiet(p);
    return { program: p, errors };
  }

  it('every command (and subcommand) rejects an unknown flag by name, before doing anything', async () => {
    const vault = await freshVault(40, 7);
    const before = vaultSnapshot(vault);
    const { program: p } = program();
    const leaves: string[][] = [];
    const walk = (c: Command, path: string[]) => (c.commands.length === 0 ? leaves.push(path) : c.commands.forEach((s) => walk(s, [...path, s.name()])));
    p.commands.forEach((c) => walk(c, [c.name()]));
    expect(leaves.length).toBeGreaterThanOrEqual(15);
    for (const path of leaves) {
      const { program: fresh, errors } = program();
      let cmd = fresh;
      for (const n of path) cmd = cmd.commands.find((c) => c.name() === n)!;
      // Required options get values, so the unknown flag is the only thing wrong.
      const required = cmd.options.filter((o) => o.mandatory).flatMap((o) => [o.long!, o.long === '--vault' ? vault : '1']);
      const caught = await fresh.parseAsync([...path, ...required, '--no-such-flag'], { from: 'user' }).then(
        () => null,
        (e: unknown) => e,
      );
      expect(caught, `${path.join(' ')} accepted --no-such-flag`).toBeInstanceOf(CommanderError);
      expect((caught as CommanderError).code, path.join(' ')).toBe('commander.unknownOption');
      expect(errors.join(''), path.join(' ')).toContain("unknown option '--no-such-flag'");
    }
    expect(vaultSnapshot(vault)).toBe(before);
  });

  it('the CLI process prints the unknown flag and a hint, and exits non-zero', async () => {
    const vault = await freshVault(40, 7);
    const before = vaultSnapshot(vault);
    for (const args of [['run', '--vault', vault, '--max-call', '3'], ['validate', '--vault', vault, '--strict']]) {
      const r = await cli(args);
      expect(r.code, args.join(' ')).not.toBe(0);
      expect(r.stderr).toMatch(/error: unknown option '--(max-call|strict)'/);
      expect(r.stderr).toContain('(run with --help for usage)');
    }
    expect(vaultSnapshot(vault)).toBe(before);
  });
});
