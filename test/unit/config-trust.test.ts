/** The config trust boundary: blank means unset, numbers are decimal, no credentials in URLs, and a vault's own config cannot redirect keys or run model code unconfirmed. */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CONFIG_FILE_NAME, ConfigError, configSource, loadConfig, trustedSettingLines } from '../../src/config/index.js';

const empty = () => mkdtempSync(join(tmpdir(), 'vl-trust-'));

function vaultWith(yaml: string): string {
  const vault = join(empty(), 'vault');
  mkdirSync(join(vault, 'questions'), { recursive: true });
  writeFileSync(join(vault, CONFIG_FILE_NAME), yaml);
  return vault;
}

describe('environment values', () => {
  it('blank or whitespace means unset, never 0', () => {
    const cfg = loadConfig({ env: { VAULT_LOOP_MAX_CALLS: ' ', VAULT_LOOP_GAP_THRESHOLD: '   ', VAULT_LOOP_CACHE_TTL_SECONDS: '\t', VAULT_LOOP_TEMPERATURE: '' }, cwd: empty() });
    expect(cfg).toMatchObject({ maxCalls: 80, gapThreshold: 1, cacheTtlSeconds: 7 * 24 * 3600, temperature: 0.7 });
  });

  it('numbers are decimal: 0x10, 1e3, 0b1 and Infinity are refused with the value and its source', () => {
    for (const [name, v] of [['VAULT_LOOP_MAX_CALLS', '0x10'], ['VAULT_LOOP_MAX_CALLS', '1e3'], ['VAULT_LOOP_MAX_CALLS', '0b1'], ['VAULT_LOOP_TEMPERATURE', 'Infinity'], ['VAULT_LOOP_TEMPERATURE', '0x1']] as const) {
      expect(() => loadConfig({ env: { [name]: v }, cwd: empty() })).toThrow(new RegExp(`got "${v}" \\(from environment variable ${name}\\)`));
    }
    expect(loadConfig({ env: { VAULT_LOOP_MAX_CALLS: ' 12 ', VAULT_LOOP_TEMPERATURE: '0.25' }, cwd: empty() })).toMatchObject({ maxCalls: 12, temperature: 0.25 });
  });
});

describe('credentials in URLs', () => {
  it('a base URL with user:password@ is refused, and the message does not repeat the secret-free advice wrongly', () => {
    for (const key of ['baseUrl', 'judgeBaseUrl'] as const) {
      expect(() => loadConfig({ env: {}, flags: { [key]: 'http://u:SECRET@host/v1' }, cwd: empty() })).toThrow(new RegExp(`${key}: a URL without credentials \\(no user:password@\\); give the key in OPENAI_API_KEY`));
    }
    expect(() => loadConfig({ env: {}, flags: { baseUrl: 'http://token@host/v1' }, cwd: empty() })).toThrow(ConfigError);
    expect(loadConfig({ env: {}, flags: { baseUrl: 'http://host:8080/v1' }, cwd: empty() }).baseUrl).toBe('http://host:8080/v1');
  });
});

describe("a vault's own config file", () => {
  it('may not set base URLs, keys, allowPythonVisuals or pythonSandbox unless the operator confirms', () => {
    for (const line of ['baseUrl: http://evil.example/v1', 'judgeBaseUrl: http://evil.example/v1', 'allowPythonVisuals: true', 'openaiApiKey: sk-x', 'pythonSandbox: /bin/sh']) {
      const vault = vaultWith(`maxCalls: 5\n${line}\n`);
      expect(() => loadConfig({ env: {}, flags: { vault }, cwd: empty() })).toThrow(/is the vault's own config and sets \w+: .*--trust-vault-config/);
    }
    const vault = vaultWith('baseUrl: http://127.0.0.1:9/v1\nallowPythonVisuals: true\n');
    const cfg = loadConfig({ env: {}, flags: { vault }, cwd: empty(), trustVaultConfig: true });
    expect(cfg).toMatchObject({ baseUrl: 'http://127.0.0.1:9/v1', allowPythonVisuals: true });
    expect(trustedSettingLines(cfg)).toEqual([
      `baseUrl from config file ${join(vault, CONFIG_FILE_NAME)}`,
      `allowPythonVisuals from config file ${join(vault, CONFIG_FILE_NAME)}`,
    ]);
  });

  it('its other settings need no confirmation; the operator\'s own file, environment and flags are trusted and named', () => {
    expect(loadConfig({ env: {}, flags: { vault: vaultWith('maxCalls: 5\n') }, cwd: empty() }).maxCalls).toBe(5);
    const own = join(empty(), 'mine.yaml');
    writeFileSync(own, 'baseUrl: http://127.0.0.1:9/v1\n');
    const cfg = loadConfig({ env: { OPENAI_API_KEY: 'sk-env' }, file: own, flags: { vault: vaultWith('maxCalls: 5\n'), allowPythonVisuals: true } });
    expect(configSource(cfg, 'baseUrl')).toBe(`config file ${own}`);
    expect(trustedSettingLines(cfg)).toEqual([`baseUrl from config file ${own}`, 'allowPythonVisuals from flag --allow-python-visuals', 'openaiApiKey from environment variable OPENAI_API_KEY']);
  });
});
