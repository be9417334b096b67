import assert from "node:assert/strict";
import { COMMA_READINGS, startFakeBrain } from "../../demo/brain.ts";
import { seed } from "../../demo/seed.ts";
import { secretFileName } from "../../engine/secrets.ts";
import { runMain } from "./_run_main.ts";

function worldSeed() {
  return seed()
    .host({ name: "ward-3-pc", ip: "10.1.2.3", tags: ["vectra_host_block", "ward-3"] })
    .host({ name: "radiology-ws", ip: "10.1.2.4", threat: 75, certainty: 82 })
    .host({ name: "kiosk-lobby", ip: "10.1.2.5" })
    .host({ name: "icu-monitor", ip: "10.1.2.6", tags: ["vectra_host_block"] })
    .host({
      name: "reception",
      ip: "10.1.2.7",
      tags: ["front-desk", "VAR Host Blocked", "VAR ID:Test Client:6f1c2d3e-uuid"],
    })
    .host({ name: "quiet", ip: "10.1.2.8", threat: 10, certainty: 10 })
    .account({ name: "O365:dr.jones@hospital.example", tags: ["vectra_account_block"] })
    .detection({
      src: "quiet",
      type: "Hidden HTTPS Tunnel",
      dstIps: ["45.142.212.100"],
      tags: ["block"],
    })
    .group({ name: "NoBlock", type: "host", members: ["icu-monitor"] })
    .group({ name: "Block", type: "host", members: ["kiosk-lobby"] })
    .group({ name: "NoBlock", type: "account", members: [] })
    .group({ name: "Block", type: "account", members: [] })
    .build();
}

const STAMP =
  /^VAR: (Blocked|Unblocked) on \d\d [A-Z][a-z]{2} \d{4} at \d\d:\d\d:\d\d by Test Client/;

