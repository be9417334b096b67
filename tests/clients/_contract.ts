/**
 * The contract every vendor client passes (style.md, "One contract, every client";
 * engine.md §10.3). Not a `_test.ts` file: it runs only through the vendors' tests.
 *
 * A vendor test calls {@linkcode runClientContract} with a `start` factory. The suite calls
 * `start()` once per case, so every case gets a fresh fake device and a fresh client, and
 * `close()`s the harness in a `finally`. Effects are checked in the fake's state
 * ({@linkcode ContractHarness.enforced}), never on the client's word, and element ids are
 * compared as sets.
 *
 * Cases for an operation the client does not declare in `supports` are registered as
 * ignored steps whose name carries the reason
 * (`blockAccount() … — ignored: fortinet does not support accounts`).
 *
 * @example
 * ```ts
 * Deno.test("fortinet client", async (t) => {
 *   await runClientContract(t, { start: startFortinetWithFake });
 *   await t.step("blockHost() adopts an object a crashed run left", async () => {
 *     // ...
 *   });
 * });
 * ```
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  ClientError,
  type EnforcedElement,
  type Operation,
  type ResponseClient,
  type StaticIpOutcome,
} from "../../engine/client.ts";
import type { Account, Detection, Host, StaticIps } from "../../engine/model.ts";

/** What the device can enforce, as the harness reports it. */
export type EnforcedKind = "host" | "account" | "detection" | "static";

/** The name prefix of the objects var creates for each kind on an object firewall. */
export const OBJECT_PREFIX: Readonly<Record<EnforcedKind, string>> = {
  host: "var-host-",
  account: "var-account-",
  detection: "var-detection-",
  static: "var-static-",
};

/** `<group>/<name>` of each member of the groups that is var's object for `kind`. */
export function groupMembersOf(
  groups: Iterable<readonly [string, Iterable<string>]>,
  kind: EnforcedKind,
): Set<string> {
  const found = new Set<string>();
  for (const [group, members] of groups) {
    for (const name of members) {
      if (name.startsWith(OBJECT_PREFIX[kind])) found.add(`${group}/${name}`);
    }
  }
  return found;
}

/**
 * The entities the suite blocks and unblocks. Every `start()` must return equal samples:
 * the suite compares two fresh harnesses to check that names are deterministic.
 * `tests/clients/_entities.ts` builds them.
 */
export interface ContractSamples {
  /** A host with an IP (and a MAC) the client can block. */
  readonly host: Host;
  /** The same host after it moved (same id, new IP). Required when `groomHost` is supported. */
  readonly movedHost?: Host;
  /** An account the client can block. */
  readonly account: Account;
  /** A detection with at least one destination the client can block. */
  readonly detection: Detection;
  /**
   * Two or more static destination entries (addresses and/or networks, normalised).
   * Used only when the client supports static IPs; otherwise `{ dstIps: [] }` will do.
   */
  readonly staticIps: StaticIps;
}

/**
 * Scripted failures of the fake. Each one stays in force until the end of the case (the
 * harness is closed afterwards), so retries inside the client cannot recover from it.
 */
export interface ContractFaults {
  /**
   * Every further call fails on the device's side: an HTTP 5xx for an API (e.g. 503 on
   * every attempt), a non-zero exit for a command.
   */
  serverError(): void | Promise<void>;
  /**
   * The device cannot be reached or never answers in time: the server is shut down or
   * stalls, the command hangs past its timeout. The harness must configure the client
   * with short timeouts and retry delays so a case stays well under a few seconds.
   */
  down(): void | Promise<void>;
}

/**
 * One fresh client and its fake device. The harness owns both: `close()` closes the
 * client (`client.close?.()`) and shuts the fake down, and must be safe after a fault.
 */
