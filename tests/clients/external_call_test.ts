import assert from "node:assert/strict";
import {
  buildArgv,
  createExternalCallClient,
  environmentOf,
  externalCall,
  ExternalCallConfig,
} from "../../clients/external_call.ts";
import { ClientError, type ResponseClient } from "../../engine/client.ts";
import { createRecordingProgram, type RecordingProgram } from "../fakes/record_argv.ts";
import { type ContractHarness, runClientContract } from "./_contract.ts";
import { sampleAccount, sampleDetection, sampleHost } from "./_entities.ts";

/** Raw var.env values for a recording program acting as a device (`<kind> block|unblock`). */
function deviceKeys(program: RecordingProgram, timeout = "1"): Record<string, string> {
  const cmd = (...args: string[]) => JSON.stringify([program.path, ...args]);
  return {
    EXTERNAL_CALL_HOST_BLOCK_CMD: cmd("host", "block", "{ip}"),
    EXTERNAL_CALL_HOST_UNBLOCK_CMD: cmd("host", "unblock", "{ip}"),
    EXTERNAL_CALL_ACCOUNT_BLOCK_CMD: cmd("account", "block", "{account}"),
    EXTERNAL_CALL_ACCOUNT_UNBLOCK_CMD: cmd("account", "unblock", "{account}"),
    EXTERNAL_CALL_DETECTION_BLOCK_CMD: cmd("detection", "block", "{dst_ips}"),
    EXTERNAL_CALL_DETECTION_UNBLOCK_CMD: cmd("detection", "unblock", "{dst_ips}"),
    EXTERNAL_CALL_TIMEOUT_SECONDS: timeout,
  };
}

/** A client created from raw var.env values, through the definition's schema. */
function clientFrom(raw: Record<string, string>): ResponseClient {
  return createExternalCallClient(ExternalCallConfig.parse(raw));
}

/** An external_call client driving a fresh recording program. */
async function startExternalCall(): Promise<ContractHarness> {
  const program = await createRecordingProgram();
  const client = clientFrom(deviceKeys(program));
  return {
    client,
    samples: {
      host: sampleHost(),
      movedHost: sampleHost({ ip: "10.1.2.4" }),
      account: sampleAccount(),
      detection: sampleDetection(),
      staticIps: { dstIps: [] },
    },
    enforced: (kind) => kind === "static" ? Promise.resolve(new Set()) : program.enforced(kind),
    vanish: (kind) => kind === "static" ? Promise.resolve() : program.vanish(kind),
    faults: {
      serverError: () => program.script({ code: 3, stderr: "device error" }),
      down: () => program.hang(30),
    },
    another: () => Promise.resolve(clientFrom(deviceKeys(program))),
    close: async () => {
      await client.close?.();
      await program.close();
    },
  };
}

/** Runs fn with a fresh recording program, removed afterwards. */
async function withProgram(fn: (program: RecordingProgram) => Promise<void>): Promise<void> {
  const program = await createRecordingProgram();
  try {
    await fn(program);
  } finally {
    await program.close();
  }
}

/** Asserts a rejection is a ClientError of external_call with this operation and message. */
function isClientError(operation: string, message: string | RegExp) {
  return (error: unknown) => {
    assert.ok(error instanceof ClientError, `not a ClientError: ${String(error)}`);
    assert.equal(error.client, "external_call");
    assert.equal(error.operation, operation);
    assert.equal(error.status, null);
    if (typeof message === "string") assert.equal(error.message, message);
    else assert.match(error.message, message);
    return true;
  };
}

Deno.test("external_call client", async (t) => {
  await runClientContract(t, {
    start: startExternalCall,
    startTwo: { none: "external_call runs one command per action, on one device" },
  });
});

Deno.test("blockHost() runs the exact argv each time, without accumulating values", async () => {
  await withProgram(async (program) => {
    const config = ExternalCallConfig.parse({
      EXTERNAL_CALL_HOST_BLOCK_CMD: JSON.stringify([program.path, "--mode", "host"]),
    });
    const client = createExternalCallClient(config);
    assert.deepEqual(await client.blockHost!(sampleHost({ ip: "10.1.2.3" })), ["host:10.1.2.3"]);
    assert.deepEqual(await client.blockHost!(sampleHost({ id: 8, ip: "10.1.2.4" })), [
      "host:10.1.2.4",
    ]);
    assert.deepEqual(await client.blockHost!(sampleHost({ ip: "10.1.2.3" })), ["host:10.1.2.3"]);
    assert.deepEqual(await program.calls(), [
      ["--mode", "host", "10.1.2.3"],
      ["--mode", "host", "10.1.2.4"],
      ["--mode", "host", "10.1.2.3"],
    ]);
    assert.deepEqual(config.hostBlock, [program.path, "--mode", "host"]);
  });
});

