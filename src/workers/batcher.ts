/**
 * Groups the cell jobs a generate worker holds into one provider call of up to `batchSize` cells,
 * waiting at most `windowMs` to fill a batch. Batches never mix runs or iterations (their
 * provider settings and budgets differ).
 */
export interface BatchItem<I, O> {
  input: I;
  resolve(o: O): void;
  reject(e: unknown): void;
}

export class Batcher<I, O> {
  readonly #pending = new Map<string, { items: BatchItem<I, O>[]; size: number; timer?: NodeJS.Timeout }>();
  readonly #run: (key: string, inputs: I[]) => Promise<O[]>;
  readonly #windowMs: number;

  /** `run` returns one output per input, in order; a throw rejects every input of the batch. */
  constructor(run: (key: string, inputs: I[]) => Promise<O[]>, windowMs: number) {
    this.#run = run;
    this.#windowMs = windowMs;
  }

  submit(key: string, batchSize: number, input: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      let slot = this.#pending.get(key);
      if (!slot) {
        slot = { items: [], size: Math.max(1, batchSize) };
        this.#pending.set(key, slot);
      }
      slot.items.push({ input, resolve, reject });
      if (slot.items.length >= slot.size) {
        this.#flush(key);
      } else if (!slot.timer) {
        slot.timer = setTimeout(() => this.#flush(key), this.#windowMs);
      }
    });
  }

  /** Flushes everything now (used on shutdown). */
  flushAll(): void {
    for (const key of [...this.#pending.keys()]) this.#flush(key);
  }

  get pendingCount(): number {
    let n = 0;
    for (const s of this.#pending.values()) n += s.items.length;
    return n;
  }

  #flush(key: string): void {
    const slot = this.#pending.get(key);
    if (!slot) return;
    this.#pending.delete(key);
    if (slot.timer) clearTimeout(slot.timer);
    const items = slot.items;
    this.#run(
      key,
      items.map((i) => i.input),
    ).then(
      (outs) => items.forEach((item, i) => (i < outs.length ? item.resolve(outs[i]!) : item.reject(new Error('batch returned too few results')))),
      (e: unknown) => items.forEach((item) => item.reject(e)),
    );
  }
}
