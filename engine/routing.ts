/**
 * Routing tags (engine.md §3.5): a kept tag `client:<key>` restricts which clients may
 * block (and groom) an entity.
 *
 * @module
 */

/** The routing keys an entity's tags name, and the `client` tags that could not be read. */
export interface Routing {
  /** Lower-cased routing keys, without duplicates; empty means every client may act. */
  readonly keys: readonly string[];
  /** Tags that start with `client` but have no `:`; ignored with a warning. */
  readonly malformed: readonly string[];
}

/**
 * Reads the routing keys from an entity's kept tags, as the original does: a tag whose
 * lower-cased text starts with `client` names the key between its first and second `:`.
 *
 * @example
 * ```ts
 * routingOf(["Client:PAN", "vectra_host_block"]); // { keys: ["pan"], malformed: [] }
 * ```
 */
export function routingOf(keptTags: readonly string[]): Routing {
  const keys: string[] = [];
  const malformed: string[] = [];
  for (const tag of keptTags) {
    if (!tag.toLowerCase().startsWith("client")) continue;
    const parts = tag.split(":");
    const key = parts[1];
    if (key === undefined) {
      malformed.push(tag);
      continue;
    }
    const lower = key.toLowerCase();
    if (!keys.includes(lower)) keys.push(lower);
  }
  return { keys, malformed };
}

/** True when a client with this routing key may block an entity with this routing. */
export function isRoutedTo(routing: Routing, routingKey: string): boolean {
  return routing.keys.length === 0 || routing.keys.includes(routingKey.toLowerCase());
}