Deno.test("blockAccount() appends the sAMAccountName, else the name before @, then the context", async () => {
  await withProgram(async (program) => {
    const client = clientFrom({
      EXTERNAL_CALL_ACCOUNT_BLOCK_CMD: JSON.stringify([program.path]),
    });
    assert.deepEqual(await client.blockAccount!(sampleAccount()), ["account:jdoe"]);
    const noLdap = sampleAccount({
      id: 22,
      ldap: {},
      fakeSam: "asmith",
      tags: [],
      context: "",
    });
    assert.deepEqual(await client.blockAccount!(noLdap), ["account:asmith"]);
    assert.deepEqual(await program.calls(), [["jdoe", "corp"], ["asmith", ""]]);
  });
});

Deno.test("blockDetection() appends each destination IP as its own argument", async () => {
  await withProgram(async (program) => {
    const client = clientFrom({
      EXTERNAL_CALL_DETECTION_BLOCK_CMD: JSON.stringify([program.path, "block"]),
    });
    assert.deepEqual(await client.blockDetection!(sampleDetection()), [
      "dst:198.51.100.7",
      "dst:203.0.113.9",
    ]);
    assert.deepEqual(await program.calls(), [["block", "198.51.100.7", "203.0.113.9"]]);
    assert.deepEqual(await client.blockDetection!(sampleDetection({ dstIps: [] })), []);
    assert.equal((await program.calls()).length, 1, "nothing to block runs no command");
  });
});

Deno.test("external_call substitutes placeholders inside arguments", async () => {
  await withProgram(async (program) => {
    const client = clientFrom({
      EXTERNAL_CALL_HOST_BLOCK_CMD: JSON.stringify([
        program.path,
        "--ip={ip}",
        "--host",
        "{name}",
        "--macs={mac}",
        "{mac}",
      ]),
      EXTERNAL_CALL_ACCOUNT_BLOCK_CMD: JSON.stringify([
        program.path,
        "user={account}@{context}",
        "{name}",
      ]),
      EXTERNAL_CALL_DETECTION_BLOCK_CMD: JSON.stringify([program.path, "--dst={dst_ips}"]),
    });
    const host = sampleHost({ macAddresses: ["00:11:22:33:44:55", "00:11:22:33:44:66"] });
    await client.blockHost!(host);
    await client.blockAccount!(sampleAccount());
    await client.blockDetection!(sampleDetection());
    assert.deepEqual(await program.calls(), [
      [
        "--ip=10.1.2.3",
        "--host",
        "ward-3-pc",
        "--macs=00:11:22:33:44:55,00:11:22:33:44:66",
        "00:11:22:33:44:55",
        "00:11:22:33:44:66",
      ],
      ["user=jdoe@corp", "kerberos:jdoe@corp.example"],
      ["--dst=198.51.100.7,203.0.113.9"],
    ]);
  });
});

Deno.test("unblockHost() passes the recorded IP, not the host's current one", async () => {
  await withProgram(async (program) => {
    const client = clientFrom({
      EXTERNAL_CALL_HOST_UNBLOCK_CMD: JSON.stringify([program.path, "release", "{ip}"]),
    });
    const moved = sampleHost({ ip: "10.9.9.9" });
    assert.deepEqual(await client.unblockHost!(moved, ["host:10.1.2.3"]), ["host:10.1.2.3"]);
    const original = "6f1c2d3e-0000-4000-8000-000000000000";
    assert.deepEqual(await client.unblockHost!(moved, [original]), [original]);
    assert.deepEqual(await program.calls(), [["release", "10.1.2.3"], ["release", "10.9.9.9"]]);
  });
});

