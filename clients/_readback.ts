/**
 * Reading back what a client's devices enforce: every device at once, one failure naming
 * the devices that could not tell (never an empty answer), and the union as `list()`
 * elements or static entries. Private to `clients/`.
 *
 * @module
 */

import type { EnforcedElement, Operation } from "../engine/client.ts";
import type { DeviceAdapter } from "./_adapter.ts";
import { type Failure, fanOutError } from "./_fanout.ts";
import type { Scope } from "./_targets.ts";

/**
 * What var enforces on each device, as `<scope>|<entry>` keys, one set per device in order;
 * a `ClientError` when any device could not be read.
 */
export async function readBack<D>(
  adapter: DeviceAdapter<D>,
  read: NonNullable<DeviceAdapter<D>["read"]>,
  operation: Operation,
  scopes: readonly Scope[],
): Promise<Set<string>[]> {
  const results = await Promise.allSettled(
    adapter.devices.map((device) => read.call(adapter, device, scopes)),
  );
  const failed: Failure[] = [];
  results.forEach((result, index) => {
    if (result.status === "fulfilled") return;
    const failure = adapter.failureOf(result.reason);
    const device = adapter.devices[index] as D;
    failed.push({
      message: `${adapter.label(device)}: ${failure.message}`,
      status: failure.status,
    });
  });
  if (failed.length > 0) {
    throw fanOutError(
      adapter.name,
      operation,
      `Cannot read back var's blocks on ${adapter.name}`,
      failed,
    );
  }
  return results.map((result) => result.status === "fulfilled" ? result.value : new Set<string>());
}

/**
 * The elements any device enforces, sorted; `partial` when some device lacks one, so drift
 * repair blocks it again there (and an element nothing records is removed wherever it is).
 */
export function elementsOf(perDevice: readonly ReadonlySet<string>[]): EnforcedElement[] {
  const all = [...new Set(perDevice.flatMap((keys) => [...keys]))].sort();
  return all.map((key): EnforcedElement => {
    const bar = key.indexOf("|");
    const kind = key.slice(0, bar) as EnforcedElement["kind"];
    const element = key.slice(bar + 1);
    return perDevice.every((keys) => keys.has(key))
      ? { kind, element }
      : { kind, element, partial: true };
  });
}

/**
 * The static entries any device holds, sorted: one a device still holds is reported, so
 * dropping it from the file unblocks it everywhere.
 */
export function staticEntriesOf(perDevice: readonly ReadonlySet<string>[]): string[] {
  const union = new Set<string>();
  for (const keys of perDevice) for (const key of keys) union.add(key.slice(key.indexOf("|") + 1));
  return [...union].sort();
}
