#!/usr/bin/env node
/**
 * Builds what bin/vault-loop.js runs: the CLI as an ESM bundle with code splitting (esbuild), in
 * dist/cli/. Each command's implementation is a chunk of its own that the command loads when it
 * runs, so `--help` and `status` load no more than they use; npm packages stay external (bullmq
 * reads its Lua scripts from its own folder, and one copy of ioredis must serve both it and us).
 *
 * `npm ci` / `npm install` run it (the `prepare` script); so does vitest's global setup, which
 * skips it when dist/ is newer than every source file. `--if-stale` asks for that check here.
 *
 * Safe while CLI processes run from dist/: chunk names carry a content hash, every file is written
 * to a temporary name and renamed, the entry last, and a chunk no build references any more is
 * deleted only when a day old (a long `run` may still load one lazily).
 */
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { Buffer } from 'node:buffer';
import { spawnSync } from 'node:child_process';
import { dirname, join, relative } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
export const OUT_DIR = join(root, 'dist', 'cli');
const STAMP = join(OUT_DIR, '.build-stamp');
/** What the bundle is made of: a change to any of these makes dist/ stale. */
const INPUTS = ['src', 'dashboard', 'package.json', 'package-lock.json', 'bin/build.js'];
const DATA_FILES = [['src/corpus/data/taxonomy_data.yaml', 'data/taxonomy_data.yaml']];
const STALE_CHUNK_MS = 24 * 3600_000;
/**
 * Packages bundled in rather than loaded from node_modules: the ones `status` and `--help` load.
 * Loading a package costs a resolve, a read and a compile per file (zod 4 is ~80 ESM files), so one
 * bundled chunk starts far faster. Every other package stays external (see above). None of these
 * crosses into an external package (bullmq gets connection options, never an ioredis object).
 */
const BUNDLED = ['commander', 'ioredis', 'zod'];
/**
 * zod's `z.locales` namespace pulls in its 64 translations (half the bundled zod); vault-loop
 * never reads it (messages are English, zod's default, which zod imports on its own).
 */
const noZodLocales = {
  name: 'no-zod-locales',
  setup(b) {
    b.onResolve({ filter: /^\.\.\/locales\/index\.js$/ }, (a) => (/[\\/]zod[\\/]/.test(a.importer) ? { path: 'zod-locales', namespace: 'no-zod-locales' } : undefined));
    b.onLoad({ filter: /.*/, namespace: 'no-zod-locales' }, () => ({ contents: 'export {};', loader: 'js' }));
  },
};
/**
 * A bundled JSON file (ioredis's 200 KB command table) as `JSON.parse('…')` rather than an object
 * literal: V8 parses a JSON string several times faster than the same literal as JavaScript.
 */
const jsonAsParse = {
  name: 'json-as-parse',
  setup(b) {
    b.onLoad({ filter: /\.json$/ }, (a) => ({ contents: `module.exports = JSON.parse(${JSON.stringify(JSON.stringify(JSON.parse(readFileSync(a.path, 'utf8'))))});`, loader: 'js' }));
  },
};
/**
 * Bundled packages load, with the package, what only some uses need: ioredis its Cluster classes
 * (Redis.js and index.js require ./cluster at the top) and Node's TLS module (both connectors;
 * only a rediss:// target connects with it, and loading it costs about as much as the rest of a
 * `--help`); commander Node's child_process (for executable subcommands, which vault-loop has
 * none of). In the bundle each is required the first time it is used. Every rewrite must match
 * the file it is meant for: a package whose files read otherwise fails the build here rather
 * than shipping the eager require unnoticed.
 */
