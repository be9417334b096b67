/**
 * The small shared vocabulary that the model, the state tags and the Vectra API all speak:
 * entity kinds, recorded elements and API versions. A leaf module: it imports nothing, so
 * each of them can import it without importing one another.
 *
 * @module
 */

/** One of the three kinds of Vectra entity var blocks. */
export type Kind = "host" | "account" | "detection";

/** The kinds, in the order a cycle handles them. */
export const KINDS: readonly Kind[] = ["host", "account", "detection"];

/** Client tag name (e.g. `PAN Client`) to the element ids recorded for it, in tag order. */
export type BlockedElements = ReadonlyMap<string, readonly string[]>;

/** Which Vectra API a brain speaks. */
export type ApiVersion = "2.5" | "3.3" | "3.4";
