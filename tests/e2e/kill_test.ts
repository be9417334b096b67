/**
 * Crash consistency (issue 6): `deno run -P main.ts run` is killed with SIGKILL at every
 * step boundary of a block and of an unblock (a proxy holds the request of that step
 * before or after the fake handled it), the next cycle runs to completion, and the brain's
 * tags and the fake FortiGate's objects and group members must be exactly the intended
 * ones: no orphaned object, no lost block, no `VAR Pending:` tag left, and a third cycle
 * changes nothing.
 */

import assert from "node:assert/strict";
import { VAR_COMMENT_MARK } from "../../clients/fortinet.ts";
import {
  emitFigures,
  type Hold,
  type HoldMatch,
  type HoldPhase,
  hostObject,
  internalMembers,
  notesStarting,
  pool,
  seed,
  startWorld,
  varObjects,
  withTranscript,
  type World,
} from "./_harness.ts";

const HOST = "ward-3-pc";
const IP = "10.20.0.7";
const BLOCK_TAG = "vectra_host_block";
const ANALYST_TAG = "ward-3";
const ELEMENT = `VAR ID:Fortinet Client:${IP}`;
const BLOCKED_TAGS = [ANALYST_TAG, BLOCK_TAG, "VAR Host Blocked", ELEMENT];

/** Where a kill lands: which proxy, which request, and before or after the fake answered. */
interface KillPoint {
  readonly name: string;
  readonly proxy: "brain" | "forti";
  readonly match: HoldMatch;
  readonly phase: HoldPhase;
}

/** v2.5 records an intent with the bulk tag call, a block's and an unblock's alike. */
const INTENT_WRITE = { method: "POST", path: /\/tagging\/host$/, nth: 1 };
/** A block's state, written in bulk: the marker (2nd POST), its VAR ID tag (3rd POST). */
const MARKER_ADD = { method: "POST", path: /\/tagging\/host$/, nth: 2 };
const ELEMENT_ADD = { method: "POST", path: /\/tagging\/host$/, nth: 3 };
const INTENT_REMOVE = { method: "DELETE", path: /\/tagging\/host$/, nth: 1 };
/** An unblock's state, removed in bulk: its VAR ID tag, the marker, then the intent. */
const ELEMENT_REMOVE = { method: "DELETE", path: /\/tagging\/host$/, nth: 1 };
const MARKER_REMOVE = { method: "DELETE", path: /\/tagging\/host$/, nth: 2 };
const UNBLOCK_INTENT_REMOVE = { method: "DELETE", path: /\/tagging\/host$/, nth: 3 };
const NOTE = { method: "POST", path: /\/hosts\/\d+\/notes$/ };
const GROUP_READ = { method: "GET", path: /\/addrgrp\/Internal-Block$/ };
const OBJECT_CREATE = { method: "POST", path: /\/firewall\/address$/ };
const MEMBER_ADD = { method: "POST", path: /\/addrgrp\/Internal-Block\/member$/ };
const MEMBER_REMOVE = { method: "DELETE", path: /\/addrgrp\/Internal-Block\/member\/[^/]+$/ };
const OBJECT_DELETE = { method: "DELETE", path: /\/firewall\/address\/[^/]+$/ };
const HOST_READ = { method: "GET", path: /\/hosts$/ };

function point(
  name: string,
  proxy: "brain" | "forti",
  match: HoldMatch,
  phase: HoldPhase,
): KillPoint {
  return { name, proxy, match, phase };
}

