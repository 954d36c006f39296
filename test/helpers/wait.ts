/**
 * Polling, for what a test cannot be told by an event (records rewritten on disk, a job's state, a
 * replica in sync): every 100 ms until it holds, then a bound that names what was awaited. The
 * bound is generous (a loaded machine), never a speed requirement.
 */

/** Waits until `probe` returns a truthy value and returns it; throws after `timeoutMs`. */
export async function until<T>(what: string, probe: () => Promise<T | null | undefined | false> | T | null | undefined | false, timeoutMs = 60_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Waits until `check` holds; throws after `timeoutMs`. */
export async function waitFor(check: () => Promise<boolean> | boolean, what: string, timeoutMs = 60_000): Promise<void> {
  await until(what, check, timeoutMs);
}
