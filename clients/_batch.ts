/**
 * Batches of staged changes on devices whose changes take effect only once committed (a
 * management server that publishes and installs policy): one batch at a time, entered by
 * its first change; its commit runs on the devices it touched, and a read waits for the
 * batch in flight so it never reports what is staged but not committed. Private to
 * `clients/`.
 *
 * @module
 */

import { ClientError } from "../engine/client.ts";
import type { DeviceAdapter } from "./_adapter.ts";
import { type Failure, KeyLocks } from "./_fanout.ts";
import type { CycleSession } from "./_session.ts";

/** How a committing device makes staged changes count, per device. */
export interface DeviceCommits<D> {
  /**
   * Makes what was staged on the device take effect, confirmed; on failure drops it.
   * `changed` is false when the batch's changes on the device all found their state in
   * place already: the device then commits only when what it enforces may lag behind.
   */
  commit(device: D, changed: boolean): Promise<void>;
  /** Drops what was staged on the device. */
  discard(device: D): Promise<void>;
  /** Ends the cycle on the device (logout); a session is opened again on next use. */
  endCycle(device: D): Promise<void>;
}

/** The commits of devices that each keep a {@linkcode CycleSession} (commit, discard, logout). */
export function sessionCommits<D, S>(sessionOf: (device: D) => CycleSession<S>): DeviceCommits<D> {
  return {
    commit: (device, changed) => sessionOf(device).commit(changed),
    discard: (device) => sessionOf(device).discard(),
    endCycle: (device) => sessionOf(device).end(),
  };
}

/** What batches need of the adapter. */
type BatchAdapter<D> = Pick<DeviceAdapter<D>, "name" | "devices" | "label" | "failureOf" | "apply">;

/** The single lock key: batches, reads and the end of a cycle take turns. */
const TURN = ["batch"];

/** The batches of one client. */
export class Batches<D> {
  readonly #lock = new KeyLocks();
  readonly #adapter: BatchAdapter<D>;
  readonly #commits: DeviceCommits<D>;

  constructor(adapter: BatchAdapter<D>, commits: DeviceCommits<D>) {
    this.#adapter = adapter;
    this.#commits = commits;
  }

  /** A new batch; it waits for the batch in flight only when it stages its first change. */
  open(): Batch<D> {
    return new Batch(this.#adapter, this.#commits, this.#lock);
  }

  /** Runs a read when no batch is in flight. */
  reading<T>(read: () => Promise<T>): Promise<T> {
    return this.#lock.with(TURN, read);
  }

  /** Ends the cycle on every device once no batch is in flight; throws naming the failures. */
  async endCycle(): Promise<void> {
    const failures = await this.#lock.with(
      TURN,
      () => settle(this.#adapter, (d) => this.#commits.endCycle(d), this.#adapter.devices),
    );
    if (failures.length > 0) {
      throw new Error(`Cannot end the cycle on ${this.#adapter.name}: ${join(failures)}`);
    }
  }
}

/** One batch: staged changes on the devices it touched, committed or discarded once. */
export class Batch<D> {
  readonly #adapter: BatchAdapter<D>;
  readonly #commits: DeviceCommits<D>;
  readonly #lock: KeyLocks;
  /** The devices the batch touched, each with whether it changed anything there. */
  readonly #touched = new Map<D, boolean>();
  #entered: Promise<void> | null = null;
  #release: () => void = () => {};
  #ended = false;

  constructor(adapter: BatchAdapter<D>, commits: DeviceCommits<D>, lock: KeyLocks) {
    this.#adapter = adapter;
    this.#commits = commits;
    this.#lock = lock;
  }

  /** The adapter's `apply`, staging in this batch. */
  readonly apply: DeviceAdapter<D>["apply"] = async (device, action, targets, options) => {
    if (this.#ended) throw new Error(`a batch of ${this.#adapter.name} was used after its end`);
    await this.#enter();
    this.#touched.set(device, this.#touched.get(device) ?? false);
    const answer = await this.#adapter.apply(device, action, targets, options);
    if (answer.changed ?? answer.added.size > 0) this.#touched.set(device, true);
    return answer;
  };

  /**
   * Commits on every device the batch touched; throws a `ClientError` naming the devices
   * whose commit failed (what they staged is dropped). Nothing staged: nothing to do.
   */
  async commit(): Promise<void> {
    const failures = await this.#end((d) => this.#commits.commit(d, this.#touched.get(d) ?? true));
    if (failures.length === 0) return;
    throw new ClientError(
      this.#adapter.name,
      "commit",
      `Cannot commit the staged changes on ${this.#adapter.name}: ${join(failures)}`,
      { status: failures[0]?.status ?? null },
    );
  }

  /** Drops what the batch staged (a failed operation, or a wave that could not finish). */
  async discard(): Promise<void> {
    await this.#end((d) => this.#commits.discard(d));
  }

  #enter(): Promise<void> {
    this.#entered ??= new Promise<void>((entered) => {
      void this.#lock.with(TURN, () => {
        entered();
        return new Promise<void>((release) => this.#release = release);
      });
    });
    return this.#entered;
  }

  async #end(step: (device: D) => Promise<void>): Promise<Failure[]> {
    if (this.#ended) return [];
    this.#ended = true;
    if (this.#entered === null) return [];
    await this.#entered;
    try {
      const touched = this.#adapter.devices.filter((device) => this.#touched.has(device));
      return await settle(this.#adapter, step, touched);
    } finally {
      this.#release();
    }
  }
}

/** Runs a step on devices at once; the failures, each naming its device. */
async function settle<D>(
  adapter: BatchAdapter<D>,
  step: (device: D) => Promise<void>,
  devices: readonly D[],
): Promise<Failure[]> {
  const results = await Promise.allSettled(devices.map((device) => step(device)));
  return results.flatMap((result, index) => {
    if (result.status === "fulfilled") return [];
    const failure = adapter.failureOf(result.reason);
    return [{
      message: `${adapter.label(devices[index] as D)}: ${failure.message}`,
      status: failure.status,
    }];
  });
}

function join(failures: readonly Failure[]): string {
  return failures.map((f) => f.message).join("; ");
}
