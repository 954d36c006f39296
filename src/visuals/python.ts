/**
 * Runs a model-written matplotlib script, only when python visuals are enabled. Layers, outermost first:
 *   1. a static screen refusing obviously hostile scripts (imports outside a small allow-list,
 *      process/network/file-system calls, absolute or `..` paths), with the reason;
 *   2. a fresh temp folder as cwd, HOME and MPLCONFIGDIR, and a minimal environment;
 *   3. `unshare -n` (no network) where the machine permits it, detected once;
 *   4. a Python audit hook (PEP 578) that blocks writes, deletes and renames outside the temp
 *      folder, process spawning and sockets, and reports each attempt on a private pipe;
 *   5. RLIMIT_FSIZE so no file the script writes can exceed the output cap;
 *   6. a time limit that kills the whole process group;
 * and only VISUAL_OUT_PATH (a regular file, not a link, within the size cap) is read back.
 * None of this is a security boundary against a determined attacker (ctypes-free CPython can
 * still be coaxed); it stops careless and casually hostile model output.
 */
import { spawn, spawnSync } from 'node:child_process';
import { lstat, mkdtemp, readFile, realpath, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';

export type PythonOutcome = { ok: true; svg: string; warnings: string[] } | { ok: false; error: string; warnings?: string[] };

export interface MatplotlibOptions {
  /** Nothing runs unless this is true (config `allowPythonVisuals`, flag --allow-python-visuals). */
  allowPython: boolean;
  /** Wall-clock limit (default 60 s, as the original). */
  timeoutMs?: number;
  /** Cap on the SVG read back and on any file the script writes (default 2 MiB). */
  maxOutputBytes?: number;
  /** Scripts larger than this are refused (default 64 KiB). */
  maxScriptBytes?: number;
  /** Python interpreter to resolve (default `python3` on PATH). */
  python?: string;
}

export const PYTHON_DISABLED = 'python visuals disabled (--allow-python-visuals)';
export const DEFAULT_PYTHON_TIMEOUT_MS = 60_000;
export const DEFAULT_MAX_OUTPUT_BYTES = 2 * 1024 * 1024;
export const DEFAULT_MAX_SCRIPT_BYTES = 64 * 1024;

/** Top-level modules a plotting script may import (the generator's prompt allows matplotlib, numpy and os). */
export const ALLOWED_IMPORTS: readonly string[] = [
  'os', 'math', 'matplotlib', 'numpy', 'mpl_toolkits', 'collections', 'itertools', 'functools', 'typing',
  'dataclasses', 'textwrap', 'string', 'statistics', 'decimal', 'fractions', 'random', 'json', 'enum', '__future__',
];
const ALLOWED = new Set(ALLOWED_IMPORTS);

/** Patterns refused outright, each with its reason. Matched on the script with comments removed. */
const HOSTILE: readonly [RegExp, string][] = [
  [/\bsubprocess\b/, 'uses subprocess'],
  [/\bsocket\b/, 'uses sockets'],
  [/\bos\s*\.\s*(?:system|popen|exec\w*|spawn\w*|posix_spawn\w*|fork\w*|kill\w*|remove|unlink|rmdir|removedirs|rename|renames|replace|chmod|chown|link|symlink|truncate|putenv|unsetenv|chdir|fchdir|chroot|setuid|setgid|mkfifo|mknod)\b/, 'calls a process, environment or file-system function of os'],
  [/\bshutil\b/, 'uses shutil (file-system operations such as rmtree)'],
  [/\b(?:__import__|importlib|builtins|__builtins__|__subclasses__|__globals__|__code__|ctypes|cffi)\b/, 'reaches for the import machinery or interpreter internals'],
  [/(?<![\w.])(?:eval|exec|compile|breakpoint)\s*\(/, 'evaluates dynamic code'],
  [/\bopen\s*\(\s*[rbuRBUfF]*['"]\s*(?:\/|~|[A-Za-z]:[\\/])/, 'opens an absolute path'],
  [/['"][^'"\n]*(?:\.\.[\\/]|[\\/]\.\.(?=['"\\/]))/, 'uses a ".." path'],
  [/['"](?:\.\.)['"]/, 'uses a ".." path'],
  [/\bos\s*\.\s*environ\s*\[\s*['"](?!VISUAL_OUT_PATH)/, 'reads environment variables other than VISUAL_OUT_PATH'],
  [/\b(?:os|sys|posixpath|__main__)\s*(?:\.\s*\w+)+\s*=(?!=)/, 'assigns to a module attribute'],
  [/\b(?:setattr|delattr|globals|vars|locals)\s*\(/, 'rewrites namespaces (setattr/globals/vars)'],
  [/\b(?:urllib|http\.client|requests|ftplib|smtplib|telnetlib|pty|multiprocessing|threading|signal|resource|sys\.modules)\b/, 'uses networking, processes or interpreter controls'],
];

/** Returns null when the script passes the static screen, else the reason it is refused. */
export function screenPythonScript(script: string, maxBytes = DEFAULT_MAX_SCRIPT_BYTES): string | null {
  const size = Buffer.byteLength(script, 'utf8');
  if (size > maxBytes) return `python script is ${size} bytes; the limit is ${maxBytes}`;
  if (script.includes('\u0000')) return 'python script contains a NUL byte';
  // Drop comments (a `#` outside quotes up to the end of the line) so prose in them does not trip the screen.
  const code = script
    .split('\n')
    .map((line) => {
      let q = '';
      for (let i = 0; i < line.length; i++) {
        const c = line[i]!;
        if (q) {
          if (c === '\\') i++;
          else if (c === q) q = '';
        } else if (c === '"' || c === "'") q = c;
        else if (c === '#') return line.slice(0, i);
      }
      return line;
    })
    .join('\n');
  const lines = code.split('\n');
  for (let n = 0; n < lines.length; n++) {
    const line = lines[n]!;
    const imp = /^\s*(?:from\s+([\w.]+)\s+import\b|import\s+(.+))/.exec(line);
    if (imp) {
      const mods = imp[1] ? [imp[1]] : imp[2]!.split(',').map((s) => s.trim().split(/\s+/)[0]!);
      for (const m of mods) {
        const top = m.split('.')[0]!;
        if (!ALLOWED.has(top)) return `python script line ${n + 1}: import of "${m}" is not allowed (allowed: ${ALLOWED_IMPORTS.join(', ')})`;
      }
    }
    for (const [re, why] of HOSTILE) {
      if (re.test(line)) return `python script line ${n + 1}: ${why}`;
    }
  }
  return null;
}

/** How scripts are isolated from the network on this machine; detected once per process. */
export interface SandboxInfo {
  /** Command prefix, e.g. ['unshare', '-n'] or []. */
  prefix: string[];
  /** Why there is no network isolation, when there is none. */
  warning?: string;
}

let sandbox: SandboxInfo | undefined;

export function detectSandbox(): SandboxInfo {
  if (sandbox) return sandbox;
  for (const prefix of [['unshare', '-n'], ['unshare', '-r', '-n']]) {
    const r = spawnSync(prefix[0]!, [...prefix.slice(1), 'true'], { stdio: 'ignore', timeout: 5000 });
    if (r.status === 0) return (sandbox = { prefix });
  }
  return (sandbox = { prefix: [], warning: 'network isolation unavailable (unshare -n not permitted here); the script ran with network access, guarded only by the screen and the audit hook' });
}

const pythonExecutables = new Map<string, string | null>();

/** Resolves `python3` to its real executable once: pyenv-style shims need a HOME and PATH the sandbox does not give. */
export function resolvePython(name = 'python3'): string | null {
  if (pythonExecutables.has(name)) return pythonExecutables.get(name)!;
  const r = spawnSync(name, ['-c', 'import sys; print(sys.executable)'], { encoding: 'utf8', timeout: 15000 });
  const exe = r.status === 0 ? r.stdout.trim() || null : null;
  pythonExecutables.set(name, exe);
  return exe;
}

/**
 * Runs inside the child before the script: limits, the audit hook, then the script via runpy.
 * argv: [tmp dir, script path, max file bytes, '1' to import numpy and matplotlib first]. Violations go to fd 3 as one JSON line each.
 * PermissionError is an OSError, so a library that tries a helper (matplotlib and fc-list) fails soft.
 */
const BOOTSTRAP = String.raw`
import os, sys, json, resource, runpy
def install(root, cap):
    # cap + 1: a file cut off at the limit is still detectably too large to the reader.
    resource.setrlimit(resource.RLIMIT_FSIZE, (cap + 1, cap + 1))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    # Everything the hook uses is bound here, so a script that patches os or os.path cannot blind it.
    realpath, join, getcwd, fsdecode, write, sep = os.path.realpath, os.path.join, os.getcwd, os.fsdecode, os.write, os.sep
    dumps, PermissionError_ = json.dumps, PermissionError
    write_flags = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
    path_events = {"os.remove": (0,), "os.rmdir": (0,), "os.mkdir": (0,), "os.rename": (0, 1), "os.link": (0, 1), "os.symlink": (1,),
                   "os.chmod": (0,), "os.chown": (0,), "os.truncate": (0,), "os.utime": (0,), "shutil.rmtree": (0,),
                   "shutil.copyfile": (1,), "shutil.copytree": (1,), "shutil.move": (1,), "os.chdir": (0,), "os.chroot": (0,)}
    deny = ("subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork", "os.forkpty", "pty.spawn",
            "socket.connect", "socket.bind", "socket.sendto", "socket.getaddrinfo", "ctypes.", "os.kill", "os.killpg",
            "os.putenv", "os.unsetenv", "urllib.Request", "webbrowser.open")
    def report(kind, detail):
        try: write(3, (dumps({"kind": kind, "detail": str(detail)[:300]}) + "\n").encode())
        except OSError: pass
    def inside(p):
        try:
            if isinstance(p, int): return True
            full = realpath(join(getcwd(), fsdecode(p)))
            return full == root or full.startswith(root + sep)
        except Exception:
            return False
    def hook(event, args):
        if event == "open":
            path, mode, flags = (list(args) + [None, None, None])[:3]
            writing = (isinstance(mode, str) and any(c in mode for c in "wax+")) or (isinstance(flags, int) and flags & write_flags)
            if writing and not inside(path):
                report("write-outside", path)
                raise PermissionError_("vault-loop sandbox: write outside the temp folder: %s" % (path,))
        elif event in path_events:
            for k in path_events[event]:
                if k < len(args) and not inside(args[k]):
                    report("write-outside", "%s %s" % (event, args[k]))
                    raise PermissionError_("vault-loop sandbox: %s outside the temp folder" % event)
        elif event.startswith(deny):
            report("blocked", "%s %r" % (event, args[:2] if isinstance(args, tuple) else args))
            raise PermissionError_("vault-loop sandbox: %s is not allowed" % event)
    sys.addaudithook(hook)
# The plotting libraries are the machine's, not the model's: when the script uses them they are
# imported before the hook, so what they do once at import (numpy loads itself through ctypes and
# sets an environment variable) is not taken for the script's doing. The script finds them imported.
if sys.argv[4] == "1":
    try:
        import numpy, matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot
    except ImportError:
        pass
install(os.path.realpath(sys.argv[1]), int(sys.argv[3]))
script = sys.argv[2]
del install
sys.argv = [script]
runpy.run_path(script, run_name="__main__")
`;

interface Violation {
  kind: 'write-outside' | 'blocked';
  detail: string;
}

function collect(stream: Readable | null, cap: number): { text: () => string } {
  const chunks: Buffer[] = [];
  let size = 0;
  stream?.on('data', (b: Buffer) => {
    if (size < cap) chunks.push(b.subarray(0, cap - size));
    size += b.length;
  });
  return { text: () => Buffer.concat(chunks).toString('utf8') };
}

/** Runs a plotting script in the sandbox and returns the SVG it wrote to VISUAL_OUT_PATH (raw, not yet sanitized). */
export async function renderMatplotlib(script: string, opts: MatplotlibOptions): Promise<PythonOutcome> {
  if (!opts.allowPython) return { ok: false, error: PYTHON_DISABLED };
  const refused = screenPythonScript(script, opts.maxScriptBytes);
  if (refused) return { ok: false, error: refused };
  const python = resolvePython(opts.python);
  if (!python) return { ok: false, error: `python interpreter "${opts.python ?? 'python3'}" not found` };
  const timeoutMs = opts.timeoutMs ?? DEFAULT_PYTHON_TIMEOUT_MS;
  const maxOut = opts.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES;
  const { prefix, warning } = detectSandbox();
  const warnings = warning ? [warning] : [];

  const dir = await realpath(await mkdtemp(join(tmpdir(), 'vault-loop-visual-')));
  try {
    const scriptPath = join(dir, 'visual.py');
    const outPath = join(dir, 'out.svg');
    await writeFile(scriptPath, script, { mode: 0o600 });
    const env: NodeJS.ProcessEnv = {
      PATH: `${dirname(python)}:/usr/bin:/bin`,
      HOME: dir,
      TMPDIR: dir,
      MPLBACKEND: 'Agg',
      MPLCONFIGDIR: join(dir, '.matplotlib'),
      VISUAL_OUT_PATH: outPath,
      LANG: 'C.UTF-8',
      PYTHONDONTWRITEBYTECODE: '1',
    };
    // -I: ignore PYTHON* variables and the user site; -B: no .pyc files.
    const argv = [...prefix, python, '-I', '-B', '-c', BOOTSTRAP, dir, scriptPath, String(maxOut), /\b(?:matplotlib|numpy)\b/.test(script) ? '1' : '0'];
    const child = spawn(argv[0]!, argv.slice(1), { cwd: dir, env, detached: true, stdio: ['ignore', 'pipe', 'pipe', 'pipe'] });
    const stderr = collect(child.stderr, 16 * 1024);
    collect(child.stdout, 1024);
    const report = collect(child.stdio[3] as Readable, 64 * 1024);
    let timedOut = false;
    const killGroup = () => {
      try {
        if (child.pid) process.kill(-child.pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    };
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup();
    }, timeoutMs);
    const { code, signal, spawnError } = await new Promise<{ code: number | null; signal: NodeJS.Signals | null; spawnError?: Error }>((resolve) => {
      child.once('error', (e) => resolve({ code: null, signal: null, spawnError: e }));
      child.once('close', (c, s) => resolve({ code: c, signal: s }));
    });
    clearTimeout(timer);
    // Anything the script left running in its group goes with it.
    killGroup();

    if (spawnError) return { ok: false, error: `could not start python: ${spawnError.message}`, warnings };
    const violations: Violation[] = report
      .text()
      .split('\n')
      .filter(Boolean)
      .flatMap((l) => {
        try {
          return [JSON.parse(l) as Violation];
        } catch {
          return [];
        }
      });
    const outside = violations.filter((v) => v.kind === 'write-outside');
    if (outside.length > 0) return { ok: false, error: `python script tried to write outside its temp folder: ${outside.map((v) => v.detail).join('; ')}`, warnings };
    const blocked = violations.filter((v) => v.kind === 'blocked');
    if (timedOut) return { ok: false, error: `python script ran past the ${timeoutMs} ms limit; its process group was killed`, warnings };
    if (code !== 0) {
      if (/\[Errno 27\] File too large/.test(stderr.text())) return { ok: false, error: `python script wrote a file over the output cap; the limit is ${maxOut} bytes`, warnings };
      const tail = stderr.text().replaceAll(dir, '<sandbox>').trim().split('\n').slice(-3).join(' | ');
      const why = blocked.length > 0 ? `; blocked: ${blocked.map((v) => v.detail).join('; ')}` : '';
      return { ok: false, error: `python script failed (${signal ? `signal ${signal}` : `exit ${code}`}): ${tail || 'no output'}${why}`, warnings };
    }
    // A library may try (and fail, safely) to spawn a helper such as fc-list; the render still counts.
    for (const v of blocked) warnings.push(`sandbox blocked ${v.detail}`);
    let st;
    try {
      st = await lstat(outPath);
    } catch {
      return { ok: false, error: 'python script did not write VISUAL_OUT_PATH', warnings };
    }
    if (!st.isFile()) return { ok: false, error: 'VISUAL_OUT_PATH is not a regular file (links are not followed)', warnings };
    if (st.size > maxOut) return { ok: false, error: `SVG is ${st.size} bytes; the limit is ${maxOut}`, warnings };
    const svg = await readFile(outPath, 'utf8');
    return { ok: true, svg, warnings };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