Deno.test("unblockDetection() passes the recorded destination IPs", async () => {
  await withProgram(async (program) => {
    const client = clientFrom({
      EXTERNAL_CALL_DETECTION_UNBLOCK_CMD: JSON.stringify([program.path]),
    });
    const recorded = ["dst:198.51.100.7"];
    assert.deepEqual(await client.unblockDetection!(sampleDetection(), recorded), recorded);
    assert.deepEqual(await program.calls(), [["198.51.100.7"]]);
  });
});

Deno.test("groomHost() blocks the new IP, then unblocks the recorded one", async () => {
  await withProgram(async (program) => {
    const client = clientFrom(deviceKeys(program));
    await client.blockHost!(sampleHost({ ip: "10.1.2.3" }));
    const result = await client.groomHost!(sampleHost({ ip: "10.1.2.4" }), ["host:10.1.2.3"]);
    assert.deepEqual(result, {
      changed: true,
      unblocked: ["host:10.1.2.3"],
      blocked: ["host:10.1.2.4"],
    });
    assert.deepEqual((await program.calls()).slice(1), [
      ["host", "block", "10.1.2.4"],
      ["host", "unblock", "10.1.2.3"],
    ]);
    assert.deepEqual(await program.enforced("host"), new Set(["10.1.2.4"]));
  });
});

Deno.test("blockHost() with shell metacharacters in the name runs no shell", async () => {
  await withProgram(async (program) => {
    const victim = `${program.dir}/y`;
    const pwned = `${program.dir}/pwned`;
    await Deno.mkdir(victim);
    const client = clientFrom({
      EXTERNAL_CALL_HOST_BLOCK_CMD: JSON.stringify([program.path, "{name}", "--name={name}"]),
    });
    const names = [`x; rm -rf ${victim}`, `$(touch ${pwned})`, `\`touch ${pwned}\` | true && x`];
    for (const name of names) await client.blockHost!(sampleHost({ name }));
    assert.deepEqual(await program.calls(), names.map((name) => [name, `--name=${name}`]));
    assert.ok((await Deno.stat(victim)).isDirectory, "the folder was removed");
    await assert.rejects(Deno.stat(pwned), Deno.errors.NotFound);
  });
});

Deno.test("blockAccount() refuses a value that would be read as an option", async () => {
  await withProgram(async (program) => {
    const client = clientFrom({
      EXTERNAL_CALL_ACCOUNT_BLOCK_CMD: JSON.stringify([program.path, "{account}"]),
    });
    await assert.rejects(
      client.blockAccount!(sampleAccount({ ldap: { samAccountName: "--delete-all" } })),
      isClientError(
        "blockAccount",
        'Cannot block account 21 "--delete-all" with external_call: {account} "--delete-all" starts with "-" and could be read as an option; refusing to pass it',
      ),
    );
    assert.deepEqual(await program.calls(), []);
  });
});

Deno.test("blockHost() turns a non-zero exit into a ClientError with status, stderr and stdout", async () => {
  await withProgram(async (program) => {
    await program.script({ code: 3, stderr: "no such switch port\n", stdout: "trying\n" });
    const client = clientFrom({ EXTERNAL_CALL_HOST_BLOCK_CMD: JSON.stringify([program.path]) });
    await assert.rejects(
      client.blockHost!(sampleHost()),
      isClientError(
        "blockHost",
        `Cannot block host 7 (10.1.2.3) with external_call: "${program.path}" exited with status 3; stderr "no such switch port"; stdout "trying"`,
      ),
    );
  });
});

Deno.test("blockHost() quotes only the start of a long output", async () => {
  await withProgram(async (program) => {
    await program.script({ code: 1, stderr: "e".repeat(200_000) });
    const client = clientFrom({ EXTERNAL_CALL_HOST_BLOCK_CMD: JSON.stringify([program.path]) });
    await assert.rejects(client.blockHost!(sampleHost()), (error: unknown) => {
      assert.ok(error instanceof ClientError);
      assert.ok(error.message.includes(`stderr "${"e".repeat(500)}…"`));
      assert.ok(error.message.length < 1200, `message of ${error.message.length} characters`);
      return true;
    });
  });
});

