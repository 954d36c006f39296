/**
 * Reading files a vault (or anyone who can write to it) controls. A path may name a FIFO, a
 * device or a socket, directly or through a symlink: opening a FIFO for reading blocks until a
 * writer appears, so `validate` or `run` would hang. Every such read opens with O_NONBLOCK (never
 * waits) and O_NOCTTY, then checks on the open descriptor (no race with a swap of the path) that
 * it is a regular file before reading a byte.
 */
import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import { open } from 'node:fs/promises';

/** Largest question file the loader (and the analyzer) reads; larger ones are skipped, not read. */
export const DEFAULT_MAX_FILE_BYTES = 1024 * 1024;

export class NotRegularFileError extends Error {
  override readonly name = 'NotRegularFileError';
  constructor(readonly path: string, readonly kind: string) {
    super(`${path}: not a regular file (${kind}); not read`);
  }
}

const FLAGS = constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY;

function kindOf(st: { isDirectory(): boolean; isFIFO(): boolean; isSocket(): boolean; isCharacterDevice(): boolean; isBlockDevice(): boolean }): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a named pipe';
  if (st.isSocket()) return 'a socket';
  if (st.isCharacterDevice() || st.isBlockDevice()) return 'a device';
  return 'not a file';
}

/** The bytes of a regular file; NotRegularFileError for anything else (never blocks). */
export async function readRegularFile(path: string): Promise<Buffer> {
  const fh = await open(path, FLAGS);
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw new NotRegularFileError(path, kindOf(st));
    return await fh.readFile();
  } finally {
    await fh.close();
  }
}

/** readRegularFile with a text result. */
export async function readRegularText(path: string): Promise<string> {
  return (await readRegularFile(path)).toString('utf8');
}

/** The synchronous form, for the analyzer's scan. */
export function readRegularFileSync(path: string): Buffer {
  const fd = openSync(path, FLAGS);
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new NotRegularFileError(path, kindOf(st));
    const chunks: Buffer[] = [];
    const buf = Buffer.allocUnsafe(Math.max(1, Math.min(st.size + 1, 1 << 20)));
    for (;;) {
      let n: number;
      try {
        n = readSync(fd, buf, 0, buf.length, null);
      } catch (e) {
        // O_NONBLOCK on a regular file never yields EAGAIN; kept for a file swapped under us.
        if ((e as NodeJS.ErrnoException).code === 'EAGAIN') continue;
        throw e;
      }
      if (n === 0) break;
      chunks.push(Buffer.from(buf.subarray(0, n)));
    }
    return Buffer.concat(chunks);
  } finally {
    closeSync(fd);
  }
}

/**
 * The result of a file operation, or null when the file is not there (ENOENT); any other failure
 * (a permission, a directory where a file was expected) is thrown.
 */
export async function nullIfMissing<T>(op: Promise<T>): Promise<T | null> {
  try {
    return await op;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
}

/** Control characters other than tab, newline and carriage return (NUL among them). */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
export const CONTROL_CHARACTER = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F]/;
