/**
 * Issue 29 end to end: the fake brain (API v2.5, token) and a fake FortiManager in
 * workspace mode; `main.ts run` under `deno run -P` blocks two tagged hosts, a tagged
 * detection's destination and the static list in one JSON-RPC session per cycle under the
 * ADOM lock, committed and installed on every device, then unblocks them.
 */

import assert from "node:assert/strict";
import { startFakeBrain } from "../../demo/brain.ts";
import { seed } from "../../demo/seed.ts";
import { secretFileName } from "../../engine/secrets.ts";
import { startFakeFortiManager } from "../fakes/fortimanager.ts";
import { runVar } from "./_harness.ts";

const PASSWORD = "fmg-e2e-Pa55";
const DST = "93.184.216.34";

Deno.test("var run blocks and unblocks hosts, a detection and static entries through FortiManager, one session per cycle", async () => {
  await using brain = await startFakeBrain({
    apiVersion: "2.5",
    seed: seed()
      .host({ name: "ward-3-pc", ip: "10.1.2.3", tags: ["vectra_host_block"] })
      .host({ name: "ward-4-pc", ip: "10.1.2.4", tags: ["vectra_host_block"] })
      .host({ name: "quiet-pc", ip: "10.1.2.9" })
      .detection({
        src: "quiet-pc",
        type: "Hidden HTTPS Tunnel",
        category: "COMMAND & CONTROL",
        dstIps: [DST],
        tags: ["block"],
      }),
  });
  await using fmg = startFakeFortiManager({ users: { apiadmin: PASSWORD }, workspaceMode: true });
  const dir = await Deno.makeTempDir({ prefix: "var_e2e_fmg_" });
  try {
    const secrets = `${dir}/secrets`;
    await Deno.mkdir(secrets);
    const secret = (service: string, key: string, value: string) =>
      Deno.writeTextFile(`${secrets}/${secretFileName(service, key)}`, `${value}\n`);
    await secret(brain.url, "Token", brain.credentials.token ?? "");
    await secret(fmg.url, "password", PASSWORD);
    await Deno.writeTextFile(`${dir}/static.txt`, "45.33.32.156\n104.16.0.0/13\n");
    const env = [
      `COGNITO_URL=${brain.url}`,
      "AUTH=TOKEN",
      "VECTRA_API_VERSION=2.5",
      "BLOCK_HOST_URGENCY=",
      "BLOCK_ACCOUNT_URGENCY=",
      "BLOCK_HOST_GROUP_NAME=",
      "NO_BLOCK_HOST_GROUP_NAME=",
      "BLOCK_TYPES=host,detection,static",
      "THIRD_PARTY_CLIENTS=fortimanager",
      `FORTIMANAGER_URLS=${fmg.url}`,
      "FORTIMANAGER_INSTALL_DEVICES=fgt-ward,fgt-core",
      "FORTIMANAGER_TASK_POLL_SECONDS=0.01",
      "STATIC_BLOCK_DESTINATION_IPS=static.txt",
      "HEALTH_LISTEN=",
    ].join("\n");
    await Deno.writeTextFile(`${dir}/var.env`, `${env}\n`);
    const run = async () => {
      const before = fmg.fake.requests.length;
      const result = await runVar(`${dir}/var.env`, secrets, { json: false });
      assert.equal(result.code, 0, `${result.stdout}\n${result.stderr}`);
      const sent = fmg.fake.requests.slice(before).map((r) => `${r.method} ${r.url}`);
      assert.equal(sent.filter((c) => c === "exec /sys/login/user").length, 1);
      assert.deepEqual(sent.slice(-2), [
        "exec /dvmdb/adom/vectra_adom/workspace/unlock",
        "exec /sys/logout",
      ]);
      assert.equal(fmg.fake.sessions, 0);
      return sent;
    };
    const device = (name: string) =>
      Object.fromEntries(
        [...fmg.fake.installed(name)].filter(([, m]) => m.length > 0).map((
          [g, m],
        ) => [g, m.toSorted()]),
      );

    const first = await run();
    assert.equal(first.filter((c) => c.endsWith("/install/package")).length, 2);
    assert.deepEqual(brain.tags("host", "ward-3-pc"), [
      "vectra_host_block",
      "VAR Host Blocked",
      "VAR ID:FMG Client:10.1.2.3",
    ]);
    const detectionId = brain.idOf("detection", 5001);
    assert.deepEqual(brain.tags("detection", detectionId), [
      "block",
      "VAR Detection Blocked",
      `VAR ID:FMG Client:${DST}`,
    ]);
    for (const name of ["fgt-ward/root", "fgt-core/root"]) {
      assert.deepEqual(device(name), {
        Blocked_Vectra_IPs: ["var-host-10.1.2.3", "var-host-10.1.2.4"],
        Blocked_Vectra_Destinations: [
          "var-detection-93.184.216.34",
          "var-static-104.16.0.0_13",
          "var-static-45.33.32.156",
        ],
      });
    }

    const quiet = await run();
    assert.ok(!quiet.some((c) => c.endsWith("/install/package")), `nothing installed: ${quiet}`);

    brain.setTags("host", "ward-3-pc", brain.tags("host", "ward-3-pc").slice(1));
    brain.setTags("detection", detectionId, brain.tags("detection", detectionId).slice(1));
    await Deno.writeTextFile(`${dir}/static.txt`, "45.33.32.156\n");
    await run();
    assert.deepEqual(brain.tags("host", "ward-3-pc"), []);
    assert.deepEqual(brain.tags("detection", detectionId), []);
    assert.deepEqual(device("fgt-core/root"), {
      Blocked_Vectra_IPs: ["var-host-10.1.2.4"],
      Blocked_Vectra_Destinations: ["var-static-45.33.32.156"],
    });
    assert.ok(!fmg.fake.db.addresses.has("var-host-10.1.2.3"), "var deletes what it made");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
