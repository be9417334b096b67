/**
 * One lookup by id for the several parts of a read that need objects of one kind by id
 * (group members, the sources of typed detections, urgent entities): each part joins,
 * asks at most once (or ends without asking), and once the batch is closed and every part
 * has asked or ended, one lookup runs for the union of their ids. On a brain that ignores
 * `id=` that is one read of the whole list, kept to those ids as it arrives, instead of one
 * per part.
 *
 * @module
 */

/** A lookup shared by the parts of a read. */
export class IdBatch<E extends { readonly id: number }> {
  #open = 1;
  #wanted = new Set<number>();
  #result = Promise.withResolvers<ReadonlyMap<number, E>>();
  #lookup: (ids: readonly number[]) => Promise<E[]>;

  /** A batch sending its ids to `lookup` once. */
  constructor(lookup: (ids: readonly number[]) => Promise<E[]>) {
    this.#lookup = lookup;
    // A part awaiting the lookup must not leave a rejection unhandled if none awaits it.
    this.#result.promise.catch(() => {});
  }

  /**
   * Runs one part. `ask` resolves to the objects of its ids that exist, once the batch's
   * lookup has run; a part may call it once.
   */
  async join<T>(run: (ask: (ids: readonly number[]) => Promise<E[]>) => Promise<T>): Promise<T> {
    this.#open++;
    let asked = false;
    try {
      return await run(async (ids) => {
        if (asked) throw new Error("IdBatch: a part asks once");
        asked = true;
        for (const id of ids) this.#wanted.add(id);
        this.#leave();
        const found = await this.#result.promise;
        return [...new Set(ids)].flatMap((id) => {
          const item = found.get(id);
          return item === undefined ? [] : [item];
        });
      });
    } finally {
      if (!asked) this.#leave();
    }
  }

  /** Every part has joined: the lookup runs once they have all asked or ended. */
  close(): void {
    this.#leave();
  }

  #leave(): void {
    this.#open--;
    if (this.#open > 0) return;
    if (this.#wanted.size === 0) {
      this.#result.resolve(new Map());
      return;
    }
    this.#lookup([...this.#wanted]).then(
      (items) => this.#result.resolve(new Map(items.map((item) => [item.id, item]))),
      (error) => this.#result.reject(error),
    );
  }
}
