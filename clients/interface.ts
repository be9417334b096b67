/**
 * The contract every vendor client implements (architecture.md, "The client contract";
 * engine.md §10.3). A client is a {@linkcode ClientDefinition} in `clients/<vendor>.ts`,
 * registered in `clients/mod.ts`; its instance is a {@linkcode ResponseClient}.
 *
 * @module
 */

import type { z } from "zod";
import type { Account, Detection, Host, StaticIps } from "../engine/model.ts";
import type { HttpOptions } from "../engine/http_types.ts";

/** Every operation a client may support. */
export type Operation =
  | "blockHost"
  | "unblockHost"
  | "groomHost"
  | "blockAccount"
  | "unblockAccount"
  | "blockDetection"
  | "unblockDetection"
  | "blockStaticIps"
  | "unblockStaticIps"
  | "listStaticIps"
  | "list"
  | "removeElements";

/** The result of grooming a host on one client. */
export type GroomResult =
  | { readonly changed: false }
  | {
    readonly changed: true;
    /** Recorded element ids the client removed. */
    readonly unblocked: readonly string[];
    /** New element ids the client now blocks for the host. */
    readonly blocked: readonly string[];
  };

/** Per-entry outcome of a static IP operation. */
export interface StaticIpOutcome {
  /** The entry as given (address or CIDR network, normalised). */
  readonly entry: string;
  /** True when the client confirmed the entry is (un)blocked on every device. */
  readonly ok: boolean;
  /** What went wrong, when not ok. No secrets. */
  readonly error?: string;
}

/** One element a client enforces, as read back from the device (drift repair). */
export interface EnforcedElement {
  /** The element id, as the client returns it from a block. */
  readonly element: string;
  /** Which kind of block created it. */
  readonly kind: "host" | "account" | "detection" | "static";
  /**
   * True when only some of the client's devices hold it (drift repair applies it again).
   * @default {false}
   */
  readonly partial?: boolean;
}

/**
 * A configured vendor client. Operations are optional; `supports` says which exist, and
 * the engine never calls one that is absent.
 *
 * Rules: block is idempotent and returns the element ids now blocked (already blocked
 * returns the existing ids); unblock receives the recorded ids for this client and returns
 * the ids confirmed removed (already gone counts as removed); every failure throws a
 * {@linkcode ClientError}, never an empty success.
 */
export interface ResponseClient {
  /** Module name, e.g. `fortinet`. */
  readonly name: string;
  /** Tag name written into `VAR ID:<tagName>:<id>`, e.g. `Fortinet Client`. */
  readonly tagName: string;
  /** Routing key matched against `client:<key>` tags. */
  readonly routingKey: string;
  /** The operations this instance implements. */
  readonly supports: ReadonlySet<Operation>;

  blockHost?(host: Host): Promise<string[]>;
  unblockHost?(host: Host, recorded: readonly string[]): Promise<string[]>;
  groomHost?(host: Host, recorded: readonly string[]): Promise<GroomResult>;
  blockAccount?(account: Account): Promise<string[]>;
  unblockAccount?(account: Account, recorded: readonly string[]): Promise<string[]>;
  blockDetection?(detection: Detection): Promise<string[]>;
  unblockDetection?(detection: Detection, recorded: readonly string[]): Promise<string[]>;
  blockStaticIps?(ips: StaticIps): Promise<StaticIpOutcome[]>;
  unblockStaticIps?(ips: StaticIps): Promise<StaticIpOutcome[]>;
  /** The static entries currently blocked on the device(s), read back each cycle. */
  listStaticIps?(): Promise<string[]>;
  /** Every element this client created and still enforces, for drift repair. */
  list?(): Promise<EnforcedElement[]>;
  /**
   * Removes elements var created that no entity records any more (drift repair), as
   * returned by `list()`. Returns the element ids confirmed removed.
   */
  removeElements?(elements: readonly EnforcedElement[]): Promise<string[]>;
  /** Releases connections and sessions. */
  close?(): Promise<void>;
}

/** A secret a client needs: looked up as (service, key) in the secrets directory or keychain. */
export interface SecretRef {
  readonly service: string;
  readonly key: string;
  /** One line for `var secrets list` and prompts. */
  readonly description: string;
  /**
   * Other key sets under the same service that can stand in for this key, e.g. a PAN-OS
   * `username` and `password` instead of its `API_Key`.
   */
  readonly alternatives?: readonly (readonly string[])[];
}

/** Looks up a secret; throws when it cannot be found. The value never reaches a log. */
export type SecretLookup = (service: string, key: string) => Promise<string>;

/** Looks up a stored secret without prompting; null when it is not stored. */
export type SecretFinder = (service: string, key: string) => Promise<string | null>;

/** Stores a secret (for clients that derive one, e.g. a PAN-OS API key). */
export type SecretStore = (service: string, key: string, value: string) => Promise<void>;

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

/** A failed client operation; the engine records the (entity, client) pair as failed. */
export class ClientError extends Error {
  /** Module name of the client. */
  readonly client: string;
  /** The operation, e.g. `blockHost`. */
  readonly operation: string;
  /** HTTP status when a vendor API answered, else null. */
  readonly status: number | null;

  constructor(
    client: string,
    operation: string,
    message: string,
    options: ErrorOptions & { status?: number | null } = {},
  ) {
    super(message, options);
    this.name = "ClientError";
    this.client = client;
    this.operation = operation;
    this.status = options.status ?? null;
  }
}