Deno.test("blockHost() kills a command that outlives the timeout, with what it started", async () => {
  await withProgram(async (program) => {
    await program.hang(30);
    const client = clientFrom({
      EXTERNAL_CALL_HOST_BLOCK_CMD: JSON.stringify([program.path]),
      EXTERNAL_CALL_TIMEOUT_SECONDS: "0.3",
    });
    const started = performance.now();
    await assert.rejects(
      client.blockHost!(sampleHost()),
      isClientError(
        "blockHost",
        `Cannot block host 7 (10.1.2.3) with external_call: "${program.path}" did not finish within 0.3 s and was killed; stderr ""; stdout ""`,
      ),
    );
    assert.ok(performance.now() - started < 3000, "the timeout did not stop the wait");
    const pid = await program.sleepPid();
    assert.ok(pid !== null, "the command did not start its sleep");
    const { stdout } = await new Deno.Command("cat", {
      args: [`/proc/${pid}/stat`],
      stdout: "piped",
      stderr: "null",
    }).output();
    const state = new TextDecoder().decode(stdout).split(" ")[2] ?? "gone";
    assert.ok(state === "gone" || state === "Z", `the child sleep is still running (${state})`);
  });
});

Deno.test("blockHost() reports a program that does not exist", async () => {
  const client = clientFrom({
    EXTERNAL_CALL_HOST_BLOCK_CMD: '["/nonexistent/var-isolate","{ip}"]',
  });
  await assert.rejects(
    client.blockHost!(sampleHost()),
    isClientError(
      "blockHost",
      'Cannot block host 7 (10.1.2.3) with external_call: the program "/nonexistent/var-isolate" was not found',
    ),
  );
});

Deno.test("blockHost() refuses a host without an IP", async () => {
  await withProgram(async (program) => {
    const client = clientFrom({ EXTERNAL_CALL_HOST_BLOCK_CMD: JSON.stringify([program.path]) });
    await assert.rejects(
      client.blockHost!(sampleHost({ ip: null })),
      isClientError(
        "blockHost",
        'Cannot block host 7 ("ward-3-pc") with external_call: no address is known',
      ),
    );
    assert.deepEqual(await program.calls(), []);
  });
});

Deno.test("createExternalCallClient() supports exactly the configured operations", () => {
  const none = clientFrom({});
  assert.deepEqual([...none.supports], []);
  assert.equal(none.blockHost, undefined);
  const some = clientFrom({
    EXTERNAL_CALL_HOST_BLOCK_CMD: '["/bin/true"]',
    EXTERNAL_CALL_HOST_UNBLOCK_CMD: '["/bin/true"]',
    EXTERNAL_CALL_DETECTION_BLOCK_CMD: "[]",
    EXTERNAL_CALL_ACCOUNT_UNBLOCK_CMD: '["/bin/true"]',
  });
  assert.deepEqual(
    new Set(some.supports),
    new Set(["blockHost", "unblockHost", "groomHost", "unblockAccount"]),
  );
});

Deno.test("ExternalCallConfig rejects malformed commands with what is accepted", () => {
  const example = '["/usr/local/bin/isolate","--ip","{ip}"]';
  const cases: [Record<string, string>, string, string][] = [
    [
      { EXTERNAL_CALL_HOST_BLOCK_CMD: "/usr/local/bin/isolate --ip" },
      "EXTERNAL_CALL_HOST_BLOCK_CMD",
      `not a JSON array of strings; write it as ${example}`,
    ],
    [
      { EXTERNAL_CALL_HOST_UNBLOCK_CMD: '["/bin/x", 3]' },
      "EXTERNAL_CALL_HOST_UNBLOCK_CMD",
      `not a JSON array of strings; write it as ${example}`,
    ],
    [
      { EXTERNAL_CALL_ACCOUNT_BLOCK_CMD: '["/bin/x","{ip}"]' },
      "EXTERNAL_CALL_ACCOUNT_BLOCK_CMD",
      '"{ip}" is not a placeholder of account commands; use {account}, {name}, {context}',
    ],
    [
      { EXTERNAL_CALL_DETECTION_BLOCK_CMD: '["{dst_ips}"]' },
      "EXTERNAL_CALL_DETECTION_BLOCK_CMD",
      `the program (first entry) cannot hold a placeholder; write it as ${example}`,
    ],
    [
      { EXTERNAL_CALL_DETECTION_UNBLOCK_CMD: '[" ","x"]' },
      "EXTERNAL_CALL_DETECTION_UNBLOCK_CMD",
      `the program (first entry) is empty; write it as ${example}`,
    ],
    [
      { EXTERNAL_CALL_TIMEOUT_SECONDS: "0" },
      "EXTERNAL_CALL_TIMEOUT_SECONDS",
      "not a number of seconds; use a number above 0 and up to 3600",
    ],
  ];
  for (const [raw, key, message] of cases) {
    const result = ExternalCallConfig.safeParse(raw);
    assert.equal(result.success, false, JSON.stringify(raw));
    assert.deepEqual(
      result.error?.issues.map((issue) => [issue.path[0], issue.message]),
      [[key, message]],
    );
  }
  assert.deepEqual(ExternalCallConfig.parse({ EXTERNAL_CALL_TIMEOUT_SECONDS: "2.5" }), {
    hostBlock: null,
    hostUnblock: null,
    accountBlock: null,
    accountUnblock: null,
    detectionBlock: null,
    detectionUnblock: null,
    timeoutSeconds: 2.5,
    allowShell: false,
    shellCommands: [],
  });
});

