/**
 * Hostile or malformed addresses from the brain (and the static list) never reach a
 * device: per kind of value, a host with that address, a detection with that destination
 * and, where the static list's syntax refuses it, a static line, against real FortiGate
 * and PAN-OS clients talking to their fakes. No device is called, and the plan names why.
 */

import assert from "node:assert/strict";
import { fortinet, FortinetConfigSchema } from "../../clients/fortinet.ts";
import { pan, PanConfigSchema } from "../../clients/pan.ts";
import type { ResponseClient } from "../../engine/client.ts";
import { seed } from "../../demo/seed.ts";
import { runCycle } from "../../engine/cycle.ts";
import { startFakeFortiGate } from "../fakes/fortinet.ts";
import { startFakePan } from "../fakes/pan.ts";
import { startEngine } from "./_engine_harness.ts";
import { emitFigures } from "../e2e/_harness.ts";
import { testConfig } from "./_policy.ts";

const HTTP = { retries: 0, minRetryDelayMs: 5, maxRetryDelayMs: 20, timeoutMs: 2000 };
const FORTI_TOKEN = "fgt-hostile-token";
const PAN_KEY = "pan-hostile-key";

/** A hostile value, what the plan must say of it, and whether the static list refuses it. */
interface HostileKind {
  readonly name: string;
  readonly value: string | null;
  readonly reason: RegExp;
  /** The static list's syntax allows some networks (README); false where it allows this one. */
  readonly staticRefused: boolean;
}

const KINDS: readonly HostileKind[] = [
  {
    name: "all of IPv4",
    value: "0.0.0.0/0",
    reason: /not a single host address/,
    staticRefused: true,
  },
  { name: "all of IPv6", value: "::/0", reason: /not a single host address/, staticRefused: true },
  {
    name: "a private /8",
    value: "10.0.0.0/8",
    reason: /not a single host address/,
    staticRefused: false,
  },
  {
    name: "a network with host bits",
    value: "10.1.2.3/24",
    reason: /not a single host address/,
    staticRefused: true,
  },
  {
    name: "the unspecified IPv4 address",
    value: "0.0.0.0",
    reason: /unspecified/,
    staticRefused: true,
  },
  { name: "the unspecified IPv6 address", value: "::", reason: /unspecified/, staticRefused: true },
  { name: "this network", value: "0.1.2.3", reason: /this network/, staticRefused: true },
  { name: "broadcast", value: "255.255.255.255", reason: /broadcast/, staticRefused: true },
  { name: "IPv4 multicast", value: "224.0.0.251", reason: /multicast/, staticRefused: true },
  { name: "IPv6 multicast", value: "ff02::1", reason: /multicast/, staticRefused: true },
  { name: "IPv4 loopback", value: "127.0.0.1", reason: /loopback/, staticRefused: true },
  { name: "IPv6 loopback", value: "::1", reason: /loopback/, staticRefused: true },
  {
    name: "IPv4-mapped loopback",
    value: "::ffff:127.0.0.1",
    reason: /loopback/,
    staticRefused: true,
  },
  { name: "reserved", value: "240.0.0.1", reason: /reserved/, staticRefused: true },
  { name: "text", value: "ward-3-pc", reason: /not an IPv4 or IPv6 address/, staticRefused: true },
  {
    name: "shell text",
    value: "10.1.2.3; rm -rf /",
    reason: /not an IPv4 or IPv6 address/,
    staticRefused: true,
  },
  { name: "empty", value: "", reason: /empty|no address/, staticRefused: false },
  { name: "missing", value: null, reason: /no address is known/, staticRefused: false },
];

/** PAN-OS request types that read only. */
const PAN_READS = new Set(["keygen", "op"]);

/** A PAN-OS config request that reads (`action=get` or `show`). */
function isPanRead(params: Readonly<Record<string, string>>): boolean {
  return params["type"] === "config" && ["get", "show"].includes(params["action"] ?? "");
}

