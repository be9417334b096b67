import assert from "node:assert/strict";
import { seed } from "../../demo/seed.ts";
import type { Host } from "../../engine/model.ts";
import {
  ClientError,
  type Operation,
  type ResponseClient,
  type StagedChanges,
} from "../../engine/client.ts";
import { act } from "../../engine/act.ts";
import { runCycle } from "../../engine/cycle.ts";
import { plan } from "../../engine/plan.ts";
import { select } from "../../engine/select.ts";
import type { VectraApi } from "../../engine/vectra/api.ts";
import type { Config } from "../../config_types.ts";
import type { FakeBrain } from "../../demo/brain.ts";
import { startEngine } from "./_engine_harness.ts";
import { testConfig } from "./_policy.ts";

const AT = new Date(2026, 10, 27, 10, 0, 0);

const HOSTS_ONLY = testConfig({
  blockTypes: new Set(["host"]),
  host: { noBlockGroup: null, blockGroup: null },
});

/** What a committing device did, in order. */
type Event = string;

/**
 * A client whose changes take effect only once committed: it enforces a set of addresses,
 * stages into a batch, and on commit checks what Vectra shows of each staged host.
 */
function committingClient(
  brain: FakeBrain,
  options: { failCommit?: boolean; failStage?: string } = {},
) {
  const enforced = new Set<string>();
  const events: Event[] = [];
  const supports = new Set<Operation>(["blockHost", "unblockHost"]);
  const meta = { name: "staging", tagName: "Staging Client", routingKey: "staging", supports };
  const staging = (batch: (() => void)[]): ResponseClient => ({
    ...meta,
    blockHost(host: Host) {
      events.push(`stage block ${host.name}`);
      if (host.name === options.failStage) {
        return Promise.reject(new ClientError("staging", "blockHost", "object locked"));
      }
      batch.push(() => enforced.add(host.ip ?? ""));
      return Promise.resolve([host.ip ?? ""]);
    },
    unblockHost(host: Host, recorded: readonly string[]) {
      events.push(`stage unblock ${host.name}`);
      batch.push(() => recorded.forEach((id) => enforced.delete(id)));
      return Promise.resolve([...recorded]);
    },
  });
  const stage = (): StagedChanges => {
    const batch: (() => void)[] = [];
    return {
      client: staging(batch),
      discard() {
        batch.length = 0;
        return Promise.resolve();
      },
      commit() {
        if (batch.length === 0) return Promise.resolve();
        const recorded = ["pc-1", "pc-2", "pc-3"].map((name) =>
          brain.tags("host", name).filter((t) => t.startsWith("VAR ID:")).length
        );
        events.push(`commit ${batch.length} (recorded before: ${recorded.join(",")})`);
        if (options.failCommit) {
          return Promise.reject(new ClientError("staging", "commit", "install-policy failed"));
        }
        for (const change of batch) change();
        return Promise.resolve();
      },
    };
  };
  const client: ResponseClient = {
    ...meta,
    stage,
    async blockHost(host: Host) {
      const batch = stage();
      const ids = await batch.client.blockHost!(host);
      await batch.commit();
      return ids;
    },
    endCycle() {
      events.push("end cycle");
      return Promise.resolve();
    },
  };
  return { client, enforced, events };
}

function threeHosts(tags: (i: number) => string[]) {
  return seed()
    .host({ name: "pc-1", ip: "10.0.0.1", tags: tags(1) })
    .host({ name: "pc-2", ip: "10.0.0.2", tags: tags(2) })
    .host({ name: "pc-3", ip: "10.0.0.3", tags: tags(3) });
}

async function planFor(api: VectraApi, config: Config, clients: ResponseClient[]) {
  const snapshot = await select(api, config, { clientTags: clients.map((c) => c.tagName) });
  return plan(snapshot, config, { clients });
}