/** The step boundaries of a block, in the order var crosses them. */
const BLOCK_POINTS: readonly KillPoint[] = [
  point("block: while reading Vectra", "brain", HOST_READ, "before"),
  point("block: before the intent tag write", "brain", INTENT_WRITE, "before"),
  point("block: after the intent tag write, before the firewall", "brain", INTENT_WRITE, "after"),
  point("block: while reading the address group", "forti", GROUP_READ, "before"),
  point("block: during the object create", "forti", OBJECT_CREATE, "before"),
  point("block: after the object create, before the member add", "forti", OBJECT_CREATE, "after"),
  point("block: during the member add", "forti", MEMBER_ADD, "before"),
  point("block: after the member add, before var sees the answer", "forti", MEMBER_ADD, "after"),
  point("block: before the marker write", "brain", MARKER_ADD, "before"),
  point("block: before the VAR ID tag write", "brain", ELEMENT_ADD, "before"),
  point(
    "block: after the VAR ID tag write, before var sees the answer",
    "brain",
    ELEMENT_ADD,
    "after",
  ),
  point("block: before the intent removal", "brain", INTENT_REMOVE, "before"),
  point(
    "block: after the intent removal, before var sees the answer",
    "brain",
    INTENT_REMOVE,
    "after",
  ),
  point("block: before the note", "brain", NOTE, "before"),
  point("block: after the note, before var sees the answer", "brain", NOTE, "after"),
];

/** The step boundaries of an unblock. */
const UNBLOCK_POINTS: readonly KillPoint[] = [
  point("unblock: before the intent tag write", "brain", INTENT_WRITE, "before"),
  point("unblock: after the intent tag write, before the firewall", "brain", INTENT_WRITE, "after"),
  point("unblock: while reading the address group", "forti", GROUP_READ, "before"),
  point("unblock: during the member removal", "forti", MEMBER_REMOVE, "before"),
  point(
    "unblock: after the member removal, before the object delete",
    "forti",
    MEMBER_REMOVE,
    "after",
  ),
  point("unblock: during the object delete", "forti", OBJECT_DELETE, "before"),
  point(
    "unblock: after the object delete, before var sees the answer",
    "forti",
    OBJECT_DELETE,
    "after",
  ),
  point("unblock: before the VAR ID tag removal", "brain", ELEMENT_REMOVE, "before"),
  point("unblock: before the marker removal", "brain", MARKER_REMOVE, "before"),
  point("unblock: before the intent removal", "brain", UNBLOCK_INTENT_REMOVE, "before"),
  point(
    "unblock: after the intent removal, before var sees the answer",
    "brain",
    UNBLOCK_INTENT_REMOVE,
    "after",
  ),
  point("unblock: before the note", "brain", NOTE, "before"),
  point("unblock: after the note, before var sees the answer", "brain", NOTE, "after"),
];

/** An interrupted block whose entity stops matching before the next cycle: it is undone. */
const UNDO_POINTS: readonly KillPoint[] = [
  point("block undone: after the intent tag write", "brain", INTENT_WRITE, "after"),
  point("block undone: after the object create", "forti", OBJECT_CREATE, "after"),
  point("block undone: after the member add", "forti", MEMBER_ADD, "after"),
  point("block undone: before the VAR ID tag write", "brain", ELEMENT_ADD, "before"),
];

/** An interrupted unblock whose entity matches again before the next cycle: it is re-blocked. */
const REBLOCK_POINTS: readonly KillPoint[] = [
  point("unblock re-blocked: after the intent tag write", "brain", INTENT_WRITE, "after"),
  point("unblock re-blocked: after the member removal", "forti", MEMBER_REMOVE, "after"),
  point("unblock re-blocked: after the object delete", "forti", OBJECT_DELETE, "after"),
];

/** The state a scenario must converge to. */
interface Intended {
  readonly tags: readonly string[];
  readonly blocked: boolean;
  /** Notes starting `VAR: Blocked` / `VAR: Unblocked` written by the kill run and the next. */
  readonly blockedNotes: number | readonly number[];
  readonly unblockedNotes: number | readonly number[];
}

function holdOn(world: World, kill: KillPoint): Hold {
  const proxy = kill.proxy === "brain" ? world.brainProxy : world.fortiProxy;
  return proxy.hold(kill.match, kill.phase);
}

/** True when the run changed nothing on either side. */
function writesSince(world: World, brainFrom: number, fortiFrom: number): string[] {
  const brain = world.brainProxy.requests.slice(brainFrom).filter((r) => r.method !== "GET");
  const forti = world.fortiProxy.requests.slice(fortiFrom).filter((r) => r.method !== "GET");
  return [...brain, ...forti].map((r) => `${r.method} ${r.path}`);
}

