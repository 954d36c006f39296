/**
 * Runs a model-written matplotlib script, only when python visuals are enabled. Layers, outermost first:
 *   1. a static screen refusing obviously hostile scripts (imports outside a small allow-list,
 *      process/network/file-system calls, absolute or `..` paths), with the reason;
 *   2. an OS-level sandbox, bubblewrap (`bwrap`): new user, PID, mount, network, IPC and UTS
 *      namespaces, all capabilities dropped, started from an EMPTY environment (a sandbox's
 *      /proc/1/environ is its launcher's, so the launcher must hold nothing). Inside, only the
 *      Python runtime and the plotting libraries are bound read-only, with a private empty /tmp
 *      and a private work folder for the script and its SVG; no /etc, no /home, no vault, no
 *      network, no other process to see. Where bwrap is missing or cannot create namespaces,
 *      nothing runs and the error says why;
 *   3. limits set before the script runs: address space (memory), CPU seconds, file size, open
 *      files, processes (and no core dumps);
 *   4. a Python audit hook (PEP 578) that blocks writes outside the work folder, process spawning
 *      and sockets, and reports each attempt on a private pipe;
 *   5. a wall-clock limit that kills the whole process group;
 * and only VISUAL_OUT_PATH (a regular file, not a link, within the size cap) is read back.
 * The screen and the hook stop careless output with a clear reason; the sandbox is the boundary
 * that holds when they are bypassed (e.g. paths built with chr(47)).
 */
import { spawn } from 'node:child_process';
import { lstat, mkdtemp, readFile, realpath, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import { DEFAULT_PYTHON, DEFAULT_SANDBOX_COMMAND, SANDBOX_WORK, sandboxArgs, sandboxFor } from './sandbox.js';

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
  /** Python interpreter (default Debian's /usr/bin/python3, which python3-matplotlib serves). */
  python?: string;
  /** The bubblewrap launcher (config `pythonSandbox`, default `bwrap` on PATH); nothing runs without it. */
  sandbox?: string;
  /** Address-space limit of the script (default 1 GiB). */
  maxMemoryBytes?: number;
}

export const PYTHON_DISABLED = 'python visuals disabled (--allow-python-visuals)';
export const DEFAULT_PYTHON_TIMEOUT_MS = 60_000;
export const DEFAULT_MAX_OUTPUT_BYTES = 2 * 1024 * 1024;
export const DEFAULT_MAX_SCRIPT_BYTES = 64 * 1024;
export const DEFAULT_MAX_MEMORY_BYTES = 1024 * 1024 * 1024;
/** At most this many processes (threads count) for the sandbox's user; BLAS pools are kept to one thread. */
const MAX_PROCESSES = 16;

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

/**
 * Runs inside the child before the script: limits, the audit hook, then the script via runpy.
 * argv: [work dir, script path, max file bytes, '1' to import numpy and matplotlib first, memory bytes, cpu seconds, processes].
 * Violations go to fd 3 as one JSON line each.
 * PermissionError is an OSError, so a library that tries a helper (matplotlib and fc-list) fails soft.
 */
const BOOTSTRAP = String.raw`
import os, sys, json, resource, runpy
def install(root, cap, mem, cpu, nproc):
    # cap + 1: a file cut off at the limit is still detectably too large to the reader.
    resource.setrlimit(resource.RLIMIT_FSIZE, (cap + 1, cap + 1))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    # Soft and hard alike, so the script cannot raise them again.
    resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))
    resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))
    resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))
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
install(os.path.realpath(sys.argv[1]), int(sys.argv[3]), int(sys.argv[5]), int(sys.argv[6]), int(sys.argv[7]))
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
  const sandbox = sandboxFor(opts.sandbox ?? DEFAULT_SANDBOX_COMMAND, opts.python ?? DEFAULT_PYTHON);
  if (!sandbox.ok) return { ok: false, error: `python visual not run: ${sandbox.reason}` };
  const timeoutMs = opts.timeoutMs ?? DEFAULT_PYTHON_TIMEOUT_MS;
  const maxOut = opts.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES;
  const maxMem = opts.maxMemoryBytes ?? DEFAULT_MAX_MEMORY_BYTES;
  const warnings: string[] = [];

  const dir = await realpath(await mkdtemp(join(tmpdir(), 'vault-loop-visual-')));
  try {
    const scriptPath = join(dir, 'visual.py');
    const outPath = join(dir, 'out.svg');
    await writeFile(scriptPath, script, { mode: 0o600 });
    // The script's whole environment, set inside the sandbox; the launcher itself starts with none.
    const env: Record<string, string> = {
      PATH: `${dirname(sandbox.python)}:/usr/bin:/bin`,
      HOME: SANDBOX_WORK,
      TMPDIR: SANDBOX_WORK,
      MPLBACKEND: 'Agg',
      MPLCONFIGDIR: `${SANDBOX_WORK}/.matplotlib`,
      VISUAL_OUT_PATH: `${SANDBOX_WORK}/out.svg`,
      LANG: 'C.UTF-8',
      PYTHONDONTWRITEBYTECODE: '1',
      OPENBLAS_NUM_THREADS: '1',
    };
    const cpuSeconds = Math.max(1, Math.ceil(timeoutMs / 1000));
    // -I: ignore PYTHON* variables and the user site; -B: no .pyc files.
    const argv = [
      ...sandboxArgs(sandbox, dir, env),
      '--',
      sandbox.python, '-I', '-B', '-c', BOOTSTRAP,
      SANDBOX_WORK, `${SANDBOX_WORK}/visual.py`, String(maxOut), /\b(?:matplotlib|numpy)\b/.test(script) ? '1' : '0', String(maxMem), String(cpuSeconds), String(MAX_PROCESSES),
    ];
    const child = spawn(sandbox.bwrap, argv, { cwd: dir, env: {}, detached: true, stdio: ['ignore', 'pipe', 'pipe', 'pipe'] });
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
      if (/\bMemoryError\b/.test(stderr.text())) return { ok: false, error: `python script ran out of memory; the limit is ${Math.round(maxMem / 1048576)} MiB`, warnings };
      if (signal === 'SIGXCPU' || code === 128 + 24) return { ok: false, error: `python script used more than ${cpuSeconds} s of CPU time`, warnings };
      const tail = stderr.text().replaceAll(dir, '<sandbox>').replaceAll(SANDBOX_WORK, '<sandbox>').trim().split('\n').slice(-3).join(' | ');
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