for (const reading of COMMA_READINGS) {
  Deno.test(`var run blocks, converges, and unblocks after changes in Vectra [comma read ${reading}]`, async () => {
    await using brain = await startFakeBrain({
      apiVersion: "2.5",
      seed: worldSeed(),
      commaReading: reading,
    });
    const dir = await Deno.makeTempDir({ prefix: "var-e2e-engine-" });
    try {
      const entry = brain.url;
      await Deno.mkdir(`${dir}/secrets`);
      await Deno.writeTextFile(
        `${dir}/secrets/${secretFileName(entry, "Token")}`,
        `${brain.credentials.token}\n`,
      );
      await Deno.writeTextFile(
        `${dir}/var.env`,
        [
          `COGNITO_URL=${entry}`,
          "AUTH=TOKEN",
          "VECTRA_API_VERSION=2.5",
          "THIRD_PARTY_CLIENTS=test_client",
          "TEST_CLIENT_DETERMINISTIC=true",
          "BLOCK_TYPES=host,account,detection",
          "BLOCK_HOST_THREAT_CERTAINTY=50 and 50",
          "",
        ].join("\n"),
      );
      const run = async (expectedCode: number) => {
        const result = await runMain([
          "run",
          "--config",
          `${dir}/var.env`,
          "--secrets-dir",
          `${dir}/secrets`,
        ]);
        assert.equal(result.code, expectedCode, `${result.stdout}\n${result.stderr}`);
        return result;
      };

      // 1. The first run blocks what matches and unblocks what the original left behind.
      const first = await run(0);
      const readings = `${first.stdout}\n${first.stderr}`.split("\n")
        .filter((line) => line.includes("reads a comma in a list filter"));
      assert.equal(readings.length, 1, readings.join("\n"));
      const shown = {
        anyof: "any-of",
        literal: "literal",
        first: "first item",
        ignored: "ignored",
      };
      assert.match(readings[0] ?? "", new RegExp(`tags on /hosts: ${shown[reading]}`));
      assert.match(first.stdout, /because tag vectra_host_block/);
      assert.deepEqual(brain.tags("host", "ward-3-pc"), [
        "vectra_host_block",
        "ward-3",
        "VAR Host Blocked",
        "VAR ID:Test Client:host-1-10.1.2.3",
      ]);
      assert.deepEqual(brain.tags("host", "radiology-ws"), [
        "VAR Host Blocked",
        "VAR ID:Test Client:host-2-10.1.2.4",
      ]);
      assert.deepEqual(brain.tags("host", "kiosk-lobby"), [
        "VAR Host Blocked",
        "VAR ID:Test Client:host-3-10.1.2.5",
      ]);
      assert.deepEqual(brain.tags("host", "icu-monitor"), ["vectra_host_block"]);
      assert.deepEqual(brain.tags("host", "reception"), ["front-desk"]);
      assert.deepEqual(brain.tags("host", "quiet"), []);
      assert.deepEqual(brain.tags("account", "O365:dr.jones@hospital.example"), [
        "vectra_account_block",
        "VAR Account Blocked",
        "VAR ID:Test Client:account-1001",
      ]);
      const detection = brain.all("detection")[0]!.id;
      assert.deepEqual(brain.tags("detection", detection), [
        "block",
        "VAR Detection Blocked",
        `VAR ID:Test Client:detection-${detection}`,
      ]);
      const notes = (kind: "host" | "account" | "detection", ref: string | number) =>
        brain.notes(kind, ref).map((n) => n.note);
      assert.equal(notes("host", "ward-3-pc").length, 1);
      assert.match(notes("host", "ward-3-pc")[0]!, STAMP);
      assert.match(notes("host", "ward-3-pc")[0]!, /\(tag vectra_host_block\)$/);
      assert.match(
        notes("host", "radiology-ws")[0]!,
        /\(threat 75 >= 50 and certainty 82 >= 50\)$/,
      );
      assert.match(notes("host", "kiosk-lobby")[0]!, /\(member of group Block\)$/);
      assert.match(notes("host", "reception")[0]!, /^VAR: Unblocked on .*\(no longer matches\)$/);
      assert.deepEqual(notes("host", "icu-monitor"), []);

      // 2. A second run changes nothing.
      brain.clearRequests();
      const second = await run(0);
      assert.match(second.stdout, /Nothing to do\./);
      const writes = brain.requests.filter((r) =>
        r.method === "PATCH" || (r.method === "POST" && r.route !== "/oauth2/token")
      );
      assert.deepEqual(writes.map((r) => r.endpoint), []);

      // 3. Changes in Vectra: tag removed, score dropped, member added to the no-block group.
      brain.setTags("host", "ward-3-pc", [
        "ward-3",
        "VAR Host Blocked",
        "VAR ID:Test Client:host-1-10.1.2.3",
      ]);
      brain.setScores("host", "radiology-ws", { threat: 20, certainty: 20 });
      brain.addGroupMember("NoBlock", "host", "kiosk-lobby");
      await run(0);
      assert.deepEqual(brain.tags("host", "ward-3-pc"), ["ward-3"]);
      assert.deepEqual(brain.tags("host", "radiology-ws"), []);
      assert.deepEqual(brain.tags("host", "kiosk-lobby"), []);
      assert.match(notes("host", "ward-3-pc")[1]!, /^VAR: Unblocked on .*\(no longer matches\)$/);
      assert.match(
        notes("host", "radiology-ws")[1]!,
        /^VAR: Unblocked on .*\(no longer matches\)$/,
      );
      assert.match(
        notes("host", "kiosk-lobby")[1]!,
        /^VAR: Unblocked on .*\(member of no-block group NoBlock\)$/,
      );
      // Still blocked: the account and the detection.
      assert.deepEqual(brain.tags("account", "O365:dr.jones@hospital.example"), [
        "vectra_account_block",
        "VAR Account Blocked",
        "VAR ID:Test Client:account-1001",
      ]);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}
