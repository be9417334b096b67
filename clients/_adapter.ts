/**
 * A `ResponseClient` built from a small per-vendor device adapter: the vendor says how to
 * block, unblock and read back address entries on one device, and the kit does the rest —
 * hosts to one usable address, detections to their destinations, recorded ids to entries,
 * the fan-out over every device with rollback of a partial block, per-entry static
 * outcomes, `list()`, `listStaticIps()` and `removeElements()`, and `supports`. Private to
 * `clients/`.
 *
 * @module
 */

import type {
  EnforcedElement,
  Operation,
  ResponseClient,
  StagedChanges,
  StaticIpOutcome,
} from "../engine/client.ts";
import { parseIpOrNetwork } from "../engine/ip.ts";
import type { Detection, Host, StaticIps } from "../engine/model.ts";
import {
  type DeviceAnswer,
  type Failure,
  failuresOf,
  fanOut,
  fanOutError,
  KeyLocks,
  rollBack,
  type Settled,
} from "./_fanout.ts";
import { Batches, type DeviceCommits } from "./_batch.ts";
import { elementsOf, readBack, staticEntriesOf } from "./_readback.ts";
import {
  destinationAddresses,
  hostAddress,
  type Scope,
  staticOutcomes,
  type Target,
  targetsFor,
} from "./_targets.ts";
import { errorText } from "../engine/error_text.ts";

/** Why an action runs: what Vectra recorded, or var taking back its own change. */
export interface ApplyOptions {
  /**
   * True for a block or an unblock the engine asked for; false for a rollback or a removal
   * of elements nothing records (no legacy clean-up then).
   */
  readonly recorded: boolean;
  /**
   * Recorded ids of the scope that are no address (the original framework's object ids),
   * given only to an adapter that declares `legacyIds`; a failed one goes in `failed`
   * under its id.
   */
  readonly legacyIds?: readonly string[];
}

/** What a vendor implements for one kind of device. */
export interface DeviceAdapter<D> {
  /** Module name, e.g. `fortinet`. */
  readonly name: string;
  readonly tagName: string;
  readonly routingKey: string;
  /** Every configured device. */
  readonly devices: readonly D[];
  /** The scopes the vendor blocks. */
  readonly scopes: readonly Scope[];
  /** Names a device in messages. */
  label(device: D): string;
  /** A device's error as a failure. */
  failureOf(error: unknown): Failure;
  /**
   * Blocks or unblocks targets of one scope on one device. A target absent from `failed`
   * is confirmed; `added` lists the targets a block newly put in place. May throw: every
   * target then fails with the error.
   */
  apply(
    device: D,
    action: "block" | "unblock",
    targets: readonly Target[],
    options: ApplyOptions,
  ): Promise<DeviceAnswer>;
  /**
   * The entries var enforces on one device, as `<scope>|<entry>` keys; throws when it
   * cannot tell. Without it, the client offers no read-back.
   */
  read?(device: D, scopes: readonly Scope[]): Promise<Set<string>>;
  /**
   * For devices whose changes take effect only once committed (a management server that
   * publishes and installs policy): `apply` stages, and these make it count. The client
   * then offers `stage()` and `endCycle()`, and each of its own operations commits.
   */
  readonly commits?: DeviceCommits<D>;
  /**
   * True when `apply` takes back recorded ids that are no address (`legacyIds`): the
   * original framework recorded object ids. Otherwise such ids name nothing var made.
   */
  readonly legacyIds?: boolean;
  /** Releases a device's connections. */
  close(device: D): void;
}

/**
 * The client of an adapter that serves every scope with read-back (a firewall): its
 * address operations are all present, so callers need no optional chaining.
 */
export type AddressClient =
  & ResponseClient
  & Required<
    Pick<
      ResponseClient,
      Exclude<Operation, "groomHost" | "blockAccount" | "unblockAccount"> | "close"
    >
  >;

/** The operations of each scope. */
const OPERATIONS: Readonly<Record<Scope, readonly Operation[]>> = {
  host: ["blockHost", "unblockHost"],
  detection: ["blockDetection", "unblockDetection"],
  static: ["blockStaticIps", "unblockStaticIps"],
};

/** How the operations reach a device: the adapter's `apply`, or its staging in a batch. */
type Apply<D> = DeviceAdapter<D>["apply"];

/** The operations of a client; each present when the adapter serves its scope. */
type Operations = Pick<ResponseClient, Exclude<Operation, "listStaticIps" | "list">>;