const LAZY_TLS = ['const tls_1 = require("tls");', 'const tls_1 = { get connect() { return require("tls").connect; } };'];
const LAZY_REQUIRES = {
  'ioredis/built/index.js': [
    [
      'var cluster_1 = require("./cluster");\nObject.defineProperty(exports, "Cluster", { enumerable: true, get: function () { return cluster_1.default; } });',
      'Object.defineProperty(exports, "Cluster", { enumerable: true, get: function () { return require("./cluster").default; } });',
    ],
  ],
  'ioredis/built/Redis.js': [
    ['const cluster_1 = require("./cluster");\n', ''],
    ['Redis.Cluster = cluster_1.default;', 'Object.defineProperty(Redis, "Cluster", { configurable: true, enumerable: true, get: function () { return require("./cluster").default; } });'],
  ],
  'ioredis/built/connectors/StandaloneConnector.js': [LAZY_TLS],
  'ioredis/built/connectors/SentinelConnector/index.js': [LAZY_TLS],
  'commander/lib/command.js': [["const childProcess = require('node:child_process');", "const childProcess = { get spawn() { return require('node:child_process').spawn; } };"]],
};
const lazyRequires = {
  name: 'lazy-requires',
  setup(b) {
    const done = new Set();
    b.onStart(() => done.clear());
    b.onLoad({ filter: /[\\/]node_modules[\\/](ioredis|commander)[\\/].*\.js$/ }, (a) => {
      const file = a.path.split(/[\\/]node_modules[\\/]/).pop().split('\\').join('/');
      const rewrites = LAZY_REQUIRES[file];
      if (!rewrites) return undefined;
      done.add(file);
      let text = readFileSync(a.path, 'utf8');
      for (const [from, to] of rewrites) {
        if (!text.includes(from)) throw new Error(`${a.path}: expected the text ${JSON.stringify(from.split('\n')[0])} (the lazy-requires rewrite of bin/build.js; was the package upgraded?)`);
        text = text.replace(from, to);
      }
      return { contents: text, loader: 'js' };
    });
    b.onEnd(() => {
      const missing = Object.keys(LAZY_REQUIRES).filter((f) => !done.has(f));
      if (missing.length) throw new Error(`the lazy-requires rewrite of bin/build.js found no ${missing.join(', ')} in the bundle (was the package upgraded?)`);
    });
  },
};
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const EXTERNAL = Object.keys({ ...pkg.dependencies, ...pkg.devDependencies }).filter((d) => !BUNDLED.includes(d));

/** Newest mtime under the inputs (directories count: a deleted file changes its folder's mtime). */
function newestInput() {
  let newest = 0;
  const walk = (p) => {
    const s = statSync(p, { throwIfNoEntry: false });
    if (!s) return;
    newest = Math.max(newest, s.mtimeMs);
    if (s.isDirectory()) for (const e of readdirSync(p)) walk(join(p, e));
  };
  for (const i of INPUTS) walk(join(root, i));
  return newest;
}

/** True when dist/cli was built after the last change to any input. */
export function isFresh() {
  const stamp = statSync(STAMP, { throwIfNoEntry: false });
  return Boolean(stamp) && existsSync(join(OUT_DIR, 'main.js')) && stamp.mtimeMs >= newestInput();
}

function writeAtomic(path, contents) {
  const prev = existsSync(path) ? readFileSync(path) : null;
  if (prev && Buffer.compare(prev, Buffer.from(contents)) === 0) return false;
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, contents);
  renameSync(tmp, path);
  return true;
}

async function loadEsbuild() {
  try {
    return await import('esbuild');
  } catch {
    throw new Error('the build needs esbuild, a dev dependency: install with `npm ci` (not --omit=dev), or copy a built dist/ (see the Dockerfile)');
  }
}

/**
 * The bundle in memory with esbuild's metafile (what each output imports, statically or not),
 * written nowhere: for build() and for the test that checks what each command loads.
 */
export async function bundle() {
  const esbuild = await loadEsbuild();
  return await esbuild.build({
    absWorkingDir: root,
    entryPoints: { main: 'src/cli/main.ts' },
    outdir: OUT_DIR,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    external: EXTERNAL,
    // Bundled CommonJS (ioredis) calls require() for Node's built-ins: give each chunk one.
    banner: { js: "import { createRequire as __vlCreateRequire } from 'node:module'; const require = __vlCreateRequire(import.meta.url);" },
    sourcemap: 'linked',
    write: false,
    metafile: true,
    minify: true,
    plugins: [noZodLocales, jsonAsParse, lazyRequires],
    logLevel: 'warning',
  });
}

/** The optional native addon (native/): many stats in one call for the analyzer. */
export const NATIVE_OUT = join(root, 'dist', 'native', 'stat-many.node');
/** Why the last attempt did not build it, under the inputs' newest mtime: not tried again for those. */
const NATIVE_NOT_BUILT = join(root, 'dist', 'native', '.not-built');
const NATIVE_INPUTS = ['native/stat-many.c', 'native/binding.gyp'];
const FALLBACK = 'the analyzer will stat file by file';

/**
 * Builds native/ with node-gyp (npm's own, or the one beside this Node) and Node's headers (npm's
 * nodedir, or the ones beside this Node: never a download) into dist/native/, when a source is
 * newer than the built file. Never fails the build: without a C compiler, make, python3, the
 * headers or node-gyp, the analyzer stats file by file (src/analysis/stat-many.ts). A failure is
 * remembered for the same sources and tried again only with `retry` (`npm ci`, `npm run build`).
 * Returns a line to print.
 */