export interface ContractHarness {
  /** The client under test, created for this case. */
  readonly client: ResponseClient;
  /** The entities to act on; equal across `start()` calls. */
  readonly samples: ContractSamples;
  /**
   * What the fake device enforces now for a kind, read from the fake's own state (not
   * through the client): the names of the objects, members or registrations it holds,
   * e.g. `var-h-10.1.2.3` in the internal address group. Empty before any block. Must
   * work after a fault (read the fake's memory, not its API).
   */
  enforced(kind: EnforcedKind): Promise<ReadonlySet<string>>;
  /**
   * Deletes on the device, behind the client's back, everything it enforces for a kind
   * (an administrator removed the object), so the next unblock finds it already gone.
   */
  vanish(kind: EnforcedKind): Promise<void>;
  /** Failure scripts; see {@linkcode ContractFaults}. */
  readonly faults: ContractFaults;
  /**
   * A second client on the same fake device(s), as the next run (or the run after a crash)
   * creates it; the harness closes it.
   */
  another(): Promise<ResponseClient>;
  /** Closes the client and shuts the fake down. */
  close(): Promise<void>;
}

/** Two fake devices and one client configured with both. */
export interface TwoDeviceHarness extends ContractHarness {
  /** What device 0 or 1 enforces now for a kind, from the fake's own state. */
  enforcedOn(device: 0 | 1, kind: EnforcedKind): Promise<ReadonlySet<string>>;
  /** From now on the second device fails every call (an HTTP 5xx, or a refused connection). */
  failSecond(): void | Promise<void>;
  /** From now on the second device answers every call `ms` late, below the client's timeout. */
  slowSecond(ms: number): void | Promise<void>;
}

/** Options for {@linkcode runClientContract}. */
export interface ClientContractOptions {
  /** Starts a fresh fake device and a client connected to it; called once per case. */
  start: () => Promise<ContractHarness>;
  /**
   * Starts two fake devices and a client driving both, once per multi-device case; or why
   * the client has no second device (`external_call runs one command`).
   */
  startTwo: (() => Promise<TwoDeviceHarness>) | { readonly none: string };
  /**
   * Cases this client is known to fail today, by the start of the case's name, each with
   * the issue that fixes it: the case is registered as ignored with that reason, never
   * weakened.
   */
  known?: Readonly<Record<string, string>>;
}

/** One contract case: its name, why it does not apply (or null), and what it checks. */
export interface ContractCase {
  readonly name: string;
  readonly skip: string | null;
  readonly run: () => Promise<void>;
}

/** The entity kinds with their block, unblock and sample names. */
interface KindCase {
  readonly kind: "host" | "account" | "detection";
  readonly block: "blockHost" | "blockAccount" | "blockDetection";
  readonly unblock: "unblockHost" | "unblockAccount" | "unblockDetection";
  /** Plural used in "does not support …". */
  readonly plural: string;
}

const KIND_CASES: readonly KindCase[] = [
  { kind: "host", block: "blockHost", unblock: "unblockHost", plural: "hosts" },
  { kind: "account", block: "blockAccount", unblock: "unblockAccount", plural: "accounts" },
  {
    kind: "detection",
    block: "blockDetection",
    unblock: "unblockDetection",
    plural: "detections",
  },
];

/** Calls the block operation of a kind with the matching sample. */
function block(h: ContractHarness, kind: KindCase["kind"]): Promise<string[]> {
  const { client, samples } = h;
  switch (kind) {
    case "host":
      return call(client.blockHost, client, "blockHost")(samples.host);
    case "account":
      return call(client.blockAccount, client, "blockAccount")(samples.account);
    case "detection":
      return call(client.blockDetection, client, "blockDetection")(samples.detection);
  }
}

/** Calls the unblock operation of a kind with the matching sample and recorded ids. */
function unblock(
  h: ContractHarness,
  kind: KindCase["kind"],
  recorded: readonly string[],
): Promise<string[]> {
  const { client, samples } = h;
  switch (kind) {
    case "host":
      return call(client.unblockHost, client, "unblockHost")(samples.host, recorded);
    case "account":
      return call(client.unblockAccount, client, "unblockAccount")(samples.account, recorded);
    case "detection":
      return call(client.unblockDetection, client, "unblockDetection")(
        samples.detection,
        recorded,
      );
  }
}

