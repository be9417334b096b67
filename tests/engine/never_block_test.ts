import assert from "node:assert/strict";
import { CLIENTS } from "../../clients/mod.ts";
import { AggregateConfigError, loadConfig, parseConfig } from "../../config.ts";
import type { Detection, Host } from "../../engine/model.ts";
import type { ResponseClient } from "../../engine/client.ts";
import { runCycle } from "../../engine/cycle.ts";
import { neverBlockLines, parseNeverBlock, protection } from "../../engine/never_block.ts";
import { seed } from "../../demo/seed.ts";
import type { Config } from "../../config_types.ts";
import { startEngine, testClientAs } from "./_engine_harness.ts";
import { testConfig } from "./_policy.ts";

const NOW = new Date(2026, 10, 27, 10, 0, 0);

function list(...texts: string[]) {
  const errors: string[] = [];
  const entries = parseNeverBlock(
    texts.map((text) => ({ text, where: "test" })),
    (_w, m) => errors.push(m),
  );
  return { entries, errors };
}

Deno.test("protection() covers addresses inside, networks overlapping, IPv6 and IPv4-mapped IPv6", () => {
  const { entries, errors } = list("10.1.0.0/16", "2001:db8::/32", "192.0.2.7", " # a comment", "");
  assert.deepEqual(errors, []);
  assert.match(
    protection(entries, "10.1.2.3") ?? "",
    /^10\.1\.2\.3 is protected by NEVER_BLOCK_ADDRESSES entry 10\.1\.0\.0\/16 \(test\)$/,
  );
  assert.ok(protection(entries, "10.0.0.0/8"), "a network holding a protected one");
  assert.ok(protection(entries, "2001:db8::5"));
  assert.ok(protection(entries, "::ffff:192.0.2.7"));
  assert.equal(protection(entries, "10.2.0.1"), null);
  assert.equal(protection(entries, "192.0.2.8"), null);
  assert.deepEqual(list("10.1.2.3/16", "ward-3-pc").errors.length, 2);
});