Deno.test("ExternalCallConfig refuses a shell with placeholders in its script unless EXTERNAL_CALL_ALLOW_SHELL=true", () => {
  const refused: [string, string][] = [
    ["EXTERNAL_CALL_HOST_BLOCK_CMD", '["sh","-c","isolate {ip}"]'],
    ["EXTERNAL_CALL_HOST_BLOCK_CMD", '["/bin/bash","-lc","isolate --name={name}"]'],
    ["EXTERNAL_CALL_HOST_UNBLOCK_CMD", '["/usr/bin/env","dash","-ec","release {ip}"]'],
    ["EXTERNAL_CALL_ACCOUNT_BLOCK_CMD", '["sudo","-n","zsh","-c","disable {account}"]'],
    ["EXTERNAL_CALL_ACCOUNT_UNBLOCK_CMD", '["ksh","-c","enable {account}"]'],
    [
      "EXTERNAL_CALL_DETECTION_BLOCK_CMD",
      '["C:\\\\Windows\\\\System32\\\\cmd.exe","/C","block","{dst_ips}"]',
    ],
    ["EXTERNAL_CALL_DETECTION_BLOCK_CMD", '["pwsh","-Command","Block-Ip {dst_ips}"]'],
    ["EXTERNAL_CALL_DETECTION_UNBLOCK_CMD", '["powershell.exe","-c","Unblock-Ip","{dst_ips}"]'],
  ];
  for (const [key, value] of refused) {
    const result = ExternalCallConfig.safeParse({ [key]: value });
    assert.equal(result.success, false, value);
    const issue = result.error?.issues[0];
    assert.equal(issue?.path[0], key);
    assert.match(issue?.message ?? "", /runs a shell \(.+\) with placeholders in its script/);
    assert.match(issue?.message ?? "", /EXTERNAL_CALL_ALLOW_SHELL=true/);
    const allowed = ExternalCallConfig.parse({ [key]: value, EXTERNAL_CALL_ALLOW_SHELL: "true" });
    assert.equal(allowed.allowShell, true);
    assert.deepEqual(allowed.shellCommands.map((c) => c.key), [key], value);
  }
  // A shell whose script reads the values from the environment, or takes them as its own
  // positional arguments, runs no brain text as code.
  for (
    const value of [
      '["sh","-c","isolate \\"$VAR_IP\\""]',
      '["sh","-c","isolate \\"$1\\"","isolate","{ip}"]',
      '["/usr/local/bin/isolate","--ip","{ip}"]',
    ]
  ) {
    const config = ExternalCallConfig.parse({ EXTERNAL_CALL_HOST_BLOCK_CMD: value });
    assert.deepEqual(config.shellCommands, [], value);
  }
  const bad = ExternalCallConfig.safeParse({ EXTERNAL_CALL_ALLOW_SHELL: "maybe" });
  assert.deepEqual(bad.error?.issues.map((i) => [i.path[0], i.message]), [[
    "EXTERNAL_CALL_ALLOW_SHELL",
    "not a boolean; use true or false",
  ]]);
});