/** Binds an optional operation to its client, failing the case when it is absent. */
function call<A extends unknown[], R>(
  method: ((...args: A) => Promise<R>) | undefined,
  client: ResponseClient,
  operation: Operation,
): (...args: A) => Promise<R> {
  assert.ok(method, `${client.name} declares ${operation} in supports but does not implement it`);
  return method.bind(client);
}

/** Starts a harness, runs `fn`, and closes the harness whatever happens. */
async function withHarness(
  start: () => Promise<ContractHarness>,
  fn: (h: ContractHarness) => Promise<void>,
): Promise<void> {
  const h = await start();
  try {
    await fn(h);
  } finally {
    await h.close();
  }
}

/** Asserts that ids is a non-empty array of non-empty strings without duplicates. */
function assertIds(ids: unknown, what: string): asserts ids is string[] {
  assert.ok(Array.isArray(ids), `${what} must return an array, got ${JSON.stringify(ids)}`);
  assert.ok(ids.length > 0, `${what} must return at least one element id`);
  for (const id of ids) {
    assert.equal(typeof id, "string", `${what} returned a non-string id ${JSON.stringify(id)}`);
    assert.ok((id as string).length > 0, `${what} returned an empty id`);
    assert.equal(id, (id as string).trim(), `${what} returned an id with spaces around it`);
  }
  assert.equal(new Set(ids).size, ids.length, `${what} returned duplicate ids`);
}

/** Asserts that a promise rejects with a ClientError naming the client and operation. */
async function assertClientError(
  promise: Promise<unknown>,
  client: ResponseClient,
  operation: Operation,
): Promise<void> {
  let result: unknown;
  try {
    result = await promise;
  } catch (error) {
    assert.ok(
      error instanceof ClientError,
      `${operation}() must throw a ClientError, threw ${String(error)}`,
    );
    assert.equal(error.client, client.name);
    assert.equal(error.operation, operation);
    assert.ok(error.message.length > 0, "the ClientError needs a message");
    return;
  }
  assert.fail(`${operation}() must throw a ClientError, but returned ${JSON.stringify(result)}`);
}

/** Asserts the outcomes cover exactly the given entries and are all ok. */
function assertAllOk(outcomes: StaticIpOutcome[], entries: readonly string[], what: string) {
  assert.ok(Array.isArray(outcomes), `${what} must return one outcome per entry`);
  assert.deepEqual(
    new Set(outcomes.map((o) => o.entry)),
    new Set(entries),
    `${what} must return one outcome per entry`,
  );
  assert.equal(outcomes.length, entries.length, `${what} must return one outcome per entry`);
  for (const outcome of outcomes) {
    assert.equal(outcome.ok, true, `${what} failed for ${outcome.entry}: ${outcome.error}`);
  }
}

/** Host addresses no client may send to a device: each must be a ClientError. */
const UNUSABLE_HOST_ADDRESSES: readonly (string | null)[] = [
  null,
  "",
  "0.0.0.0/0",
  "10.0.0.0/8",
  "0.0.0.0",
  "255.255.255.255",
  "224.0.0.1",
  "127.0.0.1",
  "::1",
  "ward-3-pc",
];

/** A step that is either run or ignored with the reason in its name. */
async function step(
  t: Deno.TestContext,
  name: string,
  missing: string | null,
  fn: () => Promise<void>,
): Promise<void> {
  if (missing === null) {
    await t.step({ name, fn });
  } else {
    await t.step({ name: `${name} — ignored: ${missing}`, ignore: true, fn });
  }
}

/**
 * Runs the shared client contract as steps of `t`. Returns when every step has finished;
 * a failing step fails the enclosing test.
 */
