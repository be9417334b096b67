/**
 * `test_client` (tag name `Test Client`): a simulated enforcement point that blocks in
 * memory, for exercising the engine without a product (vendors/test_client.md). It
 * supports every operation, and is the reference the shared contract suite runs with no
 * skips.
 *
 * Behaviour, fixed here where the original was loose:
 * - **Element ids** are random UUIDs (v4), as in the original. With
 *   `TEST_CLIENT_DETERMINISTIC=true` they are derived from the entity instead, so engine
 *   tests can assert exact tags whatever order concurrent blocks run in:
 *   `host-<id>-<ip>` (`host-<id>` without an IP), `account-<id>`, `detection-<id>`.
 * - **Block** is idempotent: blocking an entity already held (a host at the same IP)
 *   returns the id it already has.
 * - **Unblock** removes the recorded ids it is given and returns them all (already gone
 *   counts as removed), never null, even for ids it never issued.
 * - **Groom** returns `{ changed: false }` unless a recorded host element was blocked at
 *   another IP than the host's current one; then it removes those elements and blocks the
 *   host at its new IP. The blocked IP is known from the device's memory, or, for ids the
 *   memory has lost (a previous process), parsed from a deterministic id; a random id this
 *   process did not issue counts as unchanged.
 * - **Static IPs** are kept in the device's memory and read back by `listStaticIps()`.
 * - **Test aid:** `TEST_CLIENT_FAIL_OPERATIONS` lists operations that always fail with a
 *   {@linkcode ClientError}, so end-to-end tests can make a client fail. Not for
 *   production use.
 *
 * No configuration is required, no secrets, no I/O besides debug logging. Being the
 * template default, it "blocks" by tagging only: nothing is enforced anywhere.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import { z } from "zod";
import type { Account, Detection, Host, StaticIps } from "../engine/model.ts";
import { hostAddress } from "./_targets.ts";
import {
  ClientError,
  type EnforcedElement,
  type GroomResult,
  type Operation,
  type ResponseClient,
  type StaticIpOutcome,
} from "../engine/client.ts";
import type { ClientDefinition } from "./interface.ts";

const logger = getLogger(["var", "client", "test_client"]);

/** Every operation, in declaration order. */
const ALL_OPERATIONS: readonly Operation[] = [
  "blockHost",
  "unblockHost",
  "groomHost",
  "blockAccount",
  "unblockAccount",
  "blockDetection",
  "unblockDetection",
  "blockStaticIps",
  "unblockStaticIps",
  "listStaticIps",
  "list",
  "removeElements",
];

/** The typed configuration of `test_client`. */
export interface TestClientConfig {
  /** Derive element ids from the entity instead of random UUIDs. */
  readonly deterministic: boolean;
  /** Operations that always throw a ClientError (test aid). */
  readonly failOperations: ReadonlySet<Operation>;
}

/** Parses a boolean written in var.env. */
function parseBoolean(value: string, ctx: z.RefinementCtx, key: string): boolean {
  const text = value.trim().toLowerCase();
  if (text === "" || text === "false") return false;
  if (text === "true") return true;
  ctx.addIssue({
    code: "custom",
    path: [key],
    message: "not a boolean; use true or false",
  });
  return false;
}

/** Parses a comma-separated list of operations, as var.env writes lists. */
function parseOperations(value: string, ctx: z.RefinementCtx, key: string): Set<Operation> {
  const operations = new Set<Operation>();
  const text = value.trim();
  if (text === "") return operations;
  for (const name of text.split(",").map((part) => part.trim())) {
    if ((ALL_OPERATIONS as readonly string[]).includes(name)) {
      operations.add(name as Operation);
    } else {
      ctx.addIssue({
        code: "custom",
        path: [key],
        message: `"${name}" is not an operation; use ${ALL_OPERATIONS.join(", ")}`,
      });
    }
  }
  return operations;
}

