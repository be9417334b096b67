import assert from "node:assert/strict";
import { seed } from "../../../demo/seed.ts";
import { VectraError } from "../../../engine/vectra/api.ts";
import { assertNoSecrets, messagesOf, rejection, startHarness } from "./_fixture.ts";
import { makeTestCertificates } from "../../_tls.ts";

const DATA = seed().host({ name: "ward-1", tags: ["block"] });

Deno.test("Vectra API over HTTPS verifies the brain's certificate", async (t) => {
  const pki = await makeTestCertificates();
  try {
    for (const version of ["2.5", "3.4"] as const) {
      await t.step(`v${version} refuses a certificate from an unknown CA by default`, async () => {
        await using h = await startHarness({
          apiVersion: version,
          seed: DATA,
          cert: pki.cert,
          key: pki.key,
          http: { retries: 0 },
        });
        assert.ok(h.brain.url.startsWith("https://"));
        const error = await rejection(h.api.listHosts({ tag: "block" }), VectraError);
        assert.equal(error.status, null);
        assert.match(error.message, /certificate|UnknownIssuer|tls/i);
        assert.equal(h.brain.requests.length, 0, "nothing reached the brain");
        assertNoSecrets([...messagesOf(error), ...h.logs], h.secrets());
      });

      await t.step(`v${version} accepts it with VECTRA_CA_FILE`, async () => {
        await using h = await startHarness({
          apiVersion: version,
          seed: DATA,
          cert: pki.cert,
          key: pki.key,
          caFile: pki.caFile,
        });
        const hosts = await h.api.listHosts({ tag: "block" });
        assert.deepEqual(hosts.map((host) => host.name), ["ward-1"]);
        assert.ok(!h.logs.some((line) => /verification is off/.test(line)));
      });

      await t.step(
        `v${version} accepts it with VECTRA_VERIFY_TLS=false, with a warning`,
        async () => {
          await using h = await startHarness({
            apiVersion: version,
            seed: DATA,
            cert: pki.cert,
            key: pki.key,
            verifyTls: false,
          });
          const hosts = await h.api.listHosts({ tag: "block" });
          assert.deepEqual(hosts.map((host) => host.name), ["ward-1"]);
          assert.ok(
            h.logs.some((line) => line.startsWith("warning") && /verification is off/.test(line)),
            `expected a warning, got ${JSON.stringify(h.logs)}`,
          );
          assertNoSecrets(h.logs, h.secrets());
        },
      );
    }
  } finally {
    await pki.cleanup();
  }
});
