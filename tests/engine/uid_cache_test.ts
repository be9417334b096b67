/**
 * ACCOUNT_GROUP_REFRESH_MINUTES in a `--loop` service: which account each account-group
 * member uid names is remembered across cycles, under three rules — (a) before blocking
 * an account, the no-block group is looked up afresh; (b) a uid not seen before is looked
 * up in the cycle it appears; (c) everything is forgotten every refresh interval.
 */

import assert from "node:assert/strict";
import { type FakeBrain, startFakeBrain } from "../../demo/brain.ts";
import { seed } from "../../demo/seed.ts";
import { runCycle } from "../../engine/cycle.ts";
import { createVectraApi } from "../../engine/vectra/mod.ts";
import type { VectraApi } from "../../engine/vectra/api.ts";
import { testClientAs } from "./_engine_harness.ts";
import { testConfig } from "./_policy.ts";

/** A v2.5 client of `brain` that remembers uids for 60 minutes, on a clock the test moves. */
function loopApi(brain: FakeBrain, clock: { now: number }): VectraApi {
  return createVectraApi({
    entry: "brain.test",
    baseUrl: brain.url,
    apiVersion: "2.5",
    auth: "token",
  }, {
    secret: () => Promise.resolve(brain.credentials.token ?? ""),
    http: { timeoutMs: 2000, retries: 0 },
    uidCacheMinutes: 60,
    now: () => clock.now,
  });
}

const uidLookups = (brain: FakeBrain) =>
  brain.requests.filter((r) => r.endpoint === "GET /accounts" && r.query.includes("uid=")).length;
const idReads = (brain: FakeBrain) =>
  brain.requests.filter((r) => r.endpoint === "GET /accounts" && /(^|&)id=/.test(r.query)).length;

Deno.test("accountsByUids() remembers uids: (b) a new uid is looked up at once, (c) all again after the refresh interval", async () => {
  await using brain = await startFakeBrain({
    apiVersion: "2.5",
    seed: seed()
      .account({ name: "O365:a@corp.example" })
      .account({ name: "O365:b@corp.example" })
      .account({ name: "O365:c@corp.example" }),
  });
  const clock = { now: 1_000_000 };
  const api = loopApi(brain, clock);
  try {
    const names = async (uids: string[]) =>
      (await api.accountsByUids(uids)).map((a) => a.name).sort();
    assert.deepEqual(await names(["a@corp.example", "b@corp.example"]), [
      "O365:a@corp.example",
      "O365:b@corp.example",
    ]);
    assert.equal(uidLookups(brain), 2);
    brain.clearRequests();
    // (b): a and b come from one read by id; c, new, is looked up now.
    assert.equal((await names(["a@corp.example", "b@corp.example", "c@corp.example"])).length, 3);
    assert.deepEqual([uidLookups(brain), idReads(brain)], [1, 1]);
    brain.clearRequests();
    assert.equal((await names(["a@corp.example", "b@corp.example", "c@corp.example"])).length, 3);
    assert.deepEqual([uidLookups(brain), idReads(brain)], [0, 1], "an idle cycle: one request");
    // (c): after the refresh interval every uid is looked up again.
    clock.now += 60 * 60_000;
    brain.clearRequests();
    assert.equal((await names(["a@corp.example", "b@corp.example", "c@corp.example"])).length, 3);
    assert.deepEqual([uidLookups(brain), idReads(brain)], [3, 0]);
    // fresh: every uid now, whatever is remembered.
    brain.clearRequests();
    await api.accountsByUids(["a@corp.example"], { fresh: true });
    assert.equal(uidLookups(brain), 1);
  } finally {
    await api.close();
  }
});

/** Two cycles of a `--loop` service on one client, the brain changed in between. */
async function twoCycles(between: (brain: FakeBrain) => void) {
  await using brain = await startFakeBrain({
    apiVersion: "2.5",
    seed: seed()
      .account({ name: "O365:kept@corp.example" })
      .group({ name: "NoBlock", type: "account", members: ["kept@corp.example"] })
      .group({ name: "Block", type: "account", members: [] }),
  });
  const clock = { now: 1_000_000 };
  const api = loopApi(brain, clock);
  const config = testConfig({ blockTypes: new Set(["account"]) });
  const client = testClientAs();
  const cycle = () =>
    runCycle(
      config,
      [{
        brain: { entry: "brain.test", baseUrl: brain.url, apiVersion: "2.5", auth: "token" },
        api,
      }],
      [client],
      {
        dryRun: false,
        groom: false,
        now: new Date(clock.now),
        insideWindow: true,
        confirmBlastRadius: false,
      },
    );
  try {
    await cycle();
    between(brain);
    clock.now += 5 * 60_000;
    const second = await cycle();
    return { brain, second, blocked: client.device.enforced("account") };
  } finally {
    await api.close();
  }
}

Deno.test("(b) a no-block member added between cycles is never blocked", async () => {
  const { second, blocked } = await twoCycles((brain) => {
    brain.addAccount({ name: "O365:new@corp.example", tags: ["vectra_account_block"] });
    brain.addGroupMember("NoBlock", "account", "new@corp.example");
  });
  assert.deepEqual([...blocked], []);
  assert.ok(
    second.plans[0]!.account.skipped.some((s) => s.entity.name === "O365:new@corp.example"),
  );
});

Deno.test("(a) a remembered no-block uid that came to name another account protects it: the group is looked up afresh before blocking", async () => {
  const { second, blocked } = await twoCycles((brain) => {
    // The uid of a no-block member now also names a new account, tagged to be blocked.
    brain.addAccount({
      name: "O365:kept-2@corp.example",
      uid: "kept@corp.example",
      tags: ["vectra_account_block"],
    });
  });
  assert.deepEqual([...blocked], [], "the new account is protected");
  const skipped = second.plans[0]!.account.skipped.find((s) =>
    s.entity.name === "O365:kept-2@corp.example"
  );
  assert.ok(skipped?.reasons.some((r) => r.includes("looked up again before blocking")));
});
