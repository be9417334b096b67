/**
 * Issue 29 end to end: the fake brain (API v2.5, token) and a fake Check Point management
 * server; `main.ts run` under `deno run -P` blocks two tagged hosts, a tagged detection's
 * destination and the static list in one management session per cycle, published and
 * installed once for the entities, then unblocks them when their tags or lines go.
 */

import assert from "node:assert/strict";
import { startFakeBrain } from "../../demo/brain.ts";
import { seed } from "../../demo/seed.ts";
import { secretFileName } from "../../engine/secrets.ts";
import { startFakeCheckPoint } from "../fakes/checkpoint.ts";
import { runVar } from "./_harness.ts";

const PASSWORD = "cp-e2e-Pa55";
const DST = "93.184.216.34";

Deno.test("var run blocks and unblocks hosts, a detection and static entries on Check Point, one session per cycle", async () => {
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
  await using cp = startFakeCheckPoint({
    users: { "var-api": PASSWORD },
    gateways: ["gw-ward", "gw-core"],
  });
  const dir = await Deno.makeTempDir({ prefix: "var_e2e_cp_" });
  try {
    const secrets = `${dir}/secrets`;
    await Deno.mkdir(secrets);
    const secret = (service: string, key: string, value: string) =>
      Deno.writeTextFile(`${secrets}/${secretFileName(service, key)}`, `${value}\n`);
    await secret(brain.url, "Token", brain.credentials.token ?? "");
    await secret("CheckPoint", "var-api", PASSWORD);
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
      "THIRD_PARTY_CLIENTS=checkpoint",
      "CHECKPOINT_HOST=http://127.0.0.1",
      `CHECKPOINT_PORT=${cp.port}`,
      "CHECKPOINT_USER=var-api",
      "CHECKPOINT_INSTALL_TARGETS=gw-ward,gw-core",
      "CHECKPOINT_TASK_POLL_SECONDS=0.01",
      "STATIC_BLOCK_DESTINATION_IPS=static.txt",
      "HEALTH_LISTEN=",
    ].join("\n");
    await Deno.writeTextFile(`${dir}/var.env`, `${env}\n`);
    const run = async () => {
      const before = cp.fake.requests.length;
      const result = await runVar(`${dir}/var.env`, secrets, { json: false });
      assert.equal(result.code, 0, `${result.stdout}\n${result.stderr}`);
      const sent = cp.fake.requests.slice(before).map((r) => r.command);
      assert.equal(sent.filter((c) => c === "login").length, 1, "one session per cycle");
      assert.equal(sent.at(-1), "logout");
      assert.equal(cp.fake.sessions, 0);
      return sent;
    };
    const gateway = (name: string) =>
      Object.fromEntries([...cp.fake.installed(name)].map(([g, m]) => [g, [...m].sort()]));

    const first = await run();
    // The entities in one batch, the static list in another.
    assert.equal(first.filter((c) => c === "install-policy").length, 2);
    assert.deepEqual(brain.tags("host", "ward-3-pc"), [
      "vectra_host_block",
      "VAR Host Blocked",
      "VAR ID:CheckPoint Client:10.1.2.3",
    ]);
    const detectionId = brain.idOf("detection", 5001);
    assert.deepEqual(brain.tags("detection", detectionId), [
      "block",
      "VAR Detection Blocked",
      `VAR ID:CheckPoint Client:${DST}`,
    ]);
    for (const name of ["gw-ward", "gw-core"]) {
      assert.deepEqual(gateway(name), {
        "Internal-Block": ["var-host-10.1.2.3", "var-host-10.1.2.4"],
        "External-Block": [
          "var-detection-93.184.216.34",
          "var-static-104.16.0.0_13",
          "var-static-45.33.32.156",
        ],
      });
    }

    const quiet = await run();
    assert.ok(
      !quiet.includes("publish") && !quiet.includes("install-policy"),
      `nothing to change, nothing published or installed: ${quiet}`,
    );

    brain.setTags("host", "ward-3-pc", brain.tags("host", "ward-3-pc").slice(1));
    brain.setTags("detection", detectionId, brain.tags("detection", detectionId).slice(1));
    await Deno.writeTextFile(`${dir}/static.txt`, "45.33.32.156\n");
    await run();
    assert.deepEqual(brain.tags("host", "ward-3-pc"), []);
    assert.deepEqual(brain.tags("detection", detectionId), []);
    assert.deepEqual(gateway("gw-core"), {
      "Internal-Block": ["var-host-10.1.2.4"],
      "External-Block": ["var-static-45.33.32.156"],
    });
    assert.equal(cp.fake.object("var-host-10.1.2.3"), undefined, "var deletes what it made");
    assert.match(brain.notes("host", "ward-3-pc").at(-1)?.note ?? "", /^VAR: Unblocked on /);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