export async function runClientContract(
  t: Deno.TestContext,
  options: ClientContractOptions,
): Promise<void> {
  for (const c of await contractCases(options)) {
    const known = Object.entries(options.known ?? {}).find(([prefix]) => c.name.startsWith(prefix));
    await step(t, c.name, c.skip ?? (known ? `known to fail: ${known[1]}` : null), c.run);
  }
  await runBaseContract(t, options);
}

/** What a client declares: its name and the operations it supports. */
async function declared(
  start: () => Promise<ContractHarness>,
): Promise<{ name: string; supports: ReadonlySet<Operation> }> {
  let name = "";
  let supports: ReadonlySet<Operation> = new Set();
  await withHarness(start, (h) => {
    name = h.client.name;
    supports = new Set(h.client.supports);
    return Promise.resolve();
  });
  return { name, supports };
}

/**
 * The cases on several devices, adopted blocks, hosts without an address and elements
 * removed out of band, as plain functions: `runClientContract` runs them as steps, and
 * `contract_test.ts` runs them against a broken client to show that each can fail.
 */
export async function contractCases(options: ClientContractOptions): Promise<ContractCase[]> {
  const { start, startTwo } = options;
  const { name, supports } = await declared(start);
  const cases: ContractCase[] = [];
  const twoDevices = "none" in startTwo ? null : startTwo;
  const single = "none" in startTwo ? startTwo.none : null;
  const withTwo = async (fn: (h: TwoDeviceHarness) => Promise<void>) => {
    const h = await twoDevices!();
    try {
      await fn(h);
    } finally {
      await h.close();
    }
  };
  const lacking = (op: Operation, what: string) =>
    supports.has(op) ? null : `${name} does not support ${what}`;

  cases.push({
    name: "blockHost() refuses a host without one usable address with a ClientError naming it",
    skip: lacking("blockHost", "hosts"),
    run: () =>
      withHarness(start, async (h) => {
        const blockHost = call(h.client.blockHost, h.client, "blockHost");
        for (const ip of UNUSABLE_HOST_ADDRESSES) {
          const host: Host = { ...h.samples.host, ip };
          await assert.rejects(
            () => blockHost(host),
            (error: unknown) =>
              error instanceof ClientError && error.operation === "blockHost" &&
              error.message.includes(`host ${host.id}`) && error.message.includes(host.name),
            `blockHost() of a host with address ${JSON.stringify(ip)} must throw a ClientError`,
          );
        }
        assert.equal((await h.enforced("host")).size, 0, "the device must enforce nothing");
      }),
  });

  for (const k of KIND_CASES) {
    const skip = lacking(k.block, k.plural);
    cases.push({
      name: `${k.block}() with two devices, one failing every call, throws a ClientError and ` +
        "leaves the healthy device as it was",
      skip: skip ?? single,
      run: () =>
        withTwo(async (h) => {
          await h.failSecond();
          await assertClientError(block(h, k.kind), h.client, k.block);
          assert.deepEqual(
            new Set(await h.enforcedOn(0, k.kind)),
            new Set(),
            "a partial block must be rolled back on the healthy device",
          );
        }),
    });
    cases.push({
      name: `${k.block}() with two devices, one slow, blocks on both`,
      skip: skip ?? single,
      run: () =>
        withTwo(async (h) => {
          await h.slowSecond(150);
          assertIds(await block(h, k.kind), `${k.block}()`);
          for (const device of [0, 1] as const) {
            assert.ok((await h.enforcedOn(device, k.kind)).size > 0, `device ${device} enforces`);
          }
        }),
    });
    cases.push({
      name:
        `${k.block}() adopts the block a crashed run left: same ids, nothing more on the device`,
      skip,
      run: () =>
        withHarness(start, async (h) => {
          const first = await block(h, k.kind);
          const enforced = new Set(await h.enforced(k.kind));
          const next = await h.another();
          const again = await block({ ...h, client: next }, k.kind);
          assertIds(again, `${k.block}() on a fresh client`);
          assert.deepEqual(new Set(again), new Set(first));
          assert.deepEqual(new Set(await h.enforced(k.kind)), enforced);
        }),
    });
    cases.push({
      name: `${k.block}() enforces the block again after it was removed out of band`,
      skip,
      run: () =>
        withHarness(start, async (h) => {
          const first = await block(h, k.kind);
          const enforced = new Set(await h.enforced(k.kind));
          await h.vanish(k.kind);
          assert.equal((await h.enforced(k.kind)).size, 0, "the harness must remove the block");
          if (h.client.supports.has("list")) {
            const listed = await call(h.client.list, h.client, "list")();
            const still = listed.filter((e) => e.kind === k.kind && !e.partial);
            assert.deepEqual(still, [], "list() must not report a block that is gone");
          }
          const again = await block(h, k.kind);
          assert.deepEqual(new Set(again), new Set(first));
          assert.deepEqual(new Set(await h.enforced(k.kind)), enforced);
        }),
    });
  }
  return cases;
}