function countMatches(actual: number, expected: number | readonly number[]): boolean {
  return typeof expected === "number" ? actual === expected : expected.includes(actual);
}

/** Lost blocks and orphaned objects seen after the next cycle, over every kill point. */
const damage = { lost: 0, orphaned: 0 };

/** Counts a lost block (intended but not enforced) and orphaned var objects. */
function countDamage(world: World, intended: Intended): void {
  const object = hostObject(IP);
  const enforced = internalMembers(world).includes(object);
  if (intended.blocked && !enforced) damage.lost++;
  const extra = varObjects(world).filter((name) => !(intended.blocked && name === object));
  damage.orphaned += extra.length + (!intended.blocked && enforced ? 1 : 0);
}

/** Asserts the brain and the FortiGate hold exactly the intended state. */
function assertIntended(
  world: World,
  intended: Intended,
  before: { blocked: number; unblocked: number },
) {
  const tags = world.brain.tags("host", HOST);
  assert.deepEqual([...tags].sort(), [...intended.tags].sort(), "brain tags");
  assert.ok(!tags.some((t) => t.startsWith("VAR Pending:")), "no intent tag is left");
  const object = hostObject(IP);
  if (intended.blocked) {
    assert.deepEqual(varObjects(world), [object], "var's objects on the FortiGate");
    assert.deepEqual(internalMembers(world), ["none", object].sort(), "group members");
    const comment = String(world.forti.fake.vdom().address.get(object)?.comment ?? "");
    assert.ok(comment.startsWith(VAR_COMMENT_MARK), `object comment "${comment}"`);
  } else {
    assert.deepEqual(varObjects(world), [], "no var object is left (no orphan)");
    assert.deepEqual(internalMembers(world), ["none"], "group members");
  }
  const blockedNotes = notesStarting(world, HOST, "VAR: Blocked") - before.blocked;
  const unblockedNotes = notesStarting(world, HOST, "VAR: Unblocked") - before.unblocked;
  assert.ok(
    countMatches(blockedNotes, intended.blockedNotes),
    `"VAR: Blocked" notes: ${blockedNotes}, expected ${intended.blockedNotes}`,
  );
  assert.ok(
    countMatches(unblockedNotes, intended.unblockedNotes),
    `"VAR: Unblocked" notes: ${unblockedNotes}, expected ${intended.unblockedNotes}`,
  );
}

/** What a scenario does around the kill. */
interface Scenario {
  /** Runs before the kill run (e.g. a completed block to unblock later). */
  readonly setup?: (world: World) => Promise<void>;
  /** Changes made by an analyst between the killed run and the next. */
  readonly between?: (world: World) => void;
  readonly intended: (kill: KillPoint) => Intended;
}

/** Kills var at `kill`, runs the next cycle and a third, and checks the converged state. */
async function killAndConverge(kill: KillPoint, scenario: Scenario): Promise<void> {
  await using world = await startWorld({
    seed: seed().host({ name: HOST, ip: IP, tags: [ANALYST_TAG, BLOCK_TAG] }),
  });
  await withTranscript(world, async () => {
    if (scenario.setup) await scenario.setup(world);
    const before = {
      blocked: notesStarting(world, HOST, "VAR: Blocked"),
      unblocked: notesStarting(world, HOST, "VAR: Unblocked"),
    };
    const hold = holdOn(world, kill);
    const killed = await world.run({ killAt: hold });
    assert.ok(killed.killed, `var was not killed at "${kill.name}" (exit ${killed.code})`);
    assert.equal(killed.signal, "SIGKILL");
    scenario.between?.(world);
    const next = await world.run();
    countDamage(world, scenario.intended(kill));
    assert.equal(next.code, 0, "the next cycle exits 0");
    assertIntended(world, scenario.intended(kill), before);
    const brainFrom = world.brainProxy.requests.length;
    const fortiFrom = world.fortiProxy.requests.length;
    const third = await world.run();
    assert.equal(third.code, 0, "a third cycle exits 0");
    assert.deepEqual(writesSince(world, brainFrom, fortiFrom), [], "a third cycle changes nothing");
    assertIntended(world, scenario.intended(kill), before);
  });
}