/** Real FortiGate and PAN-OS clients on fresh fakes, with every request the fakes saw. */
async function firewalls() {
  const forti = startFakeFortiGate({ token: FORTI_TOKEN });
  const panServer = startFakePan({ apiKey: PAN_KEY });
  const fortiClient = await fortinet.create(
    FortinetConfigSchema.parse({ FORTINET_IP: forti.entry, FORTINET_PORT: String(forti.port) }),
    { http: HTTP, secret: () => Promise.resolve(FORTI_TOKEN) },
  );
  const panClient = await pan.create(PanConfigSchema.parse({ PAN_URLS: panServer.url }), {
    http: HTTP,
    secret: () => Promise.resolve(PAN_KEY),
  });
  return {
    clients: [fortiClient, panClient] as ResponseClient[],
    /** The requests that change a device (reading back the static entries does not). */
    writes: () => [
      ...forti.fake.requests.filter((r) => r.method !== "GET")
        .map((r) => `fortinet ${r.method} ${r.path}`),
      ...panServer.fake.requests.filter((r) => !PAN_READS.has(r.type) && !isPanRead(r.params))
        .map((r) => `pan ${r.type} ${r.url}`),
    ],
    async [Symbol.asyncDispose]() {
      await fortiClient.close();
      await panClient.close();
      await forti.close();
      await panServer.close();
    },
  };
}

/** Kinds tried and kinds that changed a device, for `scripts/reliability.ts`. */
let tried = 0;
let reached = 0;

for (const kind of KINDS) {
  Deno.test(`hostile address: ${kind.name} (${JSON.stringify(kind.value)}) reaches no device and the plan says why`, async () => {
    const data = seed()
      .host({ name: "hostile-pc", ip: kind.value, tags: ["vectra_host_block"] })
      .host({ name: "quiet-pc", ip: "10.9.9.9" })
      .detection({
        src: "quiet-pc",
        type: "Hidden HTTPS Tunnel",
        dstIps: kind.value === null ? [] : [kind.value],
        tags: ["block"],
      })
      .group({ name: "NoBlock", type: "host", members: [] })
      .group({ name: "Block", type: "host", members: [] })
      .build();
    await using h = await startEngine(data);
    await using devices = await firewalls();
    const dir = await Deno.makeTempDir({ prefix: "var-hostile-" });
    try {
      const staticFile = `${dir}/static.txt`;
      await Deno.writeTextFile(staticFile, kind.staticRefused ? `${kind.value}\n` : "# none\n");
      const config = testConfig({
        blockTypes: new Set(["host", "detection", "static"]),
        staticIpsFile: staticFile,
      });
      const now = new Date(2026, 11, 7, 10, 0, 0);
      const result = await runCycle(config, [h.runtime], devices.clients, {
        dryRun: false,
        groom: false,
        now,
        insideWindow: true,
        confirmBlastRadius: false,
        clock: () => now,
        verifyDrift: false,
      });
      const writes = devices.writes();
      tried++;
      if (writes.length > 0) reached++;
      emitFigures({ hostileAddressKinds: tried, hostileAddressesReachingDevice: reached });
      assert.deepEqual(writes, [], "no device was changed");
      const p = result.plans[0]!;
      const refusedHost = p.host.skipped.find((s) => s.entity.name === "hostile-pc");
      assert.ok(refusedHost?.refusal, JSON.stringify(p.host.skipped));
      assert.match(refusedHost.refusal, kind.reason);
      assert.deepEqual(p.host.entries, []);
      assert.equal(result.brains[0]?.refusedCounts.host, 1, "the metrics count the refusal");
      assert.deepEqual(h.brain.tags("host", "hostile-pc"), ["vectra_host_block"]);
      if (kind.value !== null && kind.value !== "") {
        const refusedDetection = p.detection.skipped[0];
        assert.match(refusedDetection?.refusal ?? "", kind.reason);
        assert.match(refusedDetection?.refusal ?? "", /^destination /);
        assert.deepEqual(p.detection.entries, []);
      }
      if (kind.staticRefused) {
        assert.ok(
          result.messages.some((m) => m.text.startsWith(`Ignoring line 1 of "${staticFile}"`)),
          JSON.stringify(result.messages),
        );
      }
      assert.ok(
        result.messages.some((m) =>
          m.text.startsWith("Not blocking host") && kind.reason.test(m.text)
        ),
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}
