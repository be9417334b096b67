/**
 * What a client may send to a device for an entity: a host's one usable address, a
 * detection's usable destinations, recorded ids as address entries, and the per-entry
 * outcome of a static operation. Anything else is a {@linkcode ClientError} naming the
 * entity, never an empty success. Private to `clients/`.
 *
 * @module
 */

import { type IpEntry, parseIpOrNetwork, singleHostAddress } from "../engine/ip.ts";
import type { Detection, Host } from "../engine/model.ts";
import { ClientError, type Operation, type StaticIpOutcome } from "../engine/client.ts";
import type { Settled } from "./_fanout.ts";

/**
 * The host's address in canonical form when it is one single host address, else a
 * `ClientError` naming the host and the reason (`address 0.0.0.0/0 is not a single host
 * address`).
 */
export function hostAddress(client: string, operation: Operation, host: Host): string {
  const address = singleHostAddress(host.ip);
  if (address.ok) return address.address;
  const verb = operation === "unblockHost" ? "unblock" : "block";
  throw new ClientError(
    client,
    operation,
    `Cannot ${verb} host ${host.id} (${
      JSON.stringify(host.name)
    }) with ${client}: ${address.reason}`,
  );
}

/** The detection's destinations that are single host addresses, canonical and distinct. */
export function destinationAddresses(detection: Detection): string[] {
  const addresses = new Set<string>();
  for (const ip of detection.dstIps) {
    const address = singleHostAddress(ip);
    if (address.ok) addresses.add(address.address);
  }
  return [...addresses];
}

/** What a block is for: a host's address, a detection's destination, a static entry. */
export type Scope = "host" | "detection" | "static";

/** One entry to act on, with the ids (recorded or given) that name it. */
export interface Target {
  readonly scope: Scope;
  readonly entry: IpEntry;
  /** The canonical entry (`IpEntry.entry`): the key of the target in device answers. */
  readonly key: string;
  /** The ids as given that map to this entry, in order. */
  readonly given: string[];
}

/**
 * Parses ids (addresses or networks) into targets of one scope, merging ids that name one
 * entry; an id that is not an address is a `ClientError` naming `what`.
 */
export function targetsFor(
  client: string,
  operation: Operation,
  what: string,
  scope: Scope,
  ids: readonly string[],
): Target[] {
  const targets = new Map<string, Target>();
  for (const id of ids) {
    const parsed = parseIpOrNetwork(id);
    if (!parsed.ok) {
      throw new ClientError(
        client,
        operation,
        `Cannot block ${what} on ${client}: ${parsed.reason}`,
      );
    }
    const key = parsed.value.entry;
    const existing = targets.get(key);
    if (existing) existing.given.push(id);
    else targets.set(key, { scope, entry: parsed.value, key, given: [id] });
  }
  return [...targets.values()];
}

/**
 * One outcome per static entry as given: failed with its reason when it was not an entry
 * (`invalid`), failed with every device's reason when some device did not confirm it,
 * else ok.
 */
export function staticOutcomes<D>(
  client: string,
  action: "block" | "unblock",
  entries: readonly string[],
  invalid: ReadonlyMap<string, string>,
  targets: readonly Target[],
  settled: readonly Settled<D>[],
  label: (device: D) => string,
): StaticIpOutcome[] {
  const errors = new Map<string, string[]>();
  for (const { device, answer } of settled) {
    for (const target of targets) {
      const failure = answer.failed.get(target.key);
      if (failure === undefined) continue;
      for (const given of target.given) {
        errors.set(given, [...(errors.get(given) ?? []), `${label(device)}: ${failure.message}`]);
      }
    }
  }
  return entries.map((entry): StaticIpOutcome => {
    const reason = invalid.get(entry);
    if (reason !== undefined) return { entry, ok: false, error: reason };
    const failed = errors.get(entry);
    if (failed === undefined) return { entry, ok: true };
    const error = `Cannot ${action} static destination ${entry} on ${client}: ${failed.join("; ")}`;
    return { entry, ok: false, error };
  });
}
