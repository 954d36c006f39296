/**
 * The OS-level sandbox for model-written python: a bubblewrap (`bwrap`) command line that binds
 * only the interpreter, its standard library, the plotting packages and the shared libraries
 * read-only, gives the script a private empty /tmp and one private writable work folder, and
 * takes away the network, the other processes and every capability.
 *
 * What to bind is asked of the trusted interpreter itself, once per process, before any model
 * code runs: where its executable, standard library and each plotting package live, and where
 * matplotlib keeps its data and fonts. Shared libraries come from the interpreter's multiarch
 * library folder (system libraries, no secrets), with /etc/ld.so.cache and /etc/alternatives
 * (symlinks only) so that numpy finds its BLAS; nothing else of /etc is visible.
 */
import { spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, lstatSync, readlinkSync, realpathSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, isAbsolute, join } from 'node:path';

/** The command started when config `pythonSandbox` is unset. */
export const DEFAULT_SANDBOX_COMMAND = 'bwrap';
/** Debian's interpreter (python3-matplotlib installs for it); `python3` on PATH may be another one without matplotlib. */
export const DEFAULT_PYTHON = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
/** Where the work folder appears inside the sandbox. */
export const SANDBOX_WORK = '/sandbox';

/** Packages a plotting script may reach (the screen's allow-list) and what matplotlib imports in turn. */
const PLOTTING_PACKAGES = ['numpy', 'matplotlib', 'mpl_toolkits', 'PIL', 'kiwisolver', 'contourpy', 'cycler', 'fontTools', 'pyparsing', 'dateutil', 'packaging', 'six'];

export type SandboxStatus = { ok: true; bwrap: string; python: string; binds: string[][] } | { ok: false; reason: string };

/** Finds an executable: an absolute path as given, else the first match on PATH. */
export function findExecutable(name: string, path = process.env.PATH ?? ''): string | null {
  const candidates = isAbsolute(name) || name.includes('/') ? [name] : path.split(delimiter).filter(Boolean).map((d) => join(d, name));
  for (const c of candidates) {
    try {
      accessSync(c, constants.X_OK);
      if (lstatSync(c).isDirectory()) continue;
      return c;
    } catch {
      /* next */
    }
  }
  return null;
}

const LAYOUT = String.raw`
import json, os, sys, sysconfig, importlib.util
out = {"exe": os.path.realpath(sys.executable), "paths": [], "multiarch": sysconfig.get_config_var("MULTIARCH") or ""}
for key in ("stdlib", "platstdlib"):
    out["paths"].append(sysconfig.get_paths()[key])
for name in sys.argv[1:]:
    try:
        spec = importlib.util.find_spec(name)
    except Exception:
        spec = None
    if spec is None:
        continue
    if spec.submodule_search_locations:
        out["paths"].extend(list(spec.submodule_search_locations))
    elif spec.origin:
        out["paths"].append(spec.origin)
try:
    import matplotlib
    data = matplotlib.get_data_path()
    out["paths"].append(data)
    # The rc file matplotlib reads at import (Debian's is /etc/matplotlibrc).
    out["paths"].append(matplotlib.matplotlib_fname())
    # Debian links matplotlibrc to /etc and may link fonts to /usr/share/fonts: bind each link's target.
    for root, _, files in os.walk(data):
        for f in files:
            p = os.path.join(root, f)
            if os.path.islink(p):
                out["paths"].append(os.path.realpath(p))
except Exception:
    pass
print(json.dumps(out))
`;

const layouts = new Map<string, SandboxStatus>();

/**
 * The sandbox for this launcher and interpreter, checked once per process: the launcher exists,
 * the interpreter answers, and a sandbox with the full layout starts (user namespaces permitted).
 */
export function sandboxFor(command = DEFAULT_SANDBOX_COMMAND, python = DEFAULT_PYTHON): SandboxStatus {
  const key = `${command}\u0000${python}`;
  const known = layouts.get(key);
  if (known) return known;
  const status = probe(command, python);
  layouts.set(key, status);
  return status;
}

function probe(command: string, python: string): SandboxStatus {
  const bwrap = findExecutable(command);
  if (!bwrap) {
    return { ok: false, reason: `python visuals need the bubblewrap sandbox, and "${command}" was not found (install Debian's bubblewrap package, or set pythonSandbox to its path)` };
  }
  const exe = findExecutable(python);
  if (!exe) return { ok: false, reason: `python interpreter "${python}" not found` };
  const r = spawnSync(exe, ['-I', '-c', LAYOUT, ...PLOTTING_PACKAGES], { encoding: 'utf8', timeout: 30_000, env: { LANG: 'C.UTF-8' } });
  if (r.status !== 0) return { ok: false, reason: `python interpreter ${exe} did not answer: ${(r.stderr || r.error?.message || '').trim().split('\n').pop()}` };
  const layout = JSON.parse(r.stdout) as { exe: string; paths: string[]; multiarch: string };
  // Bound at their real paths (the sandbox gets the host's /lib, /bin symlinks, so other paths resolve the same way).
  const binds = new Set<string>();
  const add = (p: string) => {
    if (p && existsSync(p)) binds.add(realpathSync(p));
  };
  add(layout.exe);
  for (const p of layout.paths) add(p);
  for (const lib of ['/usr/lib', '/lib']) if (layout.multiarch) add(join(lib, layout.multiarch));
  for (const p of ['/usr/lib64', '/etc/ld.so.cache', '/etc/alternatives']) add(p);
  // Merged-/usr systems reach /lib, /lib64 and /bin through symlinks; the sandbox gets the same ones.
  const args: string[][] = [];
  for (const top of ['/lib', '/lib64', '/bin', '/sbin']) {
    try {
      if (lstatSync(top).isSymbolicLink()) args.push(['--symlink', readlinkSync(top), top]);
    } catch {
      /* absent */
    }
  }
  const sorted = [...binds].sort((a, b) => a.length - b.length);
  for (const p of sorted) {
    if (sorted.some((q) => q !== p && p.startsWith(`${q}/`))) continue; // inside a folder bound already
    args.push(['--ro-bind', p, p]);
  }
  const status: SandboxStatus = { ok: true, bwrap, python: layout.exe, binds: args };
  // One real start: user namespaces may be forbidden (a container without them, a kernel setting).
  const check = spawnSync(bwrap, [...sandboxArgs(status, tmpdir()), '--', layout.exe, '-I', '-c', 'pass'], { encoding: 'utf8', timeout: 30_000, env: {} });
  if (check.status !== 0) {
    return { ok: false, reason: `python visuals need the bubblewrap sandbox, and ${bwrap} could not start one here: ${(check.stderr || check.error?.message || `exit ${check.status}`).trim().split('\n')[0]}` };
  }
  return status;
}

/** bwrap's options up to the command: namespaces, the read-only layout, /proc, /dev, a private /tmp and the work folder. */
export function sandboxArgs(s: Extract<SandboxStatus, { ok: true }>, workDir: string, env: Record<string, string> = {}): string[] {
  return [
    '--unshare-all', // user, PID, mount, network, IPC, UTS and cgroup namespaces
    '--die-with-parent',
    '--new-session',
    '--cap-drop', 'ALL',
    '--hostname', 'sandbox',
    '--clearenv',
    ...Object.entries(env).flatMap(([k, v]) => ['--setenv', k, v]),
    ...s.binds.flat(),
    '--proc', '/proc',
    '--dev', '/dev',
    '--tmpfs', '/tmp',
    '--bind', workDir, SANDBOX_WORK,
    '--chdir', SANDBOX_WORK,
  ];
}