/** The cases every client ran before {@linkcode contractCases}. */
async function runBaseContract(
  t: Deno.TestContext,
  options: ClientContractOptions,
): Promise<void> {
  const { start } = options;
  const { name, supports } = await declared(start);
  const lacks = (ops: readonly Operation[], what: string): string | null => {
    const absent = ops.filter((op) => !supports.has(op));
    return absent.length === 0 ? null : `${name} does not support ${what}`;
  };

  await t.step("the client names itself and declares what it supports", async () => {
    await withHarness(start, (h) => {
      const { client } = h;
      assert.ok(client.name.length > 0, "name must be non-empty");
      assert.ok(client.tagName.length > 0, "tagName must be non-empty");
      assert.ok(!client.tagName.includes(":"), "tagName must not contain ':'");
      assert.ok(client.routingKey.length > 0, "routingKey must be non-empty");
      for (const op of client.supports) {
        assert.equal(
          typeof (client as unknown as Record<string, unknown>)[op],
          "function",
          `${op} is declared in supports but not implemented`,
        );
      }
      return Promise.resolve();
    });
  });

  for (const k of KIND_CASES) {
    const both = lacks([k.block, k.unblock], k.plural);
    const blockOnly = lacks([k.block], k.plural);

    await step(
      t,
      `${k.block}() returns non-empty string ids and the device enforces the block`,
      blockOnly,
      () =>
        withHarness(start, async (h) => {
          assert.equal((await h.enforced(k.kind)).size, 0, "the fake must start empty");
          const ids = await block(h, k.kind);
          assertIds(ids, `${k.block}()`);
          assert.ok((await h.enforced(k.kind)).size > 0, "the device enforces nothing");
        }),
    );

    await step(
      t,
      `${k.block}() twice returns the same ids and changes nothing more on the device`,
      blockOnly,
      () =>
        withHarness(start, async (h) => {
          const first = await block(h, k.kind);
          const enforced = new Set(await h.enforced(k.kind));
          const second = await block(h, k.kind);
          assertIds(second, `${k.block}() of a blocked ${k.kind}`);
          assert.deepEqual(new Set(second), new Set(first));
          assert.deepEqual(new Set(await h.enforced(k.kind)), enforced);
        }),
    );

    await step(
      t,
      `${k.block}() gives the same ids and object names on a fresh client and device`,
      blockOnly,
      async () => {
        const runs: { ids: Set<string>; enforced: Set<string> }[] = [];
        for (let i = 0; i < 2; i++) {
          await withHarness(start, async (h) => {
            const ids = new Set(await block(h, k.kind));
            runs.push({ ids, enforced: new Set(await h.enforced(k.kind)) });
          });
        }
        assert.deepEqual(runs[1]?.ids, runs[0]?.ids, "element ids are not deterministic");
        assert.deepEqual(
          runs[1]?.enforced,
          runs[0]?.enforced,
          "object names on the device are not deterministic",
        );
      },
    );

    await step(
      t,
      `${k.unblock}() returns the recorded ids and removes the block from the device`,
      both,
      () =>
        withHarness(start, async (h) => {
          const ids = await block(h, k.kind);
          const removed = await unblock(h, k.kind, ids);
          assert.deepEqual(new Set(removed), new Set(ids));
          assert.deepEqual(new Set(await h.enforced(k.kind)), new Set());
        }),
    );

    await step(
      t,
      `${k.unblock}() twice succeeds both times`,
      both,
      () =>
        withHarness(start, async (h) => {
          const ids = await block(h, k.kind);
          await unblock(h, k.kind, ids);
          const again = await unblock(h, k.kind, ids);
          assert.deepEqual(new Set(again), new Set(ids), "already gone counts as removed");
          assert.deepEqual(new Set(await h.enforced(k.kind)), new Set());
        }),
    );

    await step(
      t,
      `${k.unblock}() succeeds when the element was already deleted on the device`,
      both,
      () =>
        withHarness(start, async (h) => {
          const ids = await block(h, k.kind);
          await h.vanish(k.kind);
          assert.equal((await h.enforced(k.kind)).size, 0, "vanish() must empty the device");
          const removed = await unblock(h, k.kind, ids);
          assert.deepEqual(new Set(removed), new Set(ids), "already gone counts as removed");
        }),
    );

    await step(
      t,
      `${k.block}() after blocking again once unblocked enforces the block again`,
      both,
      () =>
        withHarness(start, async (h) => {
          const ids = await block(h, k.kind);
          const enforced = new Set(await h.enforced(k.kind));
          await unblock(h, k.kind, ids);
          const again = await block(h, k.kind);
          assertIds(again, `${k.block}() after an unblock`);
          assert.deepEqual(new Set(again), new Set(ids));
          assert.deepEqual(new Set(await h.enforced(k.kind)), enforced);
        }),
    );

    await step(
      t,
      `${k.block}() throws a ClientError when the device fails every call`,
      blockOnly,
      () =>
        withHarness(start, async (h) => {
          await h.faults.serverError();
          await assertClientError(block(h, k.kind), h.client, k.block);
        }),
    );

    await step(
      t,
      `${k.block}() throws a ClientError when the device is down`,
      blockOnly,
      () =>
        withHarness(start, async (h) => {
          await h.faults.down();
          await assertClientError(block(h, k.kind), h.client, k.block);
        }),
    );

    await step(
      t,
      `${k.unblock}() throws a ClientError when the device fails every call`,
      both,
      () =>
        withHarness(start, async (h) => {
          const ids = await block(h, k.kind);
          await h.faults.serverError();
          await assertClientError(unblock(h, k.kind, ids), h.client, k.unblock);
        }),
    );

    await step(
      t,
      `${k.unblock}() throws a ClientError when the device is down`,
      both,
      () =>
        withHarness(start, async (h) => {
          const ids = await block(h, k.kind);
          await h.faults.down();
          await assertClientError(unblock(h, k.kind, ids), h.client, k.unblock);
        }),
    );
  }

  const groom = lacks(["blockHost", "groomHost"], "grooming");
  await step(
    t,
    "groomHost() reports no change for a host that kept its IP",
    groom,
    () =>
      withHarness(start, async (h) => {
        const groomHost = call(h.client.groomHost, h.client, "groomHost");
        const ids = await block(h, "host");
        const enforced = new Set(await h.enforced("host"));
        const result = await groomHost(h.samples.host, ids);
        assert.deepEqual(result, { changed: false });
        assert.deepEqual(new Set(await h.enforced("host")), enforced);
      }),
  );

  await step(
    t,
    "groomHost() replaces the block of a host that moved and returns old and new ids",
    groom,
    () =>
      withHarness(start, async (h) => {
        const groomHost = call(h.client.groomHost, h.client, "groomHost");
        const moved = h.samples.movedHost;
        assert.ok(moved, "samples.movedHost is required when groomHost is supported");
        const ids = await block(h, "host");
        const before = new Set(await h.enforced("host"));
        const result = await groomHost(moved, ids);
        assert.equal(result.changed, true, "a moved host must be re-blocked");
        if (!result.changed) return;
        assert.deepEqual(new Set(result.unblocked), new Set(ids));
        assertIds(result.blocked, "groomHost()");
        const after = new Set(await h.enforced("host"));
        assert.ok(after.size > 0, "the moved host is no longer blocked on the device");
        assert.notDeepEqual(after, before, "the device still enforces the old block only");
        const again = await groomHost(moved, result.blocked);
        assert.deepEqual(again, { changed: false }, "grooming twice must be a no-op");
      }),
  );

  await step(
    t,
    "groomHost() throws a ClientError when the device fails every call",
    groom,
    () =>
      withHarness(start, async (h) => {
        const groomHost = call(h.client.groomHost, h.client, "groomHost");
        const moved = h.samples.movedHost;
        assert.ok(moved, "samples.movedHost is required when groomHost is supported");
        const ids = await block(h, "host");
        await h.faults.serverError();
        await assertClientError(groomHost(moved, ids), h.client, "groomHost");
      }),
  );

  const statics = lacks(
    ["blockStaticIps", "unblockStaticIps", "listStaticIps"],
    "static destination IPs",
  );
  const staticClient = (h: ContractHarness) => ({
    block: call(h.client.blockStaticIps, h.client, "blockStaticIps"),
    unblock: call(h.client.unblockStaticIps, h.client, "unblockStaticIps"),
    list: call(h.client.listStaticIps, h.client, "listStaticIps"),
  });

  await step(
    t,
    "blockStaticIps(), listStaticIps() and unblockStaticIps() round-trip with per-entry outcomes",
    statics,
    () =>
      withHarness(start, async (h) => {
        const s = staticClient(h);
        const entries = h.samples.staticIps.dstIps;
        assert.ok(entries.length >= 2, "samples.staticIps needs two or more entries");
        assert.deepEqual(new Set(await s.list()), new Set(), "the fake must start empty");
        assertAllOk(await s.block(h.samples.staticIps), entries, "blockStaticIps()");
        assert.deepEqual(new Set(await s.list()), new Set(entries));
        assert.ok((await h.enforced("static")).size > 0, "the device enforces nothing");
        assertAllOk(await s.unblock(h.samples.staticIps), entries, "unblockStaticIps()");
        assert.deepEqual(new Set(await s.list()), new Set());
        assert.deepEqual(new Set(await h.enforced("static")), new Set());
      }),
  );

  await step(
    t,
    "blockStaticIps() and unblockStaticIps() twice succeed and change nothing more",
    statics,
    () =>
      withHarness(start, async (h) => {
        const s = staticClient(h);
        const entries = h.samples.staticIps.dstIps;
        await s.block(h.samples.staticIps);
        const enforced = new Set(await h.enforced("static"));
        assertAllOk(await s.block(h.samples.staticIps), entries, "blockStaticIps() again");
        assert.deepEqual(new Set(await h.enforced("static")), enforced);
        assert.deepEqual(new Set(await s.list()), new Set(entries));
        await s.unblock(h.samples.staticIps);
        assertAllOk(await s.unblock(h.samples.staticIps), entries, "unblockStaticIps() again");
        assert.deepEqual(new Set(await s.list()), new Set());
      }),
  );

  await step(
    t,
    "unblockStaticIps() succeeds for one entry and leaves the others blocked",
    statics,
    () =>
      withHarness(start, async (h) => {
        const s = staticClient(h);
        const entries = h.samples.staticIps.dstIps;
        const [first, ...rest] = entries;
        assert.ok(first !== undefined);
        await s.block(h.samples.staticIps);
        assertAllOk(await s.unblock({ dstIps: [first] }), [first], "unblockStaticIps()");
        assert.deepEqual(new Set(await s.list()), new Set(rest));
      }),
  );

  await step(
    t,
    "unblockStaticIps() succeeds when the entries were already deleted on the device",
    statics,
    () =>
      withHarness(start, async (h) => {
        const s = staticClient(h);
        const entries = h.samples.staticIps.dstIps;
        await s.block(h.samples.staticIps);
        await h.vanish("static");
        assertAllOk(await s.unblock(h.samples.staticIps), entries, "unblockStaticIps()");
        assert.deepEqual(new Set(await s.list()), new Set());
      }),
  );

  await step(
    t,
    "blockStaticIps() reports every entry failed, or throws a ClientError, when the device fails",
    statics,
    () =>
      withHarness(start, async (h) => {
        const s = staticClient(h);
        await h.faults.serverError();
        let outcomes: StaticIpOutcome[];
        try {
          outcomes = await s.block(h.samples.staticIps);
        } catch (error) {
          assert.ok(error instanceof ClientError, `threw ${String(error)}, not a ClientError`);
          assert.equal(error.operation, "blockStaticIps");
          return;
        }
        assert.equal(outcomes.length, h.samples.staticIps.dstIps.length);
        for (const outcome of outcomes) {
          assert.equal(outcome.ok, false, `${outcome.entry} reported blocked on a failing device`);
          assert.ok(outcome.error, `${outcome.entry} failed without saying why`);
        }
      }),
  );

  await step(
    t,
    "listStaticIps() throws a ClientError when the device is down, never an empty list",
    statics,
    () =>
      withHarness(start, async (h) => {
        const s = staticClient(h);
        await s.block(h.samples.staticIps);
        await h.faults.down();
        await assertClientError(s.list(), h.client, "listStaticIps");
      }),
  );

  await step(
    t,
    "list() reports exactly the elements the client blocked, by kind",
    lacks(["list"], "read-back (list)"),
    () =>
      withHarness(start, async (h) => {
        const list = call(h.client.list, h.client, "list");
        assert.deepEqual(await list(), [], "the fake must start empty");
        const expected = new Map<string, Set<string>>();
        for (const k of KIND_CASES) {
          if (!supports.has(k.block)) continue;
          expected.set(k.kind, new Set(await block(h, k.kind)));
        }
        const listed = await list();
        const byKind = new Map<string, Set<string>>();
        for (const element of listed as EnforcedElement[]) {
          const set = byKind.get(element.kind) ?? new Set<string>();
          set.add(element.element);
          byKind.set(element.kind, set);
        }
        for (const [kind, ids] of expected) {
          assert.deepEqual(byKind.get(kind) ?? new Set(), ids, `list() for ${kind}`);
        }
      }),
  );

  await step(
    t,
    "removeElements() removes what list() reports, and succeeds again when already gone",
    lacks(["list", "removeElements"], "drift repair (list and removeElements)"),
    () =>
      withHarness(start, async (h) => {
        const list = call(h.client.list, h.client, "list");
        const remove = call(h.client.removeElements, h.client, "removeElements");
        for (const k of KIND_CASES) if (supports.has(k.block)) await block(h, k.kind);
        const listed = await list();
        assert.ok(listed.length > 0, "list() reports nothing after blocks");
        const removed = await remove(listed);
        assert.deepEqual(new Set(removed), new Set(listed.map((e) => e.element)));
        assert.deepEqual(await list(), []);
        for (const k of KIND_CASES) {
          assert.deepEqual(new Set(await h.enforced(k.kind)), new Set(), `device ${k.kind}`);
        }
        const again = await remove(listed);
        assert.deepEqual(new Set(again), new Set(listed.map((e) => e.element)));
      }),
  );

  await step(
    t,
    "list() throws a ClientError when the device is down, never an empty list",
    lacks(["list"], "read-back (list)"),
    () =>
      withHarness(start, async (h) => {
        const list = call(h.client.list, h.client, "list");
        await h.faults.down();
        await assertClientError(list(), h.client, "list");
      }),
  );
}
