/**
 * The version of var, from `deno.json` (embedded by `deno compile`).
 *
 * @module
 */

import denoConfig from "../deno.json" with { type: "json" };

/** The version, e.g. `0.1.0`. */
export const VERSION: string = denoConfig.version;
