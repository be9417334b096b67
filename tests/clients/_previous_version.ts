/**
 * What the fixtures `fixtures/*_state_v0.1.0.json` were recorded with: the FortiGate and
 * PAN-OS clients of var 0.1.0 (commit 2a229e6) blocked two hosts, a detection and two
 * static entries. A client that adopts that state blocks the same entities again and gets
 * the recorded ids, and reads back the same elements. Private to `tests/clients/`.
 *
 * @module
 */

import assert from "node:assert/strict";
import type { AddressClient } from "../../clients/_adapter.ts";
import { sampleDetection, sampleHost } from "./_entities.ts";

/** The element ids the previous version returned for those blocks. */
export interface PreviousIds {
  readonly host: string[];
  readonly host6: string[];
  readonly detection: string[];
}

/** Blocks the fixtures' entities again and asserts the ids the previous version recorded. */
export async function blockAsPreviousVersion(client: AddressClient, ids: PreviousIds) {
  assert.deepEqual(await client.blockHost(sampleHost({ ip: "10.1.2.3" })), ids.host);
  assert.deepEqual(await client.blockHost(sampleHost({ id: 8, ip: "2001:db8::8" })), ids.host6);
  assert.deepEqual(
    await client.blockDetection(sampleDetection({ dstIps: ["198.51.100.7", "2001:db8::99"] })),
    ids.detection,
  );
  const statics = await client.blockStaticIps({ dstIps: ["203.0.113.0/24", "192.0.2.44"] });
  assert.deepEqual(statics.map((o) => o.ok), [true, true]);
}

/** Asserts that the client reads back every element of the fixtures, none partial. */
export async function assertPreviousVersionReadBack(client: AddressClient) {
  assert.deepEqual(await client.list(), [
    { kind: "detection", element: "198.51.100.7" },
    { kind: "detection", element: "2001:db8::99" },
    { kind: "host", element: "10.1.2.3" },
    { kind: "host", element: "2001:db8::8" },
  ]);
  assert.deepEqual(await client.listStaticIps(), ["192.0.2.44", "203.0.113.0/24"]);
}
