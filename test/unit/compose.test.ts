/**
 * The deployment files, checked statically (Docker cannot run here): docker-compose.yml parses and
 * has the four services; every service command is a real CLI command whose flags its `--help`
 * lists; the vault is mounted where the corpus host reads it; every environment variable the
 * compose file uses is documented (README.md or docs/*.md) and every VAULT_LOOP_* one is a real
 * config key; the Dockerfile is node:20, npm ci, a non-root user and the CLI as entrypoint.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { CONFIG_KEYS, envNameFor } from '../../src/config/index.js';
import { STATELESS_QUEUES } from '../../src/queues/index.js';
import { PROJECT_ROOT } from '../helpers/fixtures.js';

interface Service {
  image?: string;
  build?: unknown;
  command?: string[] | string;
  environment?: Record<string, string> | string[];
  volumes?: string[];
  ports?: string[];
  healthcheck?: { test?: string[] | string };
  depends_on?: Record<string, { condition?: string }> | string[];
  container_name?: string;
}

const composeText = readFileSync(join(PROJECT_ROOT, 'docker-compose.yml'), 'utf8');
// Docker Compose resolves `<<:` merge keys; the yaml package does so only when asked.
const compose = parse(composeText, { merge: true }) as { services: Record<string, Service> };
const services = compose.services;
const dockerfile = readFileSync(join(PROJECT_ROOT, 'Dockerfile'), 'utf8');

const APP_SERVICES = ['control', 'worker', 'dashboard'] as const;

const argv = (s: Service): string[] => {
  if (!Array.isArray(s.command)) throw new Error('expected the command as a list (exec form)');
  return s.command;
};

const envOf = (s: Service): Record<string, string> =>
  Array.isArray(s.environment) ? Object.fromEntries(s.environment.map((e) => [e.split('=')[0]!, e.slice(e.indexOf('=') + 1)])) : (s.environment ?? {});

/** `--help` of one CLI command (the built CLI, as the image runs it). */
const helpCache = new Map<string, string>();
function helpOf(command: string): string {
  let text = helpCache.get(command);
  if (text === undefined) {
    const r = spawnSync(process.execPath, [join(PROJECT_ROOT, 'bin', 'vault-loop.js'), command, '--help'], { encoding: 'utf8', cwd: PROJECT_ROOT, timeout: 60_000 });
    if (r.status !== 0) throw new Error(`vault-loop ${command} --help exited ${r.status}: ${r.stderr}`);
    text = r.stdout;
    helpCache.set(command, text);
  }
  return text;
}

/** The `--flags` of an argv that the command's help does not list (with or without --no-). */
function unknownFlags(help: string, args: string[]): string[] {
  const listed = new Set([...help.matchAll(/(?:^|[\s,])(--[a-z][a-z0-9-]*)/g)].map((m) => m[1]!));
  return args.filter((a) => a.startsWith('--')).filter((a) => !listed.has(a.split('=')[0]!));
}

/** Every documentation file the README is assembled from. */
function docsText(): string {
  const docsDir = join(PROJECT_ROOT, 'docs');
  const files = [join(PROJECT_ROOT, 'README.md'), ...readdirSync(docsDir).filter((f) => f.endsWith('.md')).map((f) => join(docsDir, f))];
  return files.map((f) => readFileSync(f, 'utf8')).join('\n');
}

/** Names used in the compose file: `${NAME…}` interpolations and every `environment:` key. */
function composeVariables(): Set<string> {
  const names = new Set<string>();
  for (const m of composeText.matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)/g)) names.add(m[1]!);
  for (const s of Object.values(services)) for (const k of Object.keys(envOf(s))) names.add(k);
  return names;
}

