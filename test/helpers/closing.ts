/** What a test starts and must close again: a fake server, a host, a dashboard. */
export interface Closable {
  close(): Promise<void>;
}

/** Runs `use`, then closes each of `them` in order, whether `use` passed or threw. */
export async function closeAfter<T>(them: Closable[], use: () => Promise<T>): Promise<T> {
  try {
    return await use();
  } finally {
    for (const c of them) await c.close();
  }
}