Deno.test("NEVER_BLOCK_ADDRESSES: an inline list is checked entry by entry; a file names its line", async () => {
  const clients = CLIENTS;
  let error: unknown = null;
  try {
    parseConfig("COGNITO_URL=https://brain\nNEVER_BLOCK_ADDRESSES=10.1.0.0/16, 10.2.3.4/8\n", {
      path: "var.env",
      clients,
    });
  } catch (e) {
    error = e;
  }
  assert.ok(error instanceof AggregateConfigError);
  assert.match(
    error.message,
    /NEVER_BLOCK_ADDRESSES.*"10\.2\.3\.4\/8" is not an address or network/,
  );
  const inline = parseConfig(
    "COGNITO_URL=https://brain\nNEVER_BLOCK_ADDRESSES=10.1.0.0/16,2001:db8::1\n",
    { path: "var.env", clients },
  );
  assert.deepEqual(inline.config.neverBlock.map((e) => e.entry.entry), [
    "10.1.0.0/16",
    "2001:db8::1",
  ]);
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(
      `${dir}/never.txt`,
      "# domain controllers\n10.0.0.10\n10.0.0.11 # dc2\n\nnot-an-ip\n",
    );
    await Deno.writeTextFile(
      `${dir}/var.env`,
      "COGNITO_URL=https://brain\nBLOCK_TYPES=host\nNEVER_BLOCK_ADDRESSES=@never.txt\n",
    );
    const bad = await loadConfig(`${dir}/var.env`, { clients }).then(() => null, (e) => e);
    assert.ok(bad instanceof AggregateConfigError);
    assert.match(
      bad.message,
      /NEVER_BLOCK_ADDRESSES: .*never\.txt line 5: "not-an-ip" is not an address or network/,
    );
    await Deno.writeTextFile(
      `${dir}/never.txt`,
      "# domain controllers\n10.0.0.10\n10.0.0.11 # dc2\n",
    );
    const good = await loadConfig(`${dir}/var.env`, { clients });
    assert.deepEqual(good.config.neverBlock.map((e) => [e.entry.entry, e.where.replace(dir, "")]), [
      ["10.0.0.10", "/never.txt line 2"],
      ["10.0.0.11", "/never.txt line 3"],
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  assert.deepEqual(neverBlockLines("f", "a\nb").map((l) => l.where), ["f line 1", "f line 2"]);
});

/** A test client that records the detections it is asked to block. */
function recording() {
  const inner = testClientAs();
  const detections: Detection[] = [];
  const client: ResponseClient = {
    ...inner,
    blockDetection(detection: Detection) {
      detections.push(detection);
      return inner.blockDetection!(detection);
    },
  };
  return { client, inner, detections };
}

function cycle(
  config: Config,
  runtime: Parameters<typeof runCycle>[1][number],
  clients: ResponseClient[],
) {
  return runCycle(config, [runtime], clients, {
    dryRun: false,
    groom: false,
    now: NOW,
    insideWindow: true,
    confirmBlastRadius: false,
    clock: () => NOW,
  });
}

Deno.test("a protected host in the block group is never sent to a device; one already blocked is unblocked", async () => {
  await using h = await startEngine(
    seed()
      .host({ name: "dc-1", ip: "10.0.0.10", tags: ["vectra_host_block"] })
      .host({ name: "ward-3-pc", ip: "10.1.2.3", tags: ["vectra_host_block"] })
      .host({
        name: "gateway",
        ip: "10.0.0.1",
        tags: ["VAR Host Blocked", "VAR ID:Test Client:host-3-10.0.0.1", "vectra_host_block"],
      })
      .group({ name: "Block", type: "host", members: ["dc-1"] })
      .build(),
  );
  const neverBlock = list("10.0.0.0/28").entries;
  const config = testConfig({
    blockTypes: new Set(["host"]),
    host: { noBlockGroup: null, blockGroup: "Block" },
    neverBlock,
  });
  const { client, inner } = recording();
  const report = await cycle(config, h.runtime, [client]);
  assert.deepEqual(inner.calls.map((c) => `${c.operation} ${c.subject}`).sort(), [
    "blockHost host 2",
    "unblockHost host 3",
  ]);
  assert.deepEqual(h.brain.tags("host", "dc-1"), ["vectra_host_block"]);
  assert.deepEqual(
    h.brain.tags("host", "gateway"),
    ["vectra_host_block"],
    "unblocked; the analyst's tag stays",
  );
  const unblock = report.actions.find((a) => a.entityName === "gateway");
  assert.ok(
    unblock?.reasons.some((r) =>
      r.includes("10.0.0.1 is protected by NEVER_BLOCK_ADDRESSES entry 10.0.0.0/28")
    ),
  );
  const plan = report.plans[0];
  const skipped = plan?.host.skipped.find((s) => s.entity.name === "dc-1");
  assert.match(
    skipped?.refusal ?? "",
    /10\.0\.0\.10 is protected by NEVER_BLOCK_ADDRESSES entry 10\.0\.0\.0\/28/,
  );
  // The next cycle changes nothing: the protected hosts stay unblocked.
  const again = await cycle(config, h.runtime, [client]);
  assert.deepEqual(
    again.actions.filter((a) => a.outcome !== "planned").map((a) => a.entityName),
    [],
  );
});

Deno.test("protected detection destinations are never blocked; static entries overlapping one neither", async () => {
  await using h = await startEngine(
    seed()
      .host({ name: "pc", ip: "10.1.2.3" })
      .detection({
        src: "pc",
        type: "Hidden HTTPS Tunnel",
        dstIps: ["93.184.216.34", "45.33.32.156"],
        tags: ["block"],
      })
      .build(),
  );
  const dir = await Deno.makeTempDir();
  try {
    const file = `${dir}/static.txt`;
    await Deno.writeTextFile(file, "45.33.32.0/24\n203.0.113.7\n");
    const neverBlock = list("45.33.32.156").entries;
    const config = testConfig({
      blockTypes: new Set(["detection", "static"]),
      host: { noBlockGroup: null, blockGroup: null },
      staticIpsFile: file,
      neverBlock,
    });
    const { client, inner, detections } = recording();
    inner.device.holdStatic("45.33.32.0/24");
    const report = await cycle(config, h.runtime, [client]);
    assert.deepEqual(detections.map((d) => d.dstIps), [["93.184.216.34"]]);
    assert.deepEqual(
      [...inner.device.enforced("static")],
      ["203.0.113.7"],
      "the overlapping network is unblocked",
    );
    assert.ok(
      report.messages.some((m) =>
        m.text.includes("45.33.32.0/24 is protected by NEVER_BLOCK_ADDRESSES entry 45.33.32.156")
      ),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a host without NEVER_BLOCK_ADDRESSES is planned as before (the list is empty by default)", () => {
  const config =
    parseConfig("COGNITO_URL=https://brain\n", { path: "var.env", clients: CLIENTS }).config;
  assert.deepEqual(config.neverBlock, []);
  assert.equal(config.neverBlockFile, null);
  const host = { ip: "10.0.0.1" } as Host;
  assert.equal(protection(config.neverBlock, host.ip ?? ""), null);
});
