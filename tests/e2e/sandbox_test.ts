import assert from "node:assert/strict";
import { startFakeBrain } from "../../demo/brain.ts";
import { seed } from "../../demo/seed.ts";
import { secretFileName } from "../../engine/secrets.ts";
import { BINARY_V8_FLAGS } from "../../scripts/binary_flags.ts";
import { REPO_ROOT, runDeno, runMain } from "./_run_main.ts";

function configFor(url: string, extra = ""): string {
  return [
    `COGNITO_URL=${url}`,
    "AUTH=TOKEN",
    "BLOCK_TYPES=host",
    "THIRD_PARTY_CLIENTS=test_client",
    "TEST_CLIENT_DETERMINISTIC=true",
    "HEALTH_LISTEN=",
    "NO_BLOCK_HOST_GROUP_NAME=",
    "BLOCK_HOST_GROUP_NAME=",
    extra,
  ].join("\n") + "\n";
}

Deno.test("deno.json grants the binary exactly net, run and read", async () => {
  const config = JSON.parse(await Deno.readTextFile(`${REPO_ROOT}deno.json`));
  assert.deepEqual(config.permissions.default, { net: true, run: true, read: true });
});

Deno.test("the binary runs without a JIT, and processes under test run as it does", async () => {
  // --jitless: no generated code and no optimising-compiler memory (docs/performance.md)
  assert.deepEqual(BINARY_V8_FLAGS.split(","), ["--optimize-for-size", "--jitless"]);
  const dir = await Deno.makeTempDir();
  try {
    const probe = `${dir}/probe.ts`;
    await Deno.writeTextFile(probe, "console.log(typeof WebAssembly);\n");
    const result = await runDeno(["run", "-P", probe]);
    assert.equal(result.code, 0, result.stderr);
    // without a JIT, V8 offers no WebAssembly: the probe saw the binary's flags
    assert.equal(result.stdout.trim(), "undefined");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("deno run -P refuses writing files, reading the environment, sys and ffi", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const probe = `${dir}/probe.ts`;
    await Deno.writeTextFile(
      probe,
      `const results: Record<string, string> = {};
for (const [name, attempt] of Object.entries({
  write: () => Deno.writeTextFileSync(${JSON.stringify(`${dir}/written`)}, "x"),
  env: () => Deno.env.get("HOME"),
  sys: () => Deno.hostname(),
  ffi: () => Deno.dlopen("libc.so.6", {}),
  read: () => Deno.readTextFileSync(${JSON.stringify(probe)}),
})) {
  try { attempt(); results[name] = "allowed"; }
  catch (e) { results[name] = e instanceof Deno.errors.NotCapable || e instanceof Deno.errors.PermissionDenied ? "denied" : "error " + String(e); }
}
console.log(JSON.stringify(results));
`,
    );
    const result = await runDeno(["run", "-P", probe]);
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(JSON.parse(result.stdout), {
      write: "denied",
      env: "denied",
      sys: "denied",
      ffi: "denied",
      read: "allowed",
    });
    await assert.rejects(Deno.stat(`${dir}/written`), Deno.errors.NotFound);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("main.ts run under -P blocks a host, and a secret from --secrets-dir never appears in --debug output", async () => {
  const token = "5f0c2b9e7d41a8c3e6b1f0d9a2c4e7b8d1f3a5c7";
  const brain = await startFakeBrain({
    apiVersion: "2.5",
    token,
    seed: seed()
      .host({ name: "ward-3-pc", ip: "10.1.2.3", tags: ["vectra_host_block"] })
      // a hostile name carrying the secret: it must be redacted wherever it is printed
      .host({ name: `leak-${token}`, ip: "10.1.2.4", tags: ["vectra_host_block"] }),
  });
  const dir = await Deno.makeTempDir();
  try {
    assert.ok(token.length >= 20);
    await Deno.mkdir(`${dir}/secrets`);
    await Deno.writeTextFile(`${dir}/secrets/${secretFileName(brain.url, "Token")}`, `${token}\n`);
    await Deno.writeTextFile(`${dir}/var.env`, configFor(brain.url));
    const result = await runMain([
      "run",
      "--debug",
      "--config",
      `${dir}/var.env`,
      "--secrets-dir",
      `${dir}/secrets`,
    ]);
    const output = result.stdout + result.stderr;
    assert.equal(result.code, 0, output);
    assert.ok(brain.tags("host", "ward-3-pc").includes("VAR Host Blocked"), output);
    assert.match(output, / DEBUG /);
    assert.ok(output.includes("leak-[REDACTED]"), "the hostile name is printed, redacted");
    assert.ok(!output.includes(token), "the token appears in the output");
    assert.ok(!output.includes(token.slice(0, 16)), "part of the token appears in the output");
    assert.match(output, /uses http:\/\//, "the http:// warning is logged");
  } finally {
    await brain.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("main.ts run exits 1 naming the missing secret and the commands that set it", async () => {
  const brain = await startFakeBrain({ apiVersion: "2.5" });
  const dir = await Deno.makeTempDir();
  try {
    await Deno.mkdir(`${dir}/secrets`);
    await Deno.writeTextFile(`${dir}/var.env`, configFor(brain.url));
    const result = await runMain([
      "run",
      "--config",
      `${dir}/var.env`,
      "--secrets-dir",
      `${dir}/secrets`,
    ], { env: { DBUS_SESSION_BUS_ADDRESS: "unix:path=/nonexistent", DISPLAY: "" } });
    assert.equal(result.code, 1, result.stdout + result.stderr);
    assert.match(result.stderr, /Cannot find the secret Token for http:\/\/127\.0\.0\.1:\d+/);
    assert.match(result.stderr, /var secrets set http:\/\/127\.0\.0\.1:\d+ Token/);
    assert.ok(result.stderr.includes(secretFileName(brain.url, "Token")));
    assert.equal(brain.requests.length, 0, "nothing was contacted");
  } finally {
    await brain.close();
    await Deno.remove(dir, { recursive: true });
  }
});