describe('docker-compose.yml', () => {
  it('has the four services', () => {
    expect(Object.keys(services).sort()).toEqual(['control', 'dashboard', 'redis', 'worker']);
  });

  it('redis: redis:7, noeviction, append-only, a redis-cli ping healthcheck', () => {
    const r = services.redis!;
    expect(r.image).toMatch(/^redis:7(\b|$)/);
    const cmd = argv(r).join(' ');
    expect(cmd).toContain('--maxmemory-policy noeviction');
    expect(cmd).toContain('--appendonly yes');
    const test = Array.isArray(r.healthcheck?.test) ? r.healthcheck.test.join(' ') : (r.healthcheck?.test ?? '');
    expect(test).toMatch(/redis-cli\s+ping/);
  });

  it('every app service is built from the Dockerfile and waits for a healthy Redis', () => {
    for (const name of APP_SERVICES) {
      const s = services[name]!;
      expect(s.build, name).toBe('.');
      expect((s.depends_on as Record<string, { condition?: string }>).redis?.condition, name).toBe('service_healthy');
      expect(envOf(s).REDIS_URL, name).toBe('redis://redis:6379');
    }
  });

  describe('every command is a real CLI command with real flags', () => {
    beforeAll(() => {
      // One --help per command word, computed once (each starts the built CLI, dist/cli).
      for (const name of APP_SERVICES) helpOf(argv(services[name]!)[0]!);
    }, 120_000);

    it.each(APP_SERVICES)('%s', (name) => {
      const [command, ...args] = argv(services[name]!);
      const help = helpOf(command!);
      expect(help).toContain(`Usage: vault-loop ${command}`);
      expect(unknownFlags(help, args), `flags of "${command}" missing from its --help`).toEqual([]);
    });

    it('the flag check rejects a flag the command does not have', () => {
      expect(unknownFlags(helpOf('worker'), ['--queues', 'generate', '--vault-dir', '/x'])).toEqual(['--vault-dir']);
    });
  });

  it('control: the corpus host on /vault without in-process workers', () => {
    const c = services.control!;
    const args = argv(c);
    expect(args[0]).toBe('run');
    expect(args[args.indexOf('--vault') + 1]).toBe('/vault');
    expect(args).toContain('--no-workers');
    expect((c.volumes ?? []).some((v) => /:\/vault(:rw)?$/.test(v))).toBe(true);
  });

  it('worker: every stateless queue (so none waits forever), no vault, scalable (no container name, no host port)', () => {
    const w = services.worker!;
    const args = argv(w);
    expect(args[0]).toBe('worker');
    expect(args[args.indexOf('--queues') + 1]!.split(',').sort()).toEqual([...STATELESS_QUEUES].sort());
    expect((w.volumes ?? []).some((v) => v.includes('/vault'))).toBe(false);
    expect(w.container_name).toBeUndefined();
    expect(w.ports).toBeUndefined();
  });

  it('dashboard: binds 0.0.0.0 and cannot start without DASHBOARD_TOKEN', () => {
    const d = services.dashboard!;
    const args = argv(d);
    expect(args[0]).toBe('dashboard');
    expect(args[args.indexOf('--host') + 1]).toBe('0.0.0.0');
    // `${VAR:?message}`: compose refuses to start when the variable is unset or empty.
    expect(envOf(d).DASHBOARD_TOKEN).toMatch(/^\$\{DASHBOARD_TOKEN:\?.+\}$/);
  });

  it('every VAULT_LOOP_* variable is a real config key', () => {
    const known = new Set(CONFIG_KEYS.map((k) => envNameFor(k)));
    const unknown = [...composeVariables()].filter((n) => n.startsWith('VAULT_LOOP_') && !known.has(n));
    expect(unknown).toEqual([]);
  });

  it('every variable the compose file uses is documented in README.md', () => {
    // A VAULT_LOOP_* name is documented by its config key's row in README's generated table.
    const readme = readFileSync(join(PROJECT_ROOT, 'README.md'), 'utf8');
    expect([...composeVariables()].filter((n) => !new RegExp(`\`${n}\``).test(readme))).toEqual([]);
  });

  it('every configuration environment variable is documented', () => {
    const docs = docsText();
    const names = [...new Set([...CONFIG_KEYS.map((k) => envNameFor(k)), 'REDIS_URL', 'OPENAI_API_KEY', 'GEMINI_API_KEY', 'ANTHROPIC_API_KEY', 'DASHBOARD_TOKEN', 'DASHBOARD_VIEWER_TOKEN'])];
    expect(names.filter((n) => !new RegExp(`\`${n}\``).test(docs))).toEqual([]);
  });
});

describe('Dockerfile', () => {
  const lines = dockerfile
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));

  it('is node:20, installs with npm ci and runs as a non-root user', () => {
    expect(lines[0]).toMatch(/^FROM node:20(-slim)?(\s|$)/);
    expect(lines.some((l) => /^RUN .*\bnpm ci\b/.test(l))).toBe(true);
    const users = lines.filter((l) => l.startsWith('USER '));
    expect(users.length).toBeGreaterThan(0);
    expect(users.at(-1)).not.toMatch(/^USER (root|0)(:|$)/);
  });

  it('runs the CLI as its entrypoint', () => {
    const entry = lines.find((l) => l.startsWith('ENTRYPOINT '));
    expect(entry).toBeDefined();
    const argvJson = JSON.parse(entry!.slice('ENTRYPOINT '.length)) as string[];
    expect(argvJson[0]).toBe('node');
    expect(argvJson[1]).toMatch(/bin\/vault-loop\.js$/);
  });

  it('copies only paths that exist, everything the build needs, and the built CLI into the image it runs', () => {
    // COPY --from=<stage> copies from an earlier build stage, not from the build context.
    const copied = lines.filter((l) => l.startsWith('COPY ') && !/\s--from=/.test(l)).flatMap((l) => l.split(/\s+/).slice(1, -1));
    for (const p of copied) expect(existsSync(join(PROJECT_ROOT, p)), p).toBe(true);
    for (const needed of ['package.json', 'package-lock.json', 'bin', 'src', 'prompts', 'dashboard']) expect(copied, needed).toContain(needed);
    // bin/vault-loop.js runs dist/cli (built by `npm run build`): the last stage must have it.
    const lastStage = lines.slice(lines.map((l) => l.startsWith('FROM ')).lastIndexOf(true));
    expect(lastStage.some((l) => /^COPY --from=\S+ \S*dist\/? \S*dist\/?$/.test(l))).toBe(true);
    const builds = lines.filter((l) => /^RUN .*\bnpm (run build|ci)\b/.test(l) && !/--ignore-scripts/.test(l));
    expect(builds.length, 'a stage runs npm run build (or an npm ci that runs prepare)').toBeGreaterThan(0);
  });

  it('.dockerignore keeps node_modules and the git history out of the build context', () => {
    const ignored = readFileSync(join(PROJECT_ROOT, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim());
    expect(ignored).toContain('node_modules');
    expect(ignored).toContain('.git');
  });
});
