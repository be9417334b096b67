/**
 * One change on every device of a client: run on all of them at once and settled, the
 * failures gathered into one `ClientError`, a partial block rolled back on the devices
 * that accepted it, and per-key locks so two actions on one element never interleave.
 * Private to `clients/`.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import { ClientError, type Operation } from "../engine/client.ts";
import { errorText } from "../engine/error_text.ts";

const logger = getLogger(["var", "client", "fanout"]);

/** Why a device did not confirm a key, and the HTTP status when an API answered. */
export interface Failure {
  readonly message: string;
  readonly status: number | null;
}

/** What one device made of the keys it was given. */
export interface DeviceAnswer {
  /** The keys it refused or could not confirm, each with why; absent keys were confirmed. */
  readonly failed: ReadonlyMap<string, Failure>;
  /** The keys this call newly put in place (a block): what a rollback takes back. */
  readonly added: ReadonlySet<string>;
  /**
   * True when the call changed anything on the device (an unblock that removed something);
   * absent: a change is any key in `added`. A committing device commits only after one.
   */
  readonly changed?: boolean;
}

/** One device's answer in a fan-out. */
export interface Settled<D> {
  readonly device: D;
  readonly answer: DeviceAnswer;
}

/**
 * Runs `apply` on every device at once and waits for all of them. Never throws: a device
 * whose `apply` throws fails every key with `failureOf(error)`.
 */
export async function fanOut<D>(
  devices: readonly D[],
  keys: readonly string[],
  apply: (device: D) => Promise<DeviceAnswer>,
  failureOf: (error: unknown) => Failure,
): Promise<Settled<D>[]> {
  const results = await Promise.allSettled(devices.map((device) => apply(device)));
  return results.map((result, index) => {
    const device = devices[index] as D;
    if (result.status === "fulfilled") return { device, answer: result.value };
    const failure = failureOf(result.reason);
    return {
      device,
      answer: { failed: new Map(keys.map((key) => [key, failure])), added: new Set() },
    };
  });
}

/** Every failure of a fan-out, as `<key> on <device>: <why>`, devices in order. */
export function failuresOf<D>(
  settled: readonly Settled<D>[],
  label: (device: D) => string,
  keyLabel: (key: string) => string = (key) => key,
): Failure[] {
  return settled.flatMap(({ device, answer }) =>
    [...answer.failed].map(([key, failure]) => ({
      message: `${keyLabel(key)} on ${label(device)}: ${failure.message}`,
      status: failure.status,
    }))
  );
}

/**
 * Takes back, on each device, the keys this fan-out newly added there, so a block that
 * failed somewhere leaves every device as it was. A rollback that fails is logged (the
 * next cycle retries the block, and drift repair removes what no entity records). Returns
 * true when anything was taken back.
 */
export async function rollBack<D>(
  settled: readonly Settled<D>[],
  undo: (device: D, keys: readonly string[]) => Promise<void>,
  label: (device: D) => string,
): Promise<boolean> {
  let any = false;
  await Promise.all(settled.map(async ({ device, answer }) => {
    const keys = [...answer.added];
    if (keys.length === 0) return;
    any = true;
    try {
      await undo(device, keys);
    } catch (error) {
      logger.error("Cannot roll back {keys} on {device}: {error}", {
        keys: keys.join(", "),
        device: label(device),
        error: errorText(error),
      });
    }
  }));
  return any;
}

/**
 * One `ClientError` for the failures of an operation: `<what>: <failure>; <failure>`,
 * saying when the devices that accepted a block were rolled back; the first failure's
 * status is the error's.
 */
export function fanOutError(
  client: string,
  operation: Operation,
  what: string,
  failures: readonly Failure[],
  rolledBack = false,
): ClientError {
  const rolled = rolledBack ? "; the devices that accepted it were rolled back" : "";
  return new ClientError(
    client,
    operation,
    `${what}: ${failures.map((f) => f.message).join("; ")}${rolled}`,
    { status: failures[0]?.status ?? null },
  );
}

/** Locks per key (an element on a device), so two actions on one key run one after the other. */
export class KeyLocks {
  #tails = new Map<string, Promise<void>>();

  /**
   * Runs `fn` once every earlier holder of any of `keys` is done. The keys are queued for
   * all at once, so callers are served in call order and can never deadlock.
   */
  async with<T>(keys: readonly string[], fn: () => Promise<T>): Promise<T> {
    let release!: () => void;
    const done = new Promise<void>((resolve) => release = resolve);
    const earlier: Promise<void>[] = [];
    const mine = new Map<string, Promise<void>>();
    for (const key of new Set(keys)) {
      const previous = this.#tails.get(key) ?? Promise.resolve();
      earlier.push(previous);
      const tail = previous.then(() => done);
      mine.set(key, tail);
      this.#tails.set(key, tail);
    }
    try {
      await Promise.all(earlier);
      return await fn();
    } finally {
      release();
      for (const [key, tail] of mine) if (this.#tails.get(key) === tail) this.#tails.delete(key);
    }
  }
}