/** Builds the client of a device adapter. */
export function adapterClient<D>(adapter: DeviceAdapter<D>): ResponseClient {
  const locks = new KeyLocks();
  const supports = new Set<Operation>(adapter.scopes.flatMap((scope) => OPERATIONS[scope]));
  if (adapter.read) {
    if (adapter.scopes.includes("static")) supports.add("listStaticIps");
    supports.add("list");
    supports.add("removeElements");
  }
  const meta = {
    name: adapter.name,
    tagName: adapter.tagName,
    routingKey: adapter.routingKey,
    supports,
  };
  const commits = adapter.commits;
  const client: ResponseClient = {
    ...meta,
    close() {
      for (const device of adapter.devices) adapter.close(device);
      return Promise.resolve();
    },
  };
  const read = adapter.read;
  if (commits === undefined) {
    Object.assign(client, operations(adapter, supports, locks, adapter.apply));
    if (read !== undefined) Object.assign(client, readOperations(adapter, supports, read));
    return client;
  }

  const batches = new Batches(adapter, commits);
  client.stage = (): StagedChanges => {
    const batch = batches.open();
    return {
      client: { ...meta, ...operations(adapter, supports, locks, batch.apply) },
      commit: () => batch.commit(),
      discard: () => batch.discard(),
    };
  };
  client.endCycle = () => batches.endCycle();
  // Each operation of the client itself is a batch of one: staged, then committed (or
  // discarded when it failed).
  const alone =
    <A extends unknown[], R>(pick: (ops: Operations) => ((...args: A) => Promise<R>) | undefined) =>
    async (...args: A): Promise<R> => {
      const batch = batches.open();
      const operation = pick(operations(adapter, supports, locks, batch.apply));
      let result: R;
      try {
        result = await operation!(...args);
      } catch (error) {
        await batch.discard();
        throw error;
      }
      await batch.commit();
      return result;
    };
  for (const operation of supports) {
    if (operation === "list" || operation === "listStaticIps") continue;
    if (operation === "blockStaticIps" || operation === "unblockStaticIps") {
      client[operation] = async (ips: StaticIps) => {
        const batch = batches.open();
        const outcomes = await operations(adapter, supports, locks, batch.apply)[operation]!(ips);
        try {
          await batch.commit();
          return outcomes;
        } catch (error) {
          const message = errorText(error);
          return outcomes.map((o) => o.ok ? { entry: o.entry, ok: false, error: message } : o);
        }
      };
      continue;
    }
    Object.assign(client, {
      [operation]: alone((ops) => ops[operation] as (...args: unknown[]) => Promise<unknown>),
    });
  }
  if (read !== undefined) {
    const reads = readOperations(adapter, supports, read);
    if (reads.list) client.list = () => batches.reading(reads.list!);
    if (reads.listStaticIps) client.listStaticIps = () => batches.reading(reads.listStaticIps!);
  }
  return client;
}

/** The read-back operations of an adapter that can read its devices. */
function readOperations<D>(
  adapter: DeviceAdapter<D>,
  supports: ReadonlySet<Operation>,
  read: NonNullable<DeviceAdapter<D>["read"]>,
): Pick<ResponseClient, "list" | "listStaticIps"> {
  const scopes = adapter.scopes.filter((s) => s !== "static");
  return {
    list: async () => elementsOf(await readBack(adapter, read, "list", scopes)),
    ...(supports.has("listStaticIps")
      ? {
        listStaticIps: async () =>
          staticEntriesOf(await readBack(adapter, read, "listStaticIps", ["static"])),
      }
      : {}),
  };
}