/** Completes a block, then lets the analyst remove the block tag: the next run unblocks. */
async function blockedThenReleased(world: World): Promise<void> {
  const first = await world.run();
  assert.equal(first.code, 0, "the setup block exits 0");
  assert.deepEqual([...world.brain.tags("host", HOST)].sort(), [...BLOCKED_TAGS].sort());
  world.brain.setTags("host", HOST, world.brain.tags("host", HOST).filter((t) => t !== BLOCK_TAG));
}

function removeBlockTag(world: World): void {
  world.brain.setTags("host", HOST, world.brain.tags("host", HOST).filter((t) => t !== BLOCK_TAG));
}

function addBlockTag(world: World): void {
  world.brain.setTags("host", HOST, [...world.brain.tags("host", HOST), BLOCK_TAG]);
}

/** Notes expected from the killed run plus the next, by where the kill landed. */
function notesFor(kill: KillPoint): number {
  // Once the state is on record without its intent, the next cycle has nothing to do, and
  // the note of the killed run is lost; before that it completes the action, with a note
  // (an unblock whose VAR ID tag is already gone too: its intent says it was carried out).
  const afterStateWrite = kill.name.includes("after the intent removal") ||
    kill.name.includes("before the note");
  return afterStateWrite ? 0 : 1;
}

const SCENARIOS: readonly { readonly points: readonly KillPoint[]; readonly scenario: Scenario }[] =
  [
    {
      points: BLOCK_POINTS,
      scenario: {
        intended: (kill) => ({
          tags: BLOCKED_TAGS,
          blocked: true,
          blockedNotes: notesFor(kill),
          unblockedNotes: 0,
        }),
      },
    },
    {
      points: UNBLOCK_POINTS,
      scenario: {
        setup: blockedThenReleased,
        intended: (kill) => ({
          tags: [ANALYST_TAG],
          blocked: false,
          blockedNotes: 0,
          unblockedNotes: notesFor(kill),
        }),
      },
    },
    {
      points: UNDO_POINTS,
      scenario: {
        between: removeBlockTag,
        intended: () => ({
          tags: [ANALYST_TAG],
          blocked: false,
          blockedNotes: 0,
          unblockedNotes: [0, 1],
        }),
      },
    },
    {
      points: REBLOCK_POINTS,
      scenario: {
        setup: blockedThenReleased,
        between: addBlockTag,
        intended: () => ({
          tags: BLOCKED_TAGS,
          blocked: true,
          blockedNotes: [0, 1],
          unblockedNotes: 0,
        }),
      },
    },
  ];

Deno.test("var run killed at every step boundary converges on the next cycle", async () => {
  const cases = SCENARIOS.flatMap(({ points, scenario }) =>
    points.map((kill) => ({ kill, scenario }))
  );
  const results = await pool(
    cases.map(({ kill, scenario }) => () => killAndConverge(kill, scenario)),
    4,
  );
  const failed = results.flatMap((r, i) =>
    r.status === "rejected"
      ? [`${cases[i]?.kill.name}: ${(r.reason as Error)?.message ?? String(r.reason)}`]
      : []
  );
  const blockPoints = BLOCK_POINTS.length + UNDO_POINTS.length;
  const unblockPoints = UNBLOCK_POINTS.length + REBLOCK_POINTS.length;
  emitFigures({
    killPoints: cases.length,
    converged: cases.length - failed.length,
    blockKillPoints: blockPoints,
    unblockKillPoints: unblockPoints,
    lostBlocks: damage.lost,
    orphanedObjects: damage.orphaned,
    points: cases.map((c, i) => ({
      name: c.kill.name,
      converged: results[i]?.status === "fulfilled",
    })),
  });
  assert.ok(cases.length >= 10, "at least 10 kill points");
  assert.deepEqual(failed, [], "every kill point converges");
  assert.deepEqual(damage, { lost: 0, orphaned: 0 }, "no lost block, no orphaned object");
});