Deno.test("buildArgv() splices only shell-safe values into an allowed shell script", () => {
  const command = ["sh", "-c", "isolate --name {name}", "sh", "{name}"];
  assert.deepEqual(buildArgv(command, { name: "ward-3 pc.example" }, []), [
    "sh",
    "-c",
    "isolate --name ward-3 pc.example",
    "sh",
    "ward-3 pc.example",
  ]);
  for (
    const hostile of [
      "pc; rm -rf /",
      "$(id)",
      "`id`",
      "a|b",
      "a&b",
      "a>b",
      'a"b',
      "a'b",
      "a\nb",
      "a\\b",
      "*",
    ]
  ) {
    assert.throws(
      () => buildArgv(command, { name: hostile }, []),
      /\{name\} is .* which a shell script cannot take safely/,
      hostile,
    );
  }
  // Outside the script (a positional argument of the shell, or no shell at all) any value
  // is data.
  assert.deepEqual(buildArgv(["isolate", "{name}"], { name: "pc; rm -rf /" }, []), [
    "isolate",
    "pc; rm -rf /",
  ]);
});

Deno.test("environmentOf() gives every placeholder value as a VAR_* variable", () => {
  assert.deepEqual(
    environmentOf({ ip: "10.1.2.3", name: "pc 1", dst_ips: ["8.8.8.8", "1.1.1.1"] }),
    {
      VAR_IP: "10.1.2.3",
      VAR_NAME: "pc 1",
      VAR_DST_IPS: "8.8.8.8,1.1.1.1",
    },
  );
});

Deno.test("buildArgv() never modifies the configured command", () => {
  const command = Object.freeze(["/bin/x", "--ip", "{ip}"]);
  assert.deepEqual(buildArgv(command, { ip: "10.1.2.3" }, ["10.1.2.3"]), [
    "/bin/x",
    "--ip",
    "10.1.2.3",
  ]);
  assert.deepEqual(buildArgv(command, { ip: "10.1.2.4" }, ["10.1.2.4"]), [
    "/bin/x",
    "--ip",
    "10.1.2.4",
  ]);
  assert.deepEqual(command, ["/bin/x", "--ip", "{ip}"]);
});

Deno.test("externalCall definition carries the identifiers of engine.md §10.5 and its keys", () => {
  assert.equal(externalCall.name, "external_call");
  assert.equal(externalCall.tagName, "External Call Client");
  assert.equal(externalCall.routingKey, "external_call");
  assert.deepEqual(externalCall.keys.map((k) => [k.key, k.default]), [
    ["EXTERNAL_CALL_HOST_BLOCK_CMD", ""],
    ["EXTERNAL_CALL_HOST_UNBLOCK_CMD", ""],
    ["EXTERNAL_CALL_ACCOUNT_BLOCK_CMD", ""],
    ["EXTERNAL_CALL_ACCOUNT_UNBLOCK_CMD", ""],
    ["EXTERNAL_CALL_DETECTION_BLOCK_CMD", ""],
    ["EXTERNAL_CALL_DETECTION_UNBLOCK_CMD", ""],
    ["EXTERNAL_CALL_TIMEOUT_SECONDS", "60"],
    ["EXTERNAL_CALL_ALLOW_SHELL", "false"],
  ]);
  assert.deepEqual(externalCall.secrets(), []);
});

Deno.test("an allowed shell command runs with shell-safe values and fails a hostile name without running", async () => {
  await withProgram(async (program) => {
    // The script hands the spliced name and the VAR_* variables to the recording program.
    const script = `'${program.path}' spliced {name} env "$VAR_NAME" "$VAR_IP"`;
    const client = clientFrom({
      EXTERNAL_CALL_HOST_BLOCK_CMD: JSON.stringify(["/bin/sh", "-c", script]),
      EXTERNAL_CALL_ALLOW_SHELL: "true",
    });
    await client.blockHost!(sampleHost({ name: "ward-3 pc", ip: "10.1.2.3" }));
    assert.deepEqual(await program.calls(), [[
      "spliced",
      "ward-3",
      "pc",
      "env",
      "ward-3 pc",
      "10.1.2.3",
    ]]);
    await assert.rejects(
      client.blockHost!(sampleHost({ name: "pc$(touch /tmp/pwned)", ip: "10.1.2.3" })),
      isClientError(
        "blockHost",
        /\{name\} is "pc\$\(touch \/tmp\/pwned\)", which a shell script cannot take safely/,
      ),
    );
    assert.equal((await program.calls()).length, 1, "the hostile name ran nothing");
  });
});
