/**
 * The staged changes of one wave of the act step: a client whose changes take effect only
 * once committed (`ResponseClient.stage`) gets one batch per wave; every step of the wave
 * calls the batch's staging operations, the batches are committed together once the wave's
 * client calls are all made, and only then does a staged step count.
 *
 * @module
 */

import type { ResponseClient, StagedChanges } from "./client.ts";
import { errorText } from "./error_text.ts";

/** The batches of a wave, one per committing client. */
export class WaveStages {
  readonly #stages = new Map<string, StagedChanges>();
  readonly #failures = new Map<string, string>();

  /** Opens a batch on every client that stages its changes. */
  constructor(clients: readonly ResponseClient[]) {
    for (const client of clients) {
      const stage = client.stage?.();
      if (stage !== undefined) this.#stages.set(client.name, stage);
    }
  }

  /** The client a step calls: the batch's staging view for a committing client. */
  clientFor(client: ResponseClient): ResponseClient {
    return this.#stages.get(client.name)?.client ?? client;
  }

  /** True when the named client's steps wait for the wave's commit. */
  stages(name: string): boolean {
    return this.#stages.has(name);
  }

  /** Commits every batch at once; a failed commit is remembered for its client's steps. */
  async commitAll(): Promise<void> {
    await Promise.all(
      [...this.#stages].map(async ([name, stage]) => {
        try {
          await stage.commit();
        } catch (error) {
          this.#failures.set(name, errorText(error));
        }
      }),
    );
  }

  /** Drops every batch (the wave could not be finished); never throws. */
  async discardAll(): Promise<void> {
    await Promise.all([...this.#stages.values()].map((stage) => stage.discard().catch(() => {})));
  }

  /** Why the named client's batch did not take effect, or null when it did. */
  failure(name: string): string | null {
    return this.#failures.get(name) ?? null;
  }
}