/** The block, unblock and removal operations, reaching each device through `apply`. */
function operations<D>(
  adapter: DeviceAdapter<D>,
  supports: ReadonlySet<Operation>,
  locks: KeyLocks,
  apply: Apply<D>,
): Operations {
  const { name } = adapter;
  const targetsOf = (operation: Operation, what: string, scope: Scope, ids: readonly string[]) =>
    targetsFor(name, operation, what, scope, ids);

  const spread = (
    targets: readonly Target[],
    action: "block" | "unblock",
    options: ApplyOptions,
  ): Promise<Settled<D>[]> =>
    fanOut(
      adapter.devices,
      [...targets.map((t) => t.key), ...(options.legacyIds ?? [])],
      (device) => apply(device, action, targets, options),
      (error) => adapter.failureOf(error),
    );

  const failures = (settled: readonly Settled<D>[]) =>
    failuresOf(settled, (device) => adapter.label(device));

  /** Takes back, where a fan-out newly added them, the targets some device did not confirm. */
  const takeBack = (settled: readonly Settled<D>[], targets: readonly Target[]) => {
    const failedKeys = new Set(settled.flatMap(({ answer }) => [...answer.failed.keys()]));
    const partial = settled.map(({ device, answer }) => ({
      device,
      answer: { ...answer, added: new Set([...answer.added].filter((k) => failedKeys.has(k))) },
    }));
    return rollBack(partial, async (device, keys) => {
      const undo = targets.filter((t) => keys.includes(t.key));
      const answer = await apply(device, "unblock", undo, { recorded: false });
      const left = [...answer.failed.values()];
      if (left.length > 0) throw new Error(left.map((f) => f.message).join("; "));
    }, (device) => adapter.label(device));
  };

  /** Blocks or unblocks on every device; throws one ClientError unless every one confirmed. */
  const applyAll = async (
    action: "block" | "unblock",
    operation: Operation,
    what: string,
    targets: readonly Target[],
    legacyIds: readonly string[] = [],
  ): Promise<void> => {
    if (targets.length === 0 && legacyIds.length === 0) return;
    const keys = [...targets.map((t) => `${t.scope}|${t.key}`), ...legacyIds];
    await locks.with(keys, async () => {
      const options = legacyIds.length > 0 ? { recorded: true, legacyIds } : { recorded: true };
      const settled = await spread(targets, action, options);
      const failed = failures(settled);
      if (failed.length === 0) return;
      // A block some device refused is taken back where it was accepted.
      const rolledBack = action === "block" && await takeBack(settled, targets);
      throw fanOutError(name, operation, `Cannot ${action} ${what} on ${name}`, failed, rolledBack);
    });
  };

  /** Unblocks recorded ids; an id that is no address names nothing var made. Returns them all. */
  const unblockRecorded = async (
    operation: Operation,
    what: string,
    scope: Scope,
    recorded: readonly string[],
  ): Promise<string[]> => {
    const valid = recorded.filter((id) => parseIpOrNetwork(id).ok);
    const legacy = adapter.legacyIds ? recorded.filter((id) => !valid.includes(id)) : [];
    await applyAll("unblock", operation, what, targetsOf(operation, what, scope, valid), legacy);
    return [...recorded];
  };

  /** Per-entry outcomes: an entry is ok only when every device confirmed it. */
  const staticOperation = async (
    action: "block" | "unblock",
    ips: StaticIps,
  ): Promise<StaticIpOutcome[]> => {
    const operation: Operation = action === "block" ? "blockStaticIps" : "unblockStaticIps";
    const invalid = new Map<string, string>();
    const valid: string[] = [];
    for (const entry of ips.dstIps) {
      const parsed = parseIpOrNetwork(entry);
      if (parsed.ok) valid.push(entry);
      else invalid.set(entry, `Cannot ${action} static destination on ${name}: ${parsed.reason}`);
    }
    const targets = targetsOf(operation, "static destinations", "static", valid);
    // An entry some device refused is taken back where it was accepted: absent everywhere,
    // it is not listed, so the next cycle blocks it again on every device.
    const settled = targets.length === 0 ? [] : await locks.with(
      targets.map((t) => `static|${t.key}`),
      async () => {
        const settled = await spread(targets, action, { recorded: true });
        if (action === "block") await takeBack(settled, targets);
        return settled;
      },
    );
    return staticOutcomes(
      name,
      action,
      ips.dstIps,
      invalid,
      targets,
      settled,
      (device) => adapter.label(device),
    );
  };

  const ops: Operations = {};
  if (supports.has("blockHost")) {
    ops.blockHost = async (host: Host) => {
      const what = `host ${host.id} (${host.name})`;
      const address = hostAddress(name, "blockHost", host);
      const targets = targetsOf("blockHost", what, "host", [address]);
      await applyAll("block", "blockHost", what, targets);
      return targets.map((t) => t.key);
    };
    ops.unblockHost = (host: Host, recorded: readonly string[]) =>
      unblockRecorded("unblockHost", `host ${host.id} (${host.name})`, "host", recorded);
  }
  if (supports.has("blockDetection")) {
    ops.blockDetection = async (detection: Detection) => {
      const what = `detection ${detection.id}`;
      const targets = targetsOf(
        "blockDetection",
        what,
        "detection",
        destinationAddresses(detection),
      );
      await applyAll("block", "blockDetection", what, targets);
      return targets.map((t) => t.key);
    };
    ops.unblockDetection = (detection: Detection, recorded: readonly string[]) =>
      unblockRecorded("unblockDetection", `detection ${detection.id}`, "detection", recorded);
  }
  if (supports.has("blockStaticIps")) {
    ops.blockStaticIps = (ips: StaticIps) => staticOperation("block", ips);
    ops.unblockStaticIps = (ips: StaticIps) => staticOperation("unblock", ips);
  }
  if (supports.has("removeElements")) {
    // Returns the ids every device confirmed removed; throws when none could be.
    ops.removeElements = async (elements: readonly EnforcedElement[]) => {
      const confirmed: string[] = [];
      const failed: Failure[] = [];
      for (const scope of adapter.scopes) {
        const ids = elements.filter((e) => e.kind === scope).map((e) => e.element);
        const valid = ids.filter((id) => parseIpOrNetwork(id).ok);
        confirmed.push(...ids.filter((id) => !valid.includes(id)));
        const targets = targetsOf("removeElements", "stray elements", scope, valid);
        if (targets.length === 0) continue;
        const settled = await spread(targets, "unblock", { recorded: false });
        failed.push(...failures(settled));
        for (const target of targets) {
          if (settled.every(({ answer }) => !answer.failed.has(target.key))) {
            confirmed.push(...target.given);
          }
        }
      }
      if (failed.length > 0 && confirmed.length === 0) {
        throw fanOutError(
          name,
          "removeElements",
          `Cannot remove stray elements on ${name}`,
          failed,
        );
      }
      return confirmed;
    };
  }
  return ops;
}
