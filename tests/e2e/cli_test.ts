import assert from "node:assert/strict";
import { createSocket } from "node:dgram";
import { CLIENTS } from "../../clients/mod.ts";
import { parseConfig } from "../../config.ts";
import { startFakeBrain } from "../../demo/brain.ts";
import { seed } from "../../demo/seed.ts";
import { secretFileName } from "../../engine/secrets.ts";
import { startPrivateKeyring } from "../engine/_keyring.ts";
import { BINARY_V8_ARG } from "../../scripts/binary_flags.ts";
import { REPO_ROOT, runMain } from "./_run_main.ts";

/** No session bus: the keychain is unavailable, so secrets come from --secrets-dir only. */
const NO_KEYCHAIN = { DBUS_SESSION_BUS_ADDRESS: "unix:path=/nonexistent/bus", DISPLAY: "" };

function configFor(url: string, extra: string[] = []): string {
  return [
    `COGNITO_URL=${url}`,
    "AUTH=TOKEN",
    "BLOCK_TYPES=host",
    "NO_BLOCK_HOST_GROUP_NAME=",
    "BLOCK_HOST_GROUP_NAME=",
    "HEALTH_LISTEN=",
    "TEST_CLIENT_DETERMINISTIC=true",
    ...extra,
  ].join("\n") + "\n";
}