/** Parses the raw `TEST_CLIENT_*` values into a {@linkcode TestClientConfig}. */
export const TestClientConfig: z.ZodType<TestClientConfig> = z
  .object({
    TEST_CLIENT_DETERMINISTIC: z.string().default("false"),
    TEST_CLIENT_FAIL_OPERATIONS: z.string().default(""),
  })
  .transform((raw, ctx) => ({
    deterministic: parseBoolean(raw.TEST_CLIENT_DETERMINISTIC, ctx, "TEST_CLIENT_DETERMINISTIC"),
    failOperations: parseOperations(
      raw.TEST_CLIENT_FAIL_OPERATIONS,
      ctx,
      "TEST_CLIENT_FAIL_OPERATIONS",
    ),
  }));

/** What the simulated device holds for one element id. */
interface HeldElement {
  readonly kind: "host" | "account" | "detection";
  /** Identifies the blocked thing: `host:<id>:<ip>`, `account:<id>`, `detection:<id>`. */
  readonly key: string;
  /** The IP a host element was blocked at. */
  readonly ip: string | null;
}

/** How the device misbehaves, when it does. */
type DeviceFault = { readonly mode: "error"; readonly status: number } | { readonly mode: "down" };

/**
 * The simulated enforcement point behind a test client: what is "blocked", held in
 * memory. Tests create one to inspect and manipulate it behind the client's back.
 */
export class TestDevice {
  #elements = new Map<string, HeldElement>();
  /** The element ids held under each key, in the order they were held. */
  #idsByKey = new Map<string, Set<string>>();
  #static = new Set<string>();
  #fault: DeviceFault | null = null;

