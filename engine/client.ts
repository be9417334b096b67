/**
 * The contract between the engine and every response client (architecture.md, "The client
 * contract"; engine.md §10.3): the operations, what they return, and the error they throw.
 * The plug-in side (definitions, configuration keys, the creation context) lives in
 * `clients/interface.ts`.
 *
 * @module
 */

import type { Account, Detection, Host, StaticIps } from "./model.ts";

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
  /**
   * For a client whose changes take effect only once committed (a management server that
   * publishes and installs policy): opens a batch of staged changes. `act` stages a wave's
   * operations in one batch and commits it once; the client's own operations each commit
   * their change before they resolve.
   */
  stage?(): StagedChanges;
  /** Ends a cycle: closes what the cycle opened (a management session: logout). */
  endCycle?(): Promise<void>;
  /** Releases connections and sessions. */
  close?(): Promise<void>;
}

/** A batch of changes staged on a committing client (see `ResponseClient.stage`). */
export interface StagedChanges {
  /**
   * The client's operations, each staging its change: an operation resolves once its
   * change is staged, and what it returns counts only once {@linkcode commit} resolved.
   */
  readonly client: ResponseClient;
  /**
   * Makes every change staged in this batch take effect on every device, confirmed (for
   * example publish, then install policy). Throws a {@linkcode ClientError} when it cannot;
   * none of the batch's changes counts then. With nothing staged it does nothing.
   */
  commit(): Promise<void>;
  /** Drops every change staged in this batch (the wave could not be finished). */
  discard(): Promise<void>;
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
