/** Config: one schema; file < environment < flags; one clear message for a bad value. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CONFIG_FILE_NAME, ConfigError, envNameFor, judgeSettings, loadConfig } from '../../src/config/index.js';

function dirWith(yaml: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'vl-cfg-'));
  writeFileSync(join(dir, CONFIG_FILE_NAME), yaml);
  return dir;
}

describe('config', () => {
  it('defaults follow the runbook', () => {
    const c = loadConfig({ env: {}, cwd: mkdtempSync(join(tmpdir(), 'vl-cfg-')) });
    expect(c).toMatchObject({ maxIters: 30, maxCalls: 80, genBatchSize: 30, genCallsPerIter: 4, judgeChunkSize: 25, gapThreshold: 1, maxDropRate: 0.3, provider: 'offline', strategy: 'balanced', prefix: 'vault-loop', dryRun: false });
    expect(Object.isFrozen(c)).toBe(true);
  });

  it('file < environment < flags', () => {
    const cwd = dirWith('maxCalls: 10\nmax-iters: 3\ngapThreshold: 0.5\n');
    expect(loadConfig({ env: {}, cwd }).maxCalls).toBe(10);
    expect(loadConfig({ env: {}, cwd }).maxIters).toBe(3); // kebab-case keys work in the file
    expect(loadConfig({ env: { VAULT_LOOP_MAX_CALLS: '20' }, cwd }).maxCalls).toBe(20);
    expect(loadConfig({ env: { VAULT_LOOP_MAX_CALLS: '20' }, flags: { maxCalls: 30 }, cwd }).maxCalls).toBe(30);
    expect(loadConfig({ env: {}, flags: {}, cwd }).gapThreshold).toBe(0.5);
  });

  it('reads the config file of the vault folder first', () => {
    const vault = dirWith('maxCalls: 7\n');
    const cwd = dirWith('maxCalls: 9\n');
    expect(loadConfig({ env: {}, flags: { vault }, cwd }).maxCalls).toBe(7);
    expect(loadConfig({ env: {}, cwd }).maxCalls).toBe(9);
  });

  it('named environment variables: REDIS_URL, provider keys, dashboard tokens', () => {
    const c = loadConfig({ env: { REDIS_URL: 'redis://h:1', OPENAI_API_KEY: 'k1', GEMINI_API_KEY: 'k2', ANTHROPIC_API_KEY: 'k3', DASHBOARD_TOKEN: 'tok-12345678' }, cwd: mkdtempSync(join(tmpdir(), 'x')) });
    expect(c).toMatchObject({ redisUrl: 'redis://h:1', openaiApiKey: 'k1', geminiApiKey: 'k2', anthropicApiKey: 'k3', dashboardToken: 'tok-12345678' });
    expect(envNameFor('maxDropRate')).toBe('VAULT_LOOP_MAX_DROP_RATE');
  });

  it('booleans from text: "false" is false (no z.coerce.boolean)', () => {
    const cwd = mkdtempSync(join(tmpdir(), 'x'));
    expect(loadConfig({ env: { VAULT_LOOP_DRY_RUN: 'false' }, cwd }).dryRun).toBe(false);
    expect(loadConfig({ env: { VAULT_LOOP_DRY_RUN: 'true' }, cwd }).dryRun).toBe(true);
    expect(() => loadConfig({ env: { VAULT_LOOP_DRY_RUN: 'maybe' }, cwd })).toThrow(/dryRun: .*got "maybe" \(from environment variable VAULT_LOOP_DRY_RUN\)/);
  });

  it('a bad value names the key, what was expected, the value and where it came from', () => {
    const cwd = dirWith('maxCalls: lots\n');
    const err = (() => {
      try {
        loadConfig({ env: {}, cwd });
      } catch (e) {
        return e as Error;
      }
      throw new Error('no error');
    })();
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.message).toMatch(/^config: maxCalls: .*number.*; got "lots" \(from config file .*vault-loop.config.yaml\)$/);
    expect(() => loadConfig({ env: {}, flags: { maxDropRate: 2 }, cwd: mkdtempSync(join(tmpdir(), 'x')) })).toThrow(/maxDropRate: .*got 2 \(from flag --max-drop-rate\)/);
    expect(() => loadConfig({ env: {}, flags: { strategy: 'greedy' }, cwd: mkdtempSync(join(tmpdir(), 'x')) })).toThrow(/strategy: .*"reference"\|"balanced".*got "greedy"/);
  });

  it('a bad secret (token, basic-auth login) is refused without echoing it', () => {
    const cwd = mkdtempSync(join(tmpdir(), 'x'));
    for (const [env, key] of [['DASHBOARD_TOKEN', 'dashboardToken'], ['DASHBOARD_BASIC_AUTH', 'dashboardBasicAuth'], ['DASHBOARD_VIEWER_BASIC_AUTH', 'dashboardViewerBasicAuth']] as const) {
      let message = '';
      try {
        loadConfig({ env: { [env]: 'sh0rt' }, cwd });
      } catch (e) {
        message = (e as Error).message;
      }
      expect(message).toBe(message.replace('sh0rt', ''));
      expect(message).toMatch(new RegExp(`^config: ${key}: .*; got a hidden value of 5 characters \\(from environment variable ${env}\\)$`));
    }
  });

  it('unknown keys and a broken file are refused with the file named', () => {
    expect(() => loadConfig({ env: {}, cwd: dirWith('maxCals: 3\n') })).toThrow(/unknown key "maxCals" \(from config file/);
    expect(() => loadConfig({ env: {}, cwd: dirWith('maxCalls: [\n') })).toThrow(/vault-loop.config.yaml: /);
    expect(() => loadConfig({ env: {}, cwd: dirWith('- a\n- b\n') })).toThrow(/expected a mapping/);
    expect(() => loadConfig({ env: {}, file: '/nonexistent.yaml' })).toThrow(/does not exist/);
  });

  it('the judge defaults to the generator', () => {
    const cwd = mkdtempSync(join(tmpdir(), 'x'));
    const c = loadConfig({ env: {}, flags: { provider: 'openai', model: 'm1' }, cwd });
    expect(judgeSettings(c)).toEqual({ provider: 'openai', model: 'm1', temperature: 0, structuredOutput: 'json_schema' });
    const d = loadConfig({ env: {}, flags: { provider: 'openai', model: 'm1', judgeProvider: 'anthropic', judgeModel: 'm2' }, cwd });
    expect(judgeSettings(d)).toMatchObject({ provider: 'anthropic', model: 'm2' });
    const e = loadConfig({ env: { VAULT_LOOP_STRUCTURED_OUTPUT: 'json_object' }, flags: { provider: 'openai' }, cwd });
    expect(judgeSettings(e).structuredOutput).toBe('json_object');
    const f = loadConfig({ env: { VAULT_LOOP_STRUCTURED_OUTPUT: 'json_object' }, flags: { provider: 'openai', judgeStructuredOutput: 'none' }, cwd });
    expect(judgeSettings(f).structuredOutput).toBe('none');
    expect(() => loadConfig({ env: { VAULT_LOOP_STRUCTURED_OUTPUT: 'xml' }, flags: {}, cwd })).toThrow(/structuredOutput.*VAULT_LOOP_STRUCTURED_OUTPUT/s);
  });
});
