/**
 * A bounded memory of ids already seen: a redelivered QoS 1 command (same id) is
 * recognised, and memory stays bounded by forgetting the oldest ids first. Pure.
 */
export class SeenIds {
  readonly #ids = new Set<string>();
  readonly #max: number;

  constructor(max = 10_000) {
    if (!Number.isInteger(max) || max < 1) throw new RangeError('max must be a positive integer');
    this.#max = max;
  }

  /** Records `id`; true when it was new, false when it had been seen (a duplicate). */
  add(id: string): boolean {
    if (this.#ids.has(id)) return false;
    this.#ids.add(id);
    if (this.#ids.size > this.#max) {
      // Sets iterate in insertion order: the first entry is the oldest.
      const oldest = this.#ids.values().next().value as string;
      this.#ids.delete(oldest);
    }
    return true;
  }

  has(id: string): boolean {
    return this.#ids.has(id);
  }

  get size(): number {
    return this.#ids.size;
  }
}
