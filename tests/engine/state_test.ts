import assert from "node:assert/strict";
import { applyTagChange, buildNote, noteTime } from "../../engine/state.ts";
import { splitTags } from "../../engine/state_tags.ts";

Deno.test("applyTagChange() records a block after the kept tags, marker first", () => {
  const tags = applyTagChange("host", ["vectra_host_block", "analyst"], {
    set: new Map([["PAN Client", ["192.168.51.6"]]]),
  });
  assert.deepEqual(tags, [
    "vectra_host_block",
    "analyst",
    "VAR Host Blocked",
    "VAR ID:PAN Client:192.168.51.6",
  ]);
});

Deno.test("applyTagChange() unblocks the original's tags and keeps other clients' elements", () => {
  // As the original writes them: the marker repeated once per client, names with spaces.
  const original = [
    "vectra_host_block",
    "VAR Host Blocked",
    "VAR ID:PAN Client:fe80::1",
    "VAR Host Blocked",
    "VAR ID: VisionOne Client:agent:42",
    "VAR ID:Meraki Client:00:11:22:33:44:55",
  ];
  assert.deepEqual([...splitTags("host", original).blockedElements], [
    ["PAN Client", ["fe80::1"]],
    [" VisionOne Client", ["agent:42"]],
    ["Meraki Client", ["00:11:22:33:44:55"]],
  ]);
  const tags = applyTagChange("host", original, {
    remove: new Map([[" VisionOne Client", ["agent:42"]]]),
  });
  assert.deepEqual(tags, [
    "vectra_host_block",
    "VAR Host Blocked",
    "VAR ID:PAN Client:fe80::1",
    "VAR ID:Meraki Client:00:11:22:33:44:55",
  ]);
});

Deno.test("applyTagChange() drops the marker when the last element goes and removes the block tag", () => {
  const tags = applyTagChange("account", [
    "vectra_account_block",
    "Context:corp:",
    "VAR Account Blocked",
    "VAR ID:Test Client:u1",
  ], { remove: new Map([["Test Client", ["u1"]]]), removeTag: "vectra_account_block" });
  assert.deepEqual(tags, ["Context:corp:"]);
});

Deno.test("applyTagChange() keeps the unblock tag, routing tags and duplicates once", () => {
  const tags = applyTagChange("detection", [
    "block",
    "unblock",
    "client:pan",
    "block",
    "VAR Detection Blocked",
  ], {});
  assert.deepEqual(tags, ["block", "unblock", "client:pan"]);
});

Deno.test("applyTagChange() adds and clears intent tags per client", () => {
  const withIntent = applyTagChange("host", ["x"], {
    addPending: [{ client: "Test Client", operation: "block" }, {
      client: "PAN Client",
      operation: "block",
    }],
  });
  assert.deepEqual(withIntent, [
    "x",
    "VAR Pending:Test Client:block",
    "VAR Pending:PAN Client:block",
  ]);
  const done = applyTagChange("host", withIntent, {
    set: new Map([["Test Client", ["t1"]]]),
    clearPending: ["Test Client"],
  });
  assert.deepEqual(done, [
    "x",
    "VAR Host Blocked",
    "VAR ID:Test Client:t1",
    "VAR Pending:PAN Client:block",
  ]);
});

Deno.test("applyTagChange() replaces a client's elements on a repeated block", () => {
  const tags = applyTagChange("host", ["VAR Host Blocked", "VAR ID:Test Client:old"], {
    set: new Map([["Test Client", ["new", "new"]]]),
  });
  assert.deepEqual(tags, ["VAR Host Blocked", "VAR ID:Test Client:new"]);
});

Deno.test("noteTime() formats local time as the original", () => {
  assert.equal(noteTime(new Date(2024, 2, 5, 14, 3, 11)), "05 Mar 2024 at 14:03:11");
  assert.equal(noteTime(new Date(2025, 11, 31, 0, 0, 9)), "31 Dec 2025 at 00:00:09");
});

Deno.test("buildNote() keeps the original prefix and names clients and reasons", () => {
  const at = new Date(2024, 2, 5, 14, 3, 11);
  assert.equal(
    buildNote({
      event: "Blocked",
      at,
      clients: ["PAN Client"],
      reasons: ["tag vectra_host_block"],
    }),
    "VAR: Blocked on 05 Mar 2024 at 14:03:11 by PAN Client (tag vectra_host_block)",
  );
  assert.equal(
    buildNote({
      event: "Unblocked",
      at,
      clients: [" VisionOne Client", "Test Client"],
      reasons: ["member of no-block group NoBlock"],
      removedTag: "vectra_host_block",
    }),
    "VAR: Unblocked on 05 Mar 2024 at 14:03:11 by VisionOne Client, Test Client " +
      "(member of no-block group NoBlock); removed tag vectra_host_block",
  );
});