  /** The element ids held for a kind, or the static entries for `static`. */
  enforced(kind: "host" | "account" | "detection" | "static"): Set<string> {
    if (kind === "static") return new Set(this.#static);
    const ids = new Set<string>();
    for (const [id, element] of this.#elements) if (element.kind === kind) ids.add(id);
    return ids;
  }

  /** Deletes everything held for a kind, as an administrator would. */
  vanish(kind: "host" | "account" | "detection" | "static"): void {
    if (kind === "static") {
      this.#static.clear();
      return;
    }
    for (const [id, element] of this.#elements) {
      if (element.kind === kind) this.release(id);
    }
  }

  /**
   * From now on every call fails: `error` as a device answering with `status` (default
   * 503), `down` as a device that cannot be reached. `null` heals it.
   */
  fail(mode: "error" | "down" | null, status = 503): void {
    this.#fault = mode === null ? null : mode === "error" ? { mode, status } : { mode };
  }

  /** The current fault, if any (for the client). */
  get fault(): DeviceFault | null {
    return this.#fault;
  }

  /** The element id held under a key, if any. */
  idOf(key: string): string | null {
    const ids = this.#idsByKey.get(key);
    if (ids === undefined) return null;
    for (const id of ids) return id;
    return null;
  }

  /** What an element id holds, if anything. */
  get(id: string): HeldElement | undefined {
    return this.#elements.get(id);
  }

  /** Holds an element. */
  hold(id: string, element: HeldElement): void {
    this.release(id);
    this.#elements.set(id, element);
    const ids = this.#idsByKey.get(element.key) ?? new Set<string>();
    ids.add(id);
    this.#idsByKey.set(element.key, ids);
  }

  /** Releases an element; true when it was held. */
  release(id: string): boolean {
    const element = this.#elements.get(id);
    if (element === undefined) return false;
    this.#elements.delete(id);
    const ids = this.#idsByKey.get(element.key);
    ids?.delete(id);
    if (ids?.size === 0) this.#idsByKey.delete(element.key);
    return true;
  }

  /** Adds a static entry. */
  holdStatic(entry: string): void {
    this.#static.add(entry);
  }

  /** Removes a static entry. */
  releaseStatic(entry: string): void {
    this.#static.delete(entry);
  }

  /** Every held element, static entries included. */
  list(): EnforcedElement[] {
    const elements: EnforcedElement[] = [];
    for (const [element, held] of this.#elements) elements.push({ element, kind: held.kind });
    for (const entry of [...this.#static].sort()) elements.push({ element: entry, kind: "static" });
    return elements;
  }
}

/** One recorded call of a test client. */
export interface TestClientCall {
  /** The operation called. */
  readonly operation: Operation;
  /** `<kind> <id>` of the entity, or the static entries. */
  readonly subject: string;
  /** The recorded ids passed to an unblock or groom. */
  readonly recorded?: readonly string[];
  /** True when the call threw. */
  readonly failed: boolean;
}

/** Options for {@linkcode createTestClient}. */
export interface TestClientOptions {
  /**
   * Derive element ids from the entity instead of random UUIDs (v4).
   * @default {false}
   */
  deterministic?: boolean;
  /**
   * Operations that always throw a {@linkcode ClientError} (test aid).
   * @default {new Set()}
   */
  failOperations?: ReadonlySet<Operation>;
  /**
   * The simulated device; share one between clients to keep "what is blocked" across them.
   * @default {new TestDevice()}
   */
  device?: TestDevice;
  /**
   * Offer `list()` and `removeElements()` for drift repair. The client var builds from
   * `var.env` turns this off: its device lives in the process's memory, so a new process
   * would find every recorded block "missing".
   * @default {true}
   */
  readBack?: boolean;
}

/** A test client instance: a {@linkcode ResponseClient} that records its calls. */
export interface TestClient extends ResponseClient {
  /** The device it blocks on. */
  readonly device: TestDevice;
  /** Every call so far, in order. */
  readonly calls: readonly TestClientCall[];
}

/** The key identifying what a host block holds: the host at its current IP. */
function hostKey(host: Host, ip: string | null = host.ip): string {
  return `host:${host.id}:${ip ?? ""}`;
}

/** The deterministic id of an element. */
function deterministicId(kind: HeldElement["kind"], id: number, ip: string | null): string {
  return kind === "host" && ip !== null ? `host-${id}-${ip}` : `${kind}-${id}`;
}

/** The IP a deterministic host id for this host encodes, or null. */
function ipOfDeterministicId(host: Host, id: string): string | null {
  const prefix = `host-${host.id}-`;
  return id.startsWith(prefix) && id.length > prefix.length ? id.slice(prefix.length) : null;
}

/** Creates a test client. */
export function createTestClient(options: TestClientOptions = {}): TestClient {
  const {
    deterministic = false,
    failOperations = new Set<Operation>(),
    device = new TestDevice(),
    readBack = true,
  } = options;
  const calls: TestClientCall[] = [];
  const name = "test_client";

  /** Records a call and runs it, failing first when the device or a knob says so. */
  async function run<R>(
    operation: Operation,
    subject: string,
    recorded: readonly string[] | undefined,
    fn: () => R,
  ): Promise<R> {
    const record = (failed: boolean) =>
      calls.push(
        recorded === undefined ? { operation, subject, failed } : {
          operation,
          subject,
          recorded: [...recorded],
          failed,
        },
      );
    await Promise.resolve();
    const fault = device.fault;
    if (fault || failOperations.has(operation)) {
      record(true);
      const why = fault?.mode === "down"
        ? "the simulated device is down"
        : fault?.mode === "error"
        ? `the simulated device answered ${fault.status}`
        : `TEST_CLIENT_FAIL_OPERATIONS lists "${operation}" (test aid)`;
      throw new ClientError(name, operation, `Cannot ${operation} ${subject} on ${name}: ${why}`, {
        status: fault?.mode === "error" ? fault.status : null,
      });
    }
    let result: R;
    try {
      result = fn();
    } catch (error) {
      record(true);
      throw error;
    }
    record(false);
    logger.debug("{operation} {subject}: {result}", {
      operation,
      subject,
      result: JSON.stringify(result),
    });
    return result;
  }

  /** Holds an element for key (idempotent) and returns its id. */
  function hold(kind: HeldElement["kind"], entityId: number, key: string, ip: string | null) {
    const existing = device.idOf(key);
    if (existing !== null) return existing;
    const id = deterministic ? deterministicId(kind, entityId, ip) : crypto.randomUUID();
    device.hold(id, { kind, key, ip });
    return id;
  }

  /** Releases the recorded ids and returns them all, without duplicates. */
  function release(recorded: readonly string[]): string[] {
    const ids = [...new Set(recorded)];
    for (const id of ids) device.release(id);
    return ids;
  }

  const blockHost = (host: Host) =>
    run("blockHost", `host ${host.id}`, undefined, () => {
      const ip = hostAddress(name, "blockHost", host);
      return [hold("host", host.id, hostKey(host, ip), ip)];
    });
  const blockAccount = (account: Account) =>
    run("blockAccount", `account ${account.id}`, undefined, () => [
      hold("account", account.id, `account:${account.id}`, null),
    ]);
  const blockDetection = (detection: Detection) =>
    run("blockDetection", `detection ${detection.id}`, undefined, () => [
      hold("detection", detection.id, `detection:${detection.id}`, null),
    ]);

  return {
    name,
    tagName: "Test Client",
    routingKey: "test_client",
    supports: new Set(
      readBack
        ? ALL_OPERATIONS
        : ALL_OPERATIONS.filter((op) => op !== "list" && op !== "removeElements"),
    ),
    device,
    calls,
    blockHost,
    unblockHost: (host: Host, recorded: readonly string[]) =>
      run("unblockHost", `host ${host.id}`, recorded, () => release(recorded)),
    groomHost: (host: Host, recorded: readonly string[]) =>
      run("groomHost", `host ${host.id}`, recorded, (): GroomResult => {
        const current = hostAddress(name, "groomHost", host);
        const stale = recorded.filter((id) => {
          const held = device.get(id);
          const ip = held ? held.ip : ipOfDeterministicId(host, id);
          return ip !== null && ip !== current;
        });
        if (stale.length === 0) return { changed: false };
        const unblocked = release(stale);
        const blocked = [hold("host", host.id, hostKey(host, current), current)];
        return { changed: true, unblocked, blocked };
      }),
    blockAccount,
    unblockAccount: (account: Account, recorded: readonly string[]) =>
      run("unblockAccount", `account ${account.id}`, recorded, () => release(recorded)),
    blockDetection,
    unblockDetection: (detection: Detection, recorded: readonly string[]) =>
      run("unblockDetection", `detection ${detection.id}`, recorded, () => release(recorded)),
    blockStaticIps: (ips: StaticIps) =>
      run(
        "blockStaticIps",
        `static ${ips.dstIps.join(",")}`,
        undefined,
        () =>
          ips.dstIps.map((entry): StaticIpOutcome => {
            device.holdStatic(entry);
            return { entry, ok: true };
          }),
      ),
    unblockStaticIps: (ips: StaticIps) =>
      run(
        "unblockStaticIps",
        `static ${ips.dstIps.join(",")}`,
        undefined,
        () =>
          ips.dstIps.map((entry): StaticIpOutcome => {
            device.releaseStatic(entry);
            return { entry, ok: true };
          }),
      ),
    listStaticIps: () =>
      run("listStaticIps", "static entries", undefined, () => [...device.enforced("static")]),
    list: () => run("list", "every element", undefined, () => device.list()),
    removeElements: (elements: readonly EnforcedElement[]) =>
      run(
        "removeElements",
        `${elements.length} elements`,
        undefined,
        () =>
          elements.map(({ element, kind }) => {
            if (kind === "static") device.releaseStatic(element);
            else device.release(element);
            return element;
          }),
      ),
    close: () => Promise.resolve(),
  };
}

/** The `test_client` definition: in-memory blocking for engine tests and the demo. */
export const testClient = {
  name: "test_client",
  aliases: [],
  tagName: "Test Client",
  routingKey: "test_client",
  keys: [
    {
      key: "TEST_CLIENT_DETERMINISTIC",
      default: "false",
      help: "true: element ids derived from the entity (host-<id>-<ip>, account-<id>, " +
        "detection-<id>) instead of random UUIDs; for tests.",
    },
    {
      key: "TEST_CLIENT_FAIL_OPERATIONS",
      default: "",
      help: "Test aid: operations that always fail, e.g. blockHost,unblockAccount. " +
        "Leave empty in production.",
    },
  ],
  configSchema: TestClientConfig,
  secrets: () => [],
  create: (config: TestClientConfig) => createTestClient({ ...config, readBack: false }),
} satisfies ClientDefinition<TestClientConfig>;