export function buildNative({ retry = false } = {}) {
  try {
    if (process.platform === 'win32') return `native: not built on Windows; ${FALLBACK}`;
    if (!NATIVE_INPUTS.every((f) => existsSync(join(root, f)))) return `native: no native/ sources here; ${FALLBACK}`;
    const newest = String(Math.max(...NATIVE_INPUTS.map((f) => statSync(join(root, f)).mtimeMs)));
    if (existsSync(NATIVE_OUT) && statSync(NATIVE_OUT).mtimeMs >= Number(newest)) return 'native: dist/native is up to date';
    if (!retry && existsSync(NATIVE_NOT_BUILT)) {
      const [key, why] = readFileSync(NATIVE_NOT_BUILT, 'utf8').split('\n');
      if (key === newest) return `native: not built (${why}); ${FALLBACK}`;
    }
    const notBuilt = (why) => {
      mkdirSync(dirname(NATIVE_NOT_BUILT), { recursive: true });
      writeFileSync(NATIVE_NOT_BUILT, `${newest}\n${why}\n`);
      return `native: not built (${why}); ${FALLBACK}`;
    };
    const gyp = [process.env.npm_config_node_gyp, join(dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js')].find(
      (f) => f && existsSync(f),
    );
    if (!gyp) return notBuilt('node-gyp not found');
    const hasHeaders = (dir) => dir && existsSync(join(dir, 'include', 'node', 'node_api.h'));
    const nodedir = [process.env.npm_config_nodedir, join(dirname(process.execPath), '..')].find(hasHeaders);
    if (!nodedir) return notBuilt("Node's headers not found beside Node");
    rmSync(NATIVE_OUT, { force: true }); // a failed rebuild leaves no addon of older sources behind
    const r = spawnSync(process.execPath, [gyp, 'rebuild', '--directory', join(root, 'native'), `--nodedir=${nodedir}`], { encoding: 'utf8', timeout: 120_000 });
    const built = join(root, 'native', 'build', 'Release', 'stat_many.node');
    if (r.status !== 0 || !existsSync(built)) {
      const lines = `${r.error?.message ?? ''}\n${r.stderr ?? ''}`.split('\n').filter((l) => /error/i.test(l));
      return notBuilt((lines.at(-1) ?? `node-gyp exited ${r.status}`).trim());
    }
    writeAtomic(NATIVE_OUT, readFileSync(built));
    rmSync(NATIVE_NOT_BUILT, { force: true });
    return 'native: built dist/native/stat-many.node';
  } catch (e) {
    return `native: not built (${e.message}); ${FALLBACK}`;
  }
}

/** Builds dist/cli; returns what it did. `ifStale`: do nothing when dist/ is fresh. */
export async function build({ ifStale = false } = {}) {
  if (ifStale && isFresh()) return { built: false, ms: 0 };
  const t0 = performance.now();
  const startedAt = Date.now();
  const result = await bundle();
  const outputs = result.outputFiles.map((f) => ({ path: f.path, contents: f.contents }));
  // Chunks first, the entry last: a process starting mid-build loads either the old entry with
  // its (still present) chunks or the new one with the new chunks.
  const entry = join(OUT_DIR, 'main.js');
  outputs.sort((a, b) => Number(a.path === entry) - Number(b.path === entry));
  let written = 0;
  for (const [from, to] of DATA_FILES) {
    mkdirSync(dirname(join(OUT_DIR, to)), { recursive: true });
    copyFileSync(join(root, from), join(OUT_DIR, to));
  }
  for (const o of outputs) if (writeAtomic(o.path, o.contents)) written++;
  const current = new Set([...outputs.map((o) => o.path), ...DATA_FILES.map(([, to]) => join(OUT_DIR, to)), STAMP]);
  for (const f of readdirSync(OUT_DIR)) {
    const p = join(OUT_DIR, f);
    if (!current.has(p) && /\.js(\.map)?$/.test(f) && Date.now() - statSync(p).mtimeMs > STALE_CHUNK_MS) rmSync(p, { force: true });
  }
  // The stamp takes the build's start time: a source saved during the build leaves dist/ stale.
  writeFileSync(STAMP, `${new Date(startedAt).toISOString()}\n`);
  utimesSync(STAMP, new Date(startedAt), new Date(startedAt));
  return { built: true, ms: performance.now() - t0, files: outputs.length, written, out: relative(root, OUT_DIR) };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  try {
    const r = await build({ ifStale: process.argv.includes('--if-stale') });
    const native = buildNative({ retry: !process.argv.includes('--if-stale') });
    if (!process.argv.includes('--quiet')) {
      console.log(r.built ? `build: ${r.out}/ in ${Math.round(r.ms)} ms (${r.files} files, ${r.written} changed)` : 'build: dist/cli is up to date');
      console.log(native);
    }
  } catch (e) {
    console.error(`build: ${e.message}`);
    process.exit(1);
  }
}
