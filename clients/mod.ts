/**
 * The client registry: every client definition, statically imported so `deno compile`
 * embeds it (architecture.md). Adding a client is one import and one entry in
 * {@linkcode CLIENTS}.
 *
 * @module
 */

import { externalCall } from "./external_call.ts";
import { fortinet } from "./fortinet.ts";
import type { ClientDefinition } from "./interface.ts";
import { pan } from "./pan.ts";
import { testClient } from "./test_client.ts";

/** Every client var can drive, in the order `var config template` lists them. */
export const CLIENTS: readonly ClientDefinition[] = [
  testClient,
  externalCall,
  fortinet,
  pan,
];

/**
 * Finds a client by the name written in `THIRD_PARTY_CLIENTS`: its module name or one of
 * its aliases (engine.md §10.5), case-insensitive, surrounding spaces ignored.
 */
export function findClient(name: string): ClientDefinition | undefined {
  const wanted = name.trim().toLowerCase();
  return CLIENTS.find((client) =>
    client.name.toLowerCase() === wanted ||
    client.aliases.some((alias) => alias.toLowerCase() === wanted)
  );
}
