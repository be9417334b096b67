/**
 * What a client may send to a device for an entity: a host's one usable address, a
 * detection's usable destinations. Anything else is a {@linkcode ClientError} naming the
 * entity, never an empty success. Private to `clients/`.
 *
 * @module
 */

import { singleHostAddress } from "../engine/ip.ts";
import type { Detection, Host } from "../engine/model.ts";
import { ClientError, type Operation } from "../engine/client.ts";

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
