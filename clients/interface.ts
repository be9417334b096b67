/**
 * The plug-in side of the client contract: a client is a {@linkcode ClientDefinition} in
 * `clients/<vendor>.ts`, registered in `clients/mod.ts`, with its configuration keys and
 * the context `create()` receives. Its instance is an engine `ResponseClient`
 * (`engine/client.ts`).
 *
 * @module
 */

import type { z } from "zod";
import type { HttpOptions } from "../engine/http_types.ts";
import type { ResponseClient } from "../engine/client.ts";
import type { SecretFinder, SecretLookup, SecretRef, SecretStore } from "../engine/secrets.ts";

/** A documented configuration key of a client (used by `var config template` and `init`). */
export interface ConfigKey {
  /** Full key name, prefixed with the module name in upper case (`FORTINET_IP`). */
  readonly key: string;
  /** The default as written in `var.env`; "" means not set. */
  readonly default: string;
  /** One or two lines of help. */
  readonly help: string;
  /** True when the key must be given a non-empty value. */
  readonly required?: boolean;
}

/** What `create()` receives besides its configuration. */
export interface ClientContext {
  /** Secret lookup (secrets directory, keychain, prompt). */
  readonly secret: SecretLookup;
  /** Stored-secret lookup that never prompts; absent in tests that give only `secret`. */
  readonly findSecret?: SecretFinder;
  /** Secret store; absent with `--no-store-secrets`. */
  readonly storeSecret?: SecretStore;
  /** Transport defaults (timeouts, retries, request counter). */
  readonly http: HttpOptions;
  /** Aborted when the service shuts down. */
  readonly signal?: AbortSignal;
}

/**
 * A vendor client definition. `configSchema` parses an object holding exactly the
 * client's keys (raw strings, defaults already applied) into the typed configuration.
 */
export interface ClientDefinition<C = unknown> {
  /** Module name used in `THIRD_PARTY_CLIENTS`. */
  readonly name: string;
  /** Other accepted names (`amp` for `cisco_amp`, ...). */
  readonly aliases: readonly string[];
  /** Tag name, fixed forever by engine.md §10.5. */
  readonly tagName: string;
  /** Routing key for `client:<key>` tags. */
  readonly routingKey: string;
  /** Documented keys, each prefixed with the module name in upper case. */
  readonly keys: readonly ConfigKey[];
  /** Parses the raw key values into the client's configuration. */
  readonly configSchema: z.ZodType<C>;
  /** The secrets the configuration needs. */
  secrets(config: C): SecretRef[];
  /** Creates the client. */
  create(config: C, context: ClientContext): ResponseClient | Promise<ResponseClient>;
}
