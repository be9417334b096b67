/**
 * Issue 8 end to end: the fake brain (API v3.4, OAuth), a fake FortiGate and a fake PAN-OS;
 * `main.ts run` under `deno run -P` blocks a tagged host, a tagged detection's destinations
 * and the static list on both firewalls, then unblocks each when its tag or line goes.
 */

import assert from "node:assert/strict";
import { COMMA_READINGS, startFakeBrain } from "../../demo/brain.ts";
import { seed } from "../../demo/seed.ts";
import { secretFileName } from "../../engine/secrets.ts";
import { startFakeFortiGate } from "../fakes/fortinet.ts";
import { startFakePan } from "../fakes/pan.ts";
import { runVar } from "./_harness.ts";

const FORTI_TOKEN = "fgt-token-e2e-firewalls";
const PAN_KEY = "pan-key-e2e-firewalls";
const DST = "93.184.216.34";

for (const reading of COMMA_READINGS) {
  Deno.test(`var run blocks and unblocks a host, a detection and static entries on FortiGate and PAN-OS [comma read ${reading}]`, async () => {
    await using brain = await startFakeBrain({
      apiVersion: "3.4",
      commaReading: reading,
      seed: seed()
        .host({ name: "ward-3-pc", ip: "10.1.2.3", tags: ["vectra_host_block"] })
        .host({ name: "quiet-pc", ip: "10.1.2.9" })
        .detection({
          src: "quiet-pc",
          type: "Hidden HTTPS Tunnel",
          category: "COMMAND & CONTROL",
          dstIps: [DST, "10.9.9.9"],
          tags: ["block"],
        })
        .group({ name: "NoBlock", type: "host", members: [] })
        .group({ name: "Block", type: "host", members: [] }),
    });
    const forti = startFakeFortiGate({ token: FORTI_TOKEN });
    const pan = startFakePan({ apiKey: PAN_KEY });
    const dir = await Deno.makeTempDir({ prefix: "var_e2e_fw_" });
    try {
      const secrets = `${dir}/secrets`;
      await Deno.mkdir(secrets);
      const secret = (service: string, key: string, value: string) =>
        Deno.writeTextFile(`${secrets}/${secretFileName(service, key)}`, `${value}\n`);
      await secret(brain.url, "Client_ID", brain.credentials.clientId);
      await secret(brain.url, "Secret_Key", brain.credentials.clientSecret);
      await secret("Fortinet", "127.0.0.1", FORTI_TOKEN);
      await secret(pan.url, "API_Key", PAN_KEY);
      await Deno.writeTextFile(`${dir}/static.txt`, "45.33.32.156\n104.16.0.0/13\n");
      const env = [
        `COGNITO_URL=${brain.url}`,
        "VECTRA_API_VERSION=3.4",
        "BLOCK_HOST_URGENCY=",
        "BLOCK_ACCOUNT_URGENCY=",
        "BLOCK_TYPES=host,detection,static",
        "THIRD_PARTY_CLIENTS=fortinet,pan",
        `FORTINET_IP=${forti.entry}`,
        `FORTINET_PORT=${forti.port}`,
        `PAN_URLS=${pan.url}`,
        "STATIC_BLOCK_DESTINATION_IPS=static.txt",
        "HEALTH_LISTEN=",
      ].join("\n");
      await Deno.writeTextFile(`${dir}/var.env`, `${env}\n`);
      const run = async () => {
        const result = await runVar(`${dir}/var.env`, secrets, { json: false });
        assert.equal(result.code, 0, `${result.stdout}\n${result.stderr}`);
        return result;
      };

      await run();
      assert.deepEqual(brain.tags("host", "ward-3-pc"), [
        "vectra_host_block",
        "VAR Host Blocked",
        "VAR ID:Fortinet Client:10.1.2.3",
        "VAR ID:PAN Client:10.1.2.3",
      ]);
      const detectionId = brain.idOf("detection", 5001);
      assert.deepEqual(brain.tags("detection", detectionId), [
        "block",
        "VAR Detection Blocked",
        `VAR ID:Fortinet Client:${DST}`,
        `VAR ID:PAN Client:${DST}`,
      ]);
      assert.deepEqual(forti.fake.members("Internal-Block"), ["none", "var-host-10.1.2.3"]);
      assert.deepEqual(forti.fake.members("External-Block")?.toSorted(), [
        "none",
        "var-detection-93.184.216.34",
        "var-static-104.16.0.0_13",
        "var-static-45.33.32.156",
      ]);
      assert.deepEqual(pan.fake.tagged("Block_Host"), new Set(["10.1.2.3"]));
      assert.deepEqual(pan.fake.tagged("Block_Detection"), new Set([DST]));
      assert.deepEqual(pan.fake.tagged("Block_Static"), new Set(["45.33.32.156", "104.16.0.0/13"]));

      brain.setTags("host", "ward-3-pc", brain.tags("host", "ward-3-pc").slice(1));
      brain.setTags("detection", detectionId, brain.tags("detection", detectionId).slice(1));
      await Deno.writeTextFile(`${dir}/static.txt`, "45.33.32.156\n");
      await run();
      assert.deepEqual(brain.tags("host", "ward-3-pc"), []);
      assert.deepEqual(brain.tags("detection", detectionId), []);
      assert.deepEqual(forti.fake.members("Internal-Block"), ["none"]);
      assert.deepEqual(forti.fake.members("External-Block"), ["none", "var-static-45.33.32.156"]);
      assert.deepEqual(pan.fake.tagged("Block_Host"), new Set());
      assert.deepEqual(pan.fake.tagged("Block_Detection"), new Set());
      assert.deepEqual(pan.fake.tagged("Block_Static"), new Set(["45.33.32.156"]));
      assert.match(brain.notes("host", "ward-3-pc").at(-1)?.note ?? "", /^VAR: Unblocked on /);
    } finally {
      await Deno.remove(dir, { recursive: true });
      await forti.close();
      await pan.close();
    }
  });
}
