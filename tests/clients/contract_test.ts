/**
 * The contract suite tested on itself: a deliberately broken client, driving one or two
 * in-memory devices, must fail every case of `contractCases` — a case that cannot fail
 * proves nothing about the clients that pass it.
 */

import assert from "node:assert/strict";
import { ClientError, type ResponseClient } from "../../engine/client.ts";
import type { Detection, Host } from "../../engine/model.ts";
import {
  contractCases,
  type ContractHarness,
  type EnforcedKind,
  type TwoDeviceHarness,
} from "./_contract.ts";
import { sampleAccount, sampleDetection, sampleHost } from "./_entities.ts";

/** An in-memory device: what it holds per kind, and whether it fails or answers late. */
class MemoryDevice {
  readonly held = new Map<EnforcedKind, Set<string>>();
  failing = false;
  delayMs = 0;

  async put(kind: EnforcedKind, value: string): Promise<void> {
    if (this.delayMs > 0) await new Promise((resolve) => setTimeout(resolve, this.delayMs));
    if (this.failing) throw new Error("device error 503");
    const set = this.held.get(kind) ?? new Set<string>();
    set.add(value);
    this.held.set(kind, set);
  }

  enforced(kind: EnforcedKind): Set<string> {
    return new Set(this.held.get(kind) ?? []);
  }
}

/**
 * Every mistake the new cases exist to catch: an empty success for a host without an
 * address, devices written one after the other with no rollback, a 50 ms patience, random
 * ids per client, and a memory of past blocks that skips the device.
 */
function brokenClient(devices: readonly MemoryDevice[]): ResponseClient {
  const remembered = new Map<string, string>();
  const blockOn = async (operation: string, kind: EnforcedKind, value: string) => {
    const known = remembered.get(`${kind}:${value}`);
    if (known !== undefined) return [known];
    for (const device of devices) {
      const started = performance.now();
      try {
        await device.put(kind, value);
      } catch (error) {
        throw new ClientError("broken", operation, `Cannot block ${value}: ${error}`);
      }
      if (performance.now() - started > 50) {
        throw new ClientError("broken", operation, `Cannot block ${value}: too slow`);
      }
    }
    const id = crypto.randomUUID();
    remembered.set(`${kind}:${value}`, id);
    return [id];
  };
  return {
    name: "broken",
    tagName: "Broken Client",
    routingKey: "broken",
    supports: new Set(["blockHost", "unblockHost", "blockDetection", "unblockDetection"]),
    blockHost: (host: Host) =>
      host.ip === null || host.ip === "" || host.ip.includes("/")
        ? Promise.resolve([])
        : blockOn("blockHost", "host", host.ip),
    unblockHost: (_host: Host, recorded: readonly string[]) => Promise.resolve([...recorded]),
    blockDetection: (detection: Detection) =>
      blockOn("blockDetection", "detection", detection.dstIps.join(",")),
    unblockDetection: (_d: Detection, recorded: readonly string[]) =>
      Promise.resolve([...recorded]),
  };
}

/** A harness of the broken client on `count` in-memory devices. */
function brokenHarness(count: number): Promise<TwoDeviceHarness> {
  const devices = Array.from({ length: count }, () => new MemoryDevice());
  const first = devices[0]!;
  const harness: TwoDeviceHarness = {
    client: brokenClient(devices),
    samples: {
      host: sampleHost(),
      account: sampleAccount(),
      detection: sampleDetection(),
      staticIps: { dstIps: [] },
    },
    enforced: (kind) => Promise.resolve(first.enforced(kind)),
    enforcedOn: (device, kind) => Promise.resolve(devices[device]!.enforced(kind)),
    vanish: (kind) => {
      for (const device of devices) device.held.delete(kind);
      return Promise.resolve();
    },
    faults: {
      serverError: () => {
        first.failing = true;
      },
      down: () => {
        first.failing = true;
      },
    },
    failSecond: () => {
      devices[1]!.failing = true;
    },
    slowSecond: (ms) => {
      devices[1]!.delayMs = ms;
    },
    another: () => Promise.resolve(brokenClient(devices)),
    close: () => Promise.resolve(),
  };
  return Promise.resolve(harness);
}

Deno.test("every contract case fails against a deliberately broken client", async () => {
  const cases = await contractCases({
    start: (): Promise<ContractHarness> => brokenHarness(1),
    startTwo: () => brokenHarness(2),
  });
  const run = cases.filter((c) => c.skip === null);
  // The address case, and four cases for each of hosts and detections.
  assert.equal(run.length, 9, run.map((c) => c.name).join("\n"));
  for (const c of run) {
    await assert.rejects(c.run(), `"${c.name}" passed a broken client`);
  }
  const skipped = cases.filter((c) => c.skip !== null);
  assert.ok(skipped.every((c) => c.skip?.startsWith("broken does not support accounts")));
});