for (const bulkIntents of [true, false]) {
  Deno.test(
    `act() stages a wave on a committing client, commits once, then records (bulk intents ${bulkIntents})`,
    async () => {
      await using h = await startEngine(threeHosts(() => ["vectra_host_block"]).build());
      const { client, enforced, events } = committingClient(h.brain);
      const p = await planFor(h.api, HOSTS_ONLY, [client]);
      // One entity at a time: the wave must still reach its commit.
      const report = await act(p, h.api, [client], {
        clock: () => AT,
        concurrency: 1,
        bulkIntents,
      });
      assert.deepEqual(events, [
        "stage block pc-1",
        "stage block pc-2",
        "stage block pc-3",
        "commit 3 (recorded before: 0,0,0)",
      ]);
      assert.deepEqual([...enforced].sort(), ["10.0.0.1", "10.0.0.2", "10.0.0.3"]);
      assert.deepEqual(report.records.map((r) => [r.entityName, r.outcome]), [
        ["pc-1", "ok"],
        ["pc-2", "ok"],
        ["pc-3", "ok"],
      ]);
      assert.deepEqual(h.brain.tags("host", "pc-2"), [
        "vectra_host_block",
        "VAR Host Blocked",
        "VAR ID:Staging Client:10.0.0.2",
      ]);
      assert.equal(h.brain.notes("host", "pc-2").length, 1);
    },
  );
}

Deno.test("act() records nothing of a batch whose commit fails, so the next cycle retries", async () => {
  await using h = await startEngine(threeHosts(() => ["vectra_host_block"]).build());
  const { client, enforced } = committingClient(h.brain, { failCommit: true });
  const p = await planFor(h.api, HOSTS_ONLY, [client]);
  const report = await act(p, h.api, [client], { clock: () => AT });
  assert.deepEqual(enforced, new Set());
  assert.deepEqual(report.records.map((r) => [r.outcome, r.error]), [
    ["failed", "the change was staged but could not be committed: install-policy failed"],
    ["failed", "the change was staged but could not be committed: install-policy failed"],
    ["failed", "the change was staged but could not be committed: install-policy failed"],
  ]);
  assert.match(
    report.records[0]?.message ?? "",
    /^Error encountered trying to block Host ID 1: the change was staged/,
  );
  for (const name of ["pc-1", "pc-2", "pc-3"]) {
    assert.deepEqual(h.brain.tags("host", name), ["vectra_host_block"], name);
    assert.deepEqual(h.brain.notes("host", name), []);
  }
});

Deno.test("act() commits the staged steps of a batch when one step fails to stage", async () => {
  await using h = await startEngine(threeHosts(() => ["vectra_host_block"]).build());
  const { client, enforced, events } = committingClient(h.brain, { failStage: "pc-2" });
  const p = await planFor(h.api, HOSTS_ONLY, [client]);
  const report = await act(p, h.api, [client], { clock: () => AT, concurrency: 1 });
  assert.equal(events.filter((e) => e.startsWith("commit")).length, 1);
  assert.deepEqual([...enforced].sort(), ["10.0.0.1", "10.0.0.3"]);
  assert.deepEqual(report.records.map((r) => [r.entityName, r.outcome]).sort(), [
    ["pc-1", "ok"],
    ["pc-2", "failed"],
    ["pc-3", "ok"],
  ]);
  assert.deepEqual(h.brain.tags("host", "pc-2"), ["vectra_host_block"]);
});

Deno.test("act() stages unblocks in the same batch as blocks", async () => {
  const data = threeHosts((i) =>
    i === 3 ? ["VAR Host Blocked", "VAR ID:Staging Client:10.0.0.3"] : ["vectra_host_block"]
  );
  await using h = await startEngine(data.build());
  const { client, enforced, events } = committingClient(h.brain);
  enforced.add("10.0.0.3");
  const p = await planFor(h.api, HOSTS_ONLY, [client]);
  await act(p, h.api, [client], { clock: () => AT });
  assert.deepEqual(events.filter((e) => e.startsWith("commit")), [
    "commit 3 (recorded before: 0,0,1)",
  ]);
  assert.deepEqual([...enforced].sort(), ["10.0.0.1", "10.0.0.2"]);
  assert.deepEqual(h.brain.tags("host", "pc-3"), []);
});

Deno.test("runCycle() ends the cycle on every client, once, after acting", async () => {
  await using h = await startEngine(threeHosts(() => ["vectra_host_block"]).build());
  const { client, events } = committingClient(h.brain);
  await runCycle(HOSTS_ONLY, [h.runtime], [client], {
    dryRun: false,
    groom: false,
    now: AT,
    insideWindow: true,
    confirmBlastRadius: false,
    clock: () => AT,
  });
  assert.deepEqual(events.slice(-2), ["commit 3 (recorded before: 0,0,0)", "end cycle"]);
  assert.equal(events.filter((e) => e === "end cycle").length, 1);
});
