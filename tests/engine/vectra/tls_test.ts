import assert from "node:assert/strict";
import { seed } from "../../../demo/seed.ts";
import { VectraError } from "../../../engine/vectra/api.ts";
import { assertNoSecrets, messagesOf, rejection, startHarness } from "./_fixture.ts";

/** A CA and a leaf certificate it signed for 127.0.0.1 and localhost, made with openssl. */
interface Pki {
  readonly dir: string;
  readonly caFile: string;
  readonly cert: string;
  readonly key: string;
}

async function openssl(dir: string, args: string[]): Promise<void> {
  const output = await new Deno.Command("openssl", {
    args,
    cwd: dir,
    stdout: "piped",
    stderr: "piped",
  })
    .output();
  if (!output.success) {
    throw new Error(`openssl ${args[0]} failed: ${new TextDecoder().decode(output.stderr)}`);
  }
}

async function makePki(): Promise<Pki> {
  const dir = await Deno.makeTempDir({ prefix: "var-tls-" });
  await openssl(dir, [
    "req",
    "-x509",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-days",
    "2",
    "-keyout",
    "ca.key",
    "-out",
    "ca.pem",
    "-subj",
    "/CN=var test CA",
    "-addext",
    "basicConstraints=critical,CA:TRUE",
    "-addext",
    "keyUsage=critical,keyCertSign,cRLSign",
  ]);
  await openssl(dir, [
    "req",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-keyout",
    "leaf.key",
    "-out",
    "leaf.csr",
    "-subj",
    "/CN=localhost",
  ]);
  await Deno.writeTextFile(
    `${dir}/leaf.ext`,
    "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n" +
      "extendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1\n",
  );
  await openssl(dir, [
    "x509",
    "-req",
    "-in",
    "leaf.csr",
    "-CA",
    "ca.pem",
    "-CAkey",
    "ca.key",
    "-CAcreateserial",
    "-days",
    "2",
    "-out",
    "leaf.pem",
    "-extfile",
    "leaf.ext",
  ]);
  return {
    dir,
    caFile: `${dir}/ca.pem`,
    cert: await Deno.readTextFile(`${dir}/leaf.pem`),
    key: await Deno.readTextFile(`${dir}/leaf.key`),
  };
}

const DATA = seed().host({ name: "ward-1", tags: ["block"] });

Deno.test("Vectra API over HTTPS verifies the brain's certificate", async (t) => {
  const pki = await makePki();
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
    await Deno.remove(pki.dir, { recursive: true });
  }
});