/** A fake v2.5 brain with one host tagged for blocking, its config and its token file. */
async function withBrain(
  extra: string[],
  body: (
    paths: { dir: string; config: string; secrets: string },
    brain: Awaited<ReturnType<typeof startFakeBrain>>,
  ) => Promise<void>,
): Promise<void> {
  const brain = await startFakeBrain({
    apiVersion: "2.5",
    seed: seed().host({ name: "ward-3-pc", ip: "10.1.2.3", tags: ["vectra_host_block"] }),
  });
  const dir = await Deno.makeTempDir();
  try {
    await Deno.mkdir(`${dir}/secrets`);
    await Deno.writeTextFile(
      `${dir}/secrets/${secretFileName(brain.url, "Token")}`,
      brain.credentials.token ?? "",
    );
    await Deno.writeTextFile(`${dir}/var.env`, configFor(brain.url, extra));
    await body({ dir, config: `${dir}/var.env`, secrets: `${dir}/secrets` }, brain);
  } finally {
    await brain.close();
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("every command answers --help with its usage and exit 0", async (t) => {
  const commands = [
    [],
    ["run"],
    ["plan"],
    ["demo"],
    ["config"],
    ["config", "check"],
    ["config", "template"],
    ["config", "init"],
    ["secrets"],
    ["secrets", "set"],
    ["secrets", "list"],
    ["secrets", "check"],
    ["test-syslog"],
    ["test-smtp"],
    ["version"],
  ];
  for (const command of commands) {
    await t.step(`var ${command.join(" ")} --help`, async () => {
      const result = await runMain([...command, "--help"]);
      assert.equal(result.code, 0, result.stderr);
      assert.ok(
        result.stdout.startsWith(`Usage: var ${command.join(" ")}`.trimEnd()),
        result.stdout,
      );
    });
  }
});

Deno.test("var version prints the version from deno.json", async () => {
  const result = await runMain(["version"]);
  assert.equal(result.code, 0);
  assert.match(result.stdout, /^var \d+\.\d+\.\d+\n$/);
});

Deno.test("an unknown option or command exits 1", async () => {
  const option = await runMain(["run", "--bogus"]);
  assert.equal(option.code, 1);
  assert.match(option.stderr, /unknown option '--bogus'/);
  const command = await runMain(["config", "frobnicate"]);
  assert.equal(command.code, 1);
});

Deno.test("--plaintext is refused with an explanation", async () => {
  const result = await runMain(["--loop", "--plaintext"]);
  assert.equal(result.code, 1);
  assert.match(result.stderr, /^Cannot use --plaintext: .*--secrets-dir DIR/);
});

Deno.test("var run exits 0 after a cycle that blocked, and the original's --alert changes nothing", async () => {
  await withBrain([], async (paths, brain) => {
    const alert = await runMain(
      ["--alert", "--config", paths.config, "--secrets-dir", paths.secrets],
      { env: NO_KEYCHAIN },
    );
    assert.equal(alert.code, 0, alert.stdout + alert.stderr);
    assert.deepEqual(
      brain.tags("host", "ward-3-pc"),
      ["vectra_host_block"],
      "dry run wrote nothing",
    );
    assert.match(alert.stdout, /planned +block +127\.0\.0\.1:\d+ +host +\d+ +ward-3-pc/);
    assert.match(alert.stdout, /because .*vectra_host_block/);

    const plan = await runMain(
      ["plan", "--config", paths.config, "--secrets-dir", paths.secrets],
      { env: NO_KEYCHAIN },
    );
    assert.equal(plan.code, 0, plan.stderr);
    assert.deepEqual(brain.tags("host", "ward-3-pc"), ["vectra_host_block"], "plan wrote nothing");

    const run = await runMain(
      ["--config", paths.config, "--secrets-dir", paths.secrets],
      { env: NO_KEYCHAIN },
    );
    assert.equal(run.code, 0, run.stdout + run.stderr);
    assert.ok(brain.tags("host", "ward-3-pc").includes("VAR Host Blocked"));
    assert.match(run.stdout, /^ok +block/m);
  });
});

Deno.test("var run exits 2 when an action fails and 3 when Vectra cannot be read", async () => {
  await withBrain(["TEST_CLIENT_FAIL_OPERATIONS=blockHost"], async (paths, brain) => {
    const failed = await runMain(
      ["run", "--config", paths.config, "--secrets-dir", paths.secrets],
      {
        env: NO_KEYCHAIN,
      },
    );
    assert.equal(failed.code, 2, failed.stdout + failed.stderr);
    assert.ok(!brain.tags("host", "ward-3-pc").includes("VAR Host Blocked"));
    brain.fault({ kind: "status", status: 403 }, { path: "/hosts", times: Infinity });
    const unreadable = await runMain(
      ["run", "--json", "--config", paths.config, "--secrets-dir", paths.secrets],
      { env: NO_KEYCHAIN },
    );
    assert.equal(unreadable.code, 3, unreadable.stdout + unreadable.stderr);
    for (const line of unreadable.stdout.trim().split("\n")) JSON.parse(line);
  });
});

Deno.test("the original's --update_secrets and --no_store_secrets are understood", async () => {
  await withBrain([], async (paths) => {
    const update = await runMain([
      "--update_secrets",
      "--no_store_secrets",
      "--config",
      paths.config,
    ], {
      env: NO_KEYCHAIN,
    });
    assert.equal(update.code, 1);
    assert.match(
      update.stderr,
      /--update-secrets asks on the terminal, but stdin is not a terminal/,
    );
  });
});

Deno.test("the original's --test_syslog sends the test message", async () => {
  const socket = createSocket("udp4");
  try {
    const received = new Promise<string>((resolve) => {
      socket.once("message", (message) => resolve(new TextDecoder().decode(message)));
    });
    await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", resolve));
    const port = socket.address().port;
    const dir = await Deno.makeTempDir();
    try {
      await Deno.writeTextFile(
        `${dir}/var.env`,
        [
          "COGNITO_URL=brain.example.com",
          "BLOCK_TYPES=host",
          "SYSLOG_SERVER=127.0.0.1",
          `SYSLOG_PORT=${port}`,
          "SYSLOG_PROTO=UDP",
          "SYSLOG_FORMAT=Standard",
        ].join("\n"),
      );
      const result = await runMain(["--test_syslog", "--config", `${dir}/var.env`]);
      assert.equal(result.code, 0, result.stdout + result.stderr);
      assert.match(await received, /INFO: TEST TEST TEST/);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  } finally {
    socket.close();
  }
});

Deno.test("var test-smtp exits 1 when the SMTP settings are incomplete", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/var.env`, "COGNITO_URL=brain.example.com\nBLOCK_TYPES=host\n");
    const result = await runMain(["--test_smtp", "--config", `${dir}/var.env`]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /Cannot send a test email: SMTP_SERVER is empty/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("var config template prints a file that config check accepts once a brain is set", async () => {
  const template = await runMain(["config", "template"]);
  assert.equal(template.code, 0);
  assert.match(template.stdout, /^# Which kinds of blocking run/m);
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(
      `${dir}/var.env`,
      template.stdout.replace("\nCOGNITO_URL=\n", "\nCOGNITO_URL=brain.example.com\n"),
    );
    await Deno.writeTextFile(`${dir}/static_dst_ips_to_block.txt`, "# nothing yet\n");
    const check = await runMain(["config", "check", "--config", `${dir}/var.env`]);
    assert.equal(check.code, 0, check.stderr);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("var config init asks on stderr, re-asks bad answers, stores the secret and prints var.env", async () => {
  await using keyring = await startPrivateKeyring();
  const answers = [
    "brain.example.com", // COGNITO_URL
    "token", // AUTH
    "host", // BLOCK_TYPES
    "", // BLOCK_HOST_TAG
    "", // UNBLOCK_HOST_TAG
    "-", // BLOCK_HOST_GROUP_NAME: empty
    "", // NO_BLOCK_HOST_GROUP_NAME
    "50 nand 60", // BLOCK_HOST_THREAT_CERTAINTY: refused
    "50 or 60",
    "Hidden DNS Tunnel", // BLOCK_HOST_DETECTION_TYPES
    "", // EXPLICIT_UNBLOCK
    "funday", // BLOCK_DAYS: refused
    "weekday",
    "8", // BLOCK_START_TIME
    "25", // BLOCK_END_TIME: refused
    "17",
    "", // THIRD_PARTY_CLIENTS
    "", // TEST_CLIENT_DETERMINISTIC
    "", // TEST_CLIENT_FAIL_OPERATIONS
    "y", // store secrets
    "init-secret-token",
  ];
  const result = await runMain(["config", "init"], {
    stdin: answers.join("\n") + "\n",
    env: keyring.env,
  });
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stderr, /Not accepted: "50 nand 60" is not a threshold/);
  assert.match(result.stderr, /Not accepted: "funday" is not a day/);
  assert.match(result.stderr, /Not accepted: "25" is not an hour 0-23/);
  assert.match(result.stderr, /Stored brain\.example\.com Token in secret-tool/);
  assert.ok(!result.stdout.includes("init-secret-token"), "no secret in var.env");
  assert.ok(!result.stderr.includes("init-secret-token"), "no secret echoed");
  const { config } = parseConfig(result.stdout, { path: "var.env", clients: CLIENTS });
  assert.deepEqual(config.brains.map((b) => [b.entry, b.auth]), [["brain.example.com", "token"]]);
  assert.deepEqual([...config.blockTypes], ["host"]);
  assert.equal(config.host.blockGroup, null);
  assert.deepEqual(config.host.threatCertainty, { threat: 50, op: "or", certainty: 60 });
  assert.deepEqual(config.host.detectionTypes, ["Hidden DNS Tunnel"]);
  assert.deepEqual([...config.window.days].sort(), [1, 2, 3, 4, 5]);
  assert.equal(config.window.startHour, 8);
  assert.equal(config.window.endHour, 17);
  const stored = await keyring.secretTool(
    ["lookup", "service", "brain.example.com", "username", "Token"],
  );
  assert.equal(stored.stdout, "init-secret-token");
});

Deno.test("var config init exits 1 when the answers end early", async () => {
  const result = await runMain(["config", "init"], { stdin: "brain.example.com\n" });
  assert.equal(result.code, 1);
  assert.match(result.stderr, /Cannot finish var config init: the input ended at AUTH/);
  assert.equal(result.stdout, "");
});

Deno.test("var secrets set, list and check use the keychain and the secrets directory, never showing values", async () => {
  await using keyring = await startPrivateKeyring();
  const dir = await Deno.makeTempDir();
  try {
    await Deno.mkdir(`${dir}/secrets`);
    await Deno.writeTextFile(
      `${dir}/var.env`,
      "COGNITO_URL=a.example.com,https://b.example.com\nAUTH=TOKEN\nBLOCK_TYPES=host\n",
    );
    const args = ["--config", `${dir}/var.env`, "--secrets-dir", `${dir}/secrets`];

    const before = await runMain(["secrets", "check", ...args], { env: keyring.env });
    assert.equal(before.code, 1);
    assert.match(before.stdout, /^0 of 2 secret\(s\) found$/m);
    assert.match(before.stderr, /Cannot find the secret Token for a\.example\.com: /);

    const set = await runMain(["secrets", "set", "a.example.com", "Token"], {
      stdin: "keychain-token-value\n",
      env: keyring.env,
    });
    assert.equal(set.code, 0, set.stderr);
    const stored = await keyring.secretTool([
      "lookup",
      "service",
      "a.example.com",
      "username",
      "Token",
    ]);
    assert.equal(stored.stdout, "keychain-token-value");

    await Deno.writeTextFile(`${dir}/secrets/https___b.example.com_Token`, "file-token-value\n");
    const list = await runMain(["secrets", "list", ...args], { env: keyring.env });
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /^a\.example\.com +Token +keychain +a\.example\.com_Token /m);
    assert.match(
      list.stdout,
      /^https:\/\/b\.example\.com +Token +file +https___b\.example\.com_Token /m,
    );
    assert.ok(
      !list.stdout.includes("keychain-token-value") && !list.stdout.includes("file-token-value"),
    );

    const after = await runMain(["secrets", "check", ...args], { env: keyring.env });
    assert.equal(after.code, 0, after.stderr);
    assert.match(after.stdout, /^2 of 2 secret\(s\) found$/m);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("var secrets check accepts PAN-OS credentials in place of the API key", async () => {
  await using keyring = await startPrivateKeyring();
  const dir = await Deno.makeTempDir();
  try {
    await Deno.mkdir(`${dir}/secrets`);
    await Deno.writeTextFile(
      `${dir}/var.env`,
      "COGNITO_URL=a.example.com\nAUTH=TOKEN\nBLOCK_TYPES=host\n" +
        "THIRD_PARTY_CLIENTS=pan\nPAN_URLS=fw.example\n",
    );
    await Deno.writeTextFile(`${dir}/secrets/a.example.com_Token`, "t\n");
    const args = ["--config", `${dir}/var.env`, "--secrets-dir", `${dir}/secrets`];
    const missing = await runMain(["secrets", "check", ...args], { env: keyring.env });
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /Cannot find the secret API_Key for fw\.example: /);

    await Deno.writeTextFile(`${dir}/secrets/fw.example_username`, "api-admin\n");
    await Deno.writeTextFile(`${dir}/secrets/fw.example_password`, "pw\n");
    const check = await runMain(["secrets", "check", ...args], { env: keyring.env });
    assert.equal(check.code, 0, check.stderr);
    assert.match(check.stdout, /^3 of 3 secret\(s\) found$/m);
    const list = await runMain(["secrets", "list", ...args], { env: keyring.env });
    assert.match(
      list.stdout,
      /^fw\.example +username +file +fw\.example_username +instead of API_Key/m,
    );
    assert.match(list.stdout, /^fw\.example +password +file +fw\.example_password /m);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("var secrets list and check work on a minimal var.env, with no static list to read", async () => {
  await using keyring = await startPrivateKeyring();
  const dir = await Deno.makeTempDir();
  try {
    await Deno.mkdir(`${dir}/secrets`);
    // BLOCK_TYPES defaults to every kind, static included, and no static list exists.
    await Deno.writeTextFile(
      `${dir}/var.env`,
      "COGNITO_URL=a.example.com\nAUTH=TOKEN\nTHIRD_PARTY_CLIENTS=test_client\n",
    );
    await Deno.writeTextFile(`${dir}/secrets/a.example.com_Token`, "t\n");
    const args = ["--config", `${dir}/var.env`, "--secrets-dir", `${dir}/secrets`];
    const check = await runMain(["secrets", "check", ...args], { env: keyring.env });
    assert.equal(check.code, 0, check.stderr);
    assert.match(check.stdout, /^1 of 1 secret\(s\) found$/m);
    const list = await runMain(["secrets", "list", ...args], { env: keyring.env });
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /^a\.example\.com +Token +file /m);
    const run = await runMain(["config", "check", "--config", `${dir}/var.env`], {
      env: keyring.env,
    });
    assert.equal(run.code, 1, "config check still names the missing static list");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("var secrets set on a terminal asks without echo and stores the value", async () => {
  await using keyring = await startPrivateKeyring();
  const command = [Deno.execPath(), "run", "--quiet", "-P", BINARY_V8_ARG]
    .concat(["--config", `${REPO_ROOT}deno.json`])
    .concat([`${REPO_ROOT}main.ts`, "secrets", "set", "tty-service", "Token"])
    .map((a) => `'${a}'`).join(" ");
  // `script` gives the command a pseudo-terminal, as an operator's shell would
  const child = new Deno.Command("script", {
    args: ["-qec", command, "/dev/null"],
    env: keyring.env,
    stdin: "piped",
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const writer = child.stdin.getWriter();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let output = "";
  let answered = false;
  const deadline = Date.now() + 30_000;
  try {
    while (Date.now() < deadline) {
      const { value, done } = await reader.read();
      if (done) break;
      output += value;
      if (!answered && output.includes("Enter the tty-service Token: ")) {
        answered = true;
        await writer.write(new TextEncoder().encode("typed-on-tty\r"));
      }
    }
  } finally {
    const status = await child.status;
    await writer.close();
    assert.equal(status.code, 0, output);
  }
  assert.ok(answered, output);
  assert.ok(!output.includes("typed-on-tty"), `the secret was echoed: ${output}`);
  assert.match(output, /Stored Token for tty-service in secret-tool/);
  const stored = await keyring.secretTool([
    "lookup",
    "service",
    "tty-service",
    "username",
    "Token",
  ]);
  assert.equal(stored.stdout, "typed-on-tty");
});

Deno.test("var demo runs the main job under -P and exits 0", async () => {
  const result = await runMain(["demo"]);
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, /^ok +block /m);
  assert.match(result.stdout, /Exit code 0/);
});

Deno.test("var run --dry-run sends its notifications and var plan sends none", async () => {
  const socket = createSocket("udp4");
  const received: string[] = [];
  socket.on("message", (message) => received.push(new TextDecoder().decode(message)));
  await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", resolve));
  const syslog = [
    "SEND_SYSLOG=true",
    "SYSLOG_SERVER=127.0.0.1",
    `SYSLOG_PORT=${socket.address().port}`,
    "SYSLOG_PROTO=UDP",
  ];
  try {
    await withBrain(syslog, async (paths, brain) => {
      const args = ["--config", paths.config, "--secrets-dir", paths.secrets];
      const plan = await runMain(["plan", ...args], { env: NO_KEYCHAIN });
      assert.equal(plan.code, 0, plan.stderr);
      await new Promise((resolve) => setTimeout(resolve, 200));
      assert.equal(received.length, 0, "plan notifies nobody");
      const dryRun = await runMain(["run", "--dry-run", ...args], { env: NO_KEYCHAIN });
      assert.equal(dryRun.code, 0, dryRun.stderr);
      const deadline = Date.now() + 5_000;
      while (!received.some((m) => m.includes("ward-3-pc")) && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      assert.ok(received.some((m) => m.includes("ward-3-pc")), JSON.stringify(received));
      assert.deepEqual(brain.tags("host", "ward-3-pc"), ["vectra_host_block"], "nothing changed");
    });
  } finally {
    socket.close();
  }
});
