/**
 * The front door of the Vectra API clients: {@linkcode createVectraApi} picks v2.5 (token
 * or OAuth) or v3.x (OAuth) for a configured brain.
 *
 * @module
 */

import type { SecretLookup } from "../secrets.ts";
import type { BrainConfig } from "../../config_types.ts";
import type { VectraApi } from "./api.ts";
import type { VectraApiOptions } from "./shared.ts";
import { createV2Api } from "./v2.ts";
import { createV3Api } from "./v3.ts";

export { type ApiVersion, VectraError } from "./api.ts";
export type { VectraApi } from "./api.ts";
export type { VectraApiOptions } from "./shared.ts";

/** Options of {@linkcode createVectraApi}. */
export interface CreateVectraApiOptions extends VectraApiOptions {
  /** Secret lookup: `Token`, `Client_ID`, `Secret_Key` under the brain's entry as written. */
  secret: SecretLookup;
  /**
   * v3 only: seconds before expiry at which tokens are renewed (capped at a tenth of the
   * token's lifetime).
   * @default {100}
   */
  renewEarlySeconds?: number;
}

/**
 * Creates the API client of a brain: v3.3/v3.4 with OAuth2, or v2.5 with a token or
 * OAuth2 as `brain.auth` says. Secrets are read on first use and kept in memory only.
 *
 * @example
 * ```ts
 * const api = createVectraApi(brain, { secret, caFile: config.vectraCaFile, verifyTls: config.vectraVerifyTls });
 * try {
 *   const blocked = await api.listHosts({ tag: "VAR Host Blocked" });
 * } finally {
 *   await api.close();
 * }
 * ```
 */
export function createVectraApi(brain: BrainConfig, options: CreateVectraApiOptions): VectraApi {
  if (brain.apiVersion === "2.5") {
    return createV2Api(brain.baseUrl, { ...options, service: brain.entry, auth: brain.auth });
  }
  return createV3Api(brain.baseUrl, {
    ...options,
    service: brain.entry,
    version: brain.apiVersion,
  });
}
