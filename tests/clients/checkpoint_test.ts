import assert from "node:assert/strict";
import {
  checkpoint,
  type CheckPointClient,
  type CheckPointConfig,
  CheckPointConfigSchema,
} from "../../clients/checkpoint.ts";
import { makeTestCertificates } from "../_tls.ts";
import {
  type FakeCheckPoint,
  type FakeCheckPointOptions,
  startFakeCheckPoint,
} from "../fakes/checkpoint.ts";
import type { FakeServer } from "../fakes/_serve.ts";
import {
  type ContractHarness,
  type EnforcedKind,
  groupMembersOf,
  OBJECT_PREFIX,
  runClientContract,
} from "./_contract.ts";
import { sampleDetection, sampleHost, sampleSet } from "./_entities.ts";
import { type ClientLab, clientLab, rejectsClientError } from "./_lab.ts";

const PASSWORD = "cp-Pa55-9x!";
const HTTP = { retries: 1, minRetryDelayMs: 5, maxRetryDelayMs: 20, timeoutMs: 2000 };

/** Parses raw keys the way config.ts hands them over. */
function parseConfig(raw: Record<string, string>): CheckPointConfig {
  return CheckPointConfigSchema.parse(raw);
}

/** One fake management server and a client of it. */
interface Lab extends ClientLab<CheckPointClient> {
  readonly server: FakeServer<FakeCheckPoint>;
}

/** Starts a fake management server and a client of it (fast task polls). */
async function startLab(
  options: { fake?: Partial<FakeCheckPointOptions>; raw?: Record<string, string> } = {},
): Promise<Lab> {
  const server = startFakeCheckPoint({ users: { admin: PASSWORD }, ...options.fake });
  const raw = {
    CHECKPOINT_HOST: "http://127.0.0.1",
    CHECKPOINT_PORT: String(server.port),
    CHECKPOINT_INSTALL_TARGETS: "gw1",
    CHECKPOINT_TASK_POLL_SECONDS: "0.01",
    ...options.raw,
  };
  const create = async () =>
    await checkpoint.create(parseConfig(raw), {
      http: HTTP,
      secret: () => Promise.resolve(PASSWORD),
    }) as CheckPointClient;
  return { server, ...await clientLab(create, () => server.close()) };
}

/** What gateway gw1 enforces of a kind: `<group>/<object name>`, as last installed. */
function installed(fake: FakeCheckPoint, kind: EnforcedKind, gateway = "gw1"): Set<string> {
  return groupMembersOf(fake.installed(gateway), kind);
}

/** The contract harness: one fake management server and a fresh client per case. */
async function checkPointHarness(): Promise<ContractHarness> {
  const lab = await startLab();
  const fake = lab.server.fake;
  return {
    client: lab.client,
    samples: sampleSet(),
    enforced: (kind) => Promise.resolve(installed(fake, kind)),
    vanish: (kind) =>
      Promise.resolve(fake.deleteEverywhere((name) => name.startsWith(OBJECT_PREFIX[kind]))),
    faults: {
      serverError: () => fake.failAlways(503),
      down: () => lab.server.down(),
    },
    another: () => lab.another(),
    close: () => lab.close(),
  };
}

/** The commands the fake received, in order. */
function commands(fake: FakeCheckPoint): string[] {
  return fake.requests.map((r) => r.command);
}

Deno.test("checkpoint client", async (t) => {
  await runClientContract(t, {
    start: checkPointHarness,
    startTwo: {
      none: "checkpoint drives one management server; its gateways are install targets",
    },
  });
});

Deno.test("checkpoint: a batch is one session, one publish and one install; logout ends the cycle", async () => {
  const lab = await startLab();
  const { fake } = lab.server;
  try {
    const batch = lab.client.stage();
    const ids = await Promise.all([
      batch.client.blockHost!(sampleHost({ ip: "10.1.2.3" })),
      batch.client.blockHost!(sampleHost({ ip: "10.1.2.4" })),
      batch.client.blockDetection!(sampleDetection()),
    ]);
    assert.deepEqual(ids.slice(0, 2), [["10.1.2.3"], ["10.1.2.4"]]);
    assert.equal(installed(fake, "host").size, 0, "nothing is enforced before the commit");
    await batch.commit();
    assert.deepEqual([...installed(fake, "host")].sort(), [
      "Internal-Block/var-host-10.1.2.3",
      "Internal-Block/var-host-10.1.2.4",
    ]);
    assert.equal(installed(fake, "detection").size, sampleDetection().dstIps.length);
    fake.terseMembers = true; // members named only: var's names still tell what it blocks
    assert.deepEqual(
      await lab.client.list(),
      [
        { kind: "detection", element: "198.51.100.7" },
        { kind: "detection", element: "203.0.113.9" },
        { kind: "host", element: "10.1.2.3" },
        { kind: "host", element: "10.1.2.4" },
      ],
    );
    const sent = commands(fake);
    assert.equal(sent.filter((c) => c === "login").length, 1);
    assert.equal(sent.filter((c) => c === "publish").length, 1);
    assert.equal(sent.filter((c) => c === "install-policy").length, 1);
    assert.equal(fake.sessions, 1, "the session stays open for the rest of the cycle");
    await lab.client.endCycle();
    assert.equal(fake.sessions, 0);
    assert.equal(commands(fake).at(-1), "logout");
    await lab.client.unblockHost(sampleHost(), ["10.1.2.3"]);
    assert.equal(
      commands(fake).filter((c) => c === "login").length,
      2,
      "a new cycle logs in again",
    );
    assert.deepEqual([...installed(fake, "host")], ["Internal-Block/var-host-10.1.2.4"]);
    const install = fake.requests.find((r) => r.command === "install-policy");
    assert.deepEqual(install?.body, { "policy-package": "Standard", targets: ["gw1"] });
  } finally {
    await lab.close();
  }
});

Deno.test("checkpoint: a block counts only once every target installed it", async () => {
  const lab = await startLab({
    fake: { gateways: ["gw1", "gw2"] },
    raw: { CHECKPOINT_INSTALL_TARGETS: "gw1, gw2" },
  });
  const { fake } = lab.server;
  try {
    fake.failInstallOn.add("gw2");
    const error = await rejectsClientError(lab.client.blockHost(sampleHost()));
    assert.equal(error.operation, "commit");
    assert.match(
      error.message,
      /^Cannot commit the staged changes on checkpoint: 127\.0\.0\.1: cannot install policy package "Standard" on gw1, gw2: task task-\d+ ended failed \(Policy installation failed on gw2\)$/,
    );
    assert.equal(installed(fake, "host", "gw2").size, 0);
    fake.failInstallOn.clear();
    // Published already, so the retry changes nothing; gw2 lags behind, so it installs.
    const before = commands(fake).length;
    assert.deepEqual(await lab.client.blockHost(sampleHost()), ["10.1.2.3"]);
    assert.deepEqual([...installed(fake, "host", "gw2")], ["Internal-Block/var-host-10.1.2.3"]);
    assert.deepEqual(
      commands(fake).slice(before).filter((c) => c === "publish" || c === "install-policy"),
      ["install-policy"],
    );
    // Now every target is current: another retry installs nothing, even after someone
    // else published an unrelated change (var never pushes others' changes on its own).
    fake.lockByAdministrator("unrelated");
    const quiet = commands(fake).length;
    await lab.client.blockHost(sampleHost());
    assert.ok(!commands(fake).slice(quiet).includes("install-policy"));
    // A server that cannot tell what its gateways installed gets an install: time, not a block.
    fake.reportsInstallState = false;
    const unsure = commands(fake).length;
    await lab.client.blockHost(sampleHost());
    assert.ok(commands(fake).slice(unsure).includes("install-policy"));
  } finally {
    await lab.close();
  }
});

Deno.test("checkpoint: a failed publish is discarded, and a stalled task fails at its deadline", async () => {
  const lab = await startLab({
    raw: { CHECKPOINT_TASK_TIMEOUT_SECONDS: "1", CHECKPOINT_TASK_POLL_SECONDS: "0.05" },
  });
  const { fake } = lab.server;
  try {
    fake.failPublish = true;
    const failed = await rejectsClientError(lab.client.blockHost(sampleHost()));
    assert.match(failed.message, /cannot publish: task task-\d+ ended failed \(Publish failed/);
    assert.deepEqual(commands(fake).slice(-2), ["show-task", "discard"]);
    assert.equal(fake.object("var-host-10.1.2.3"), undefined, "nothing was published");
    fake.failPublish = false;
    fake.stallTasks = true;
    const started = Date.now();
    const stalled = await rejectsClientError(lab.client.blockHost(sampleHost()));
    assert.match(
      stalled.message,
      /cannot publish: task task-\d+ did not finish within 1 s; the next cycle tries again/,
    );
    assert.ok(Date.now() - started < 3000);
  } finally {
    await lab.close();
  }
});

Deno.test("checkpoint: an object locked by another session is named, and nothing else is touched", async () => {
  const lab = await startLab();
  const { fake } = lab.server;
  try {
    fake.lockByAdministrator("var-host-10.1.2.3");
    const error = await rejectsClientError(lab.client.blockHost(sampleHost()));
    assert.match(
      error.message,
      /Cannot block host 7 \(ward-3-pc\) on checkpoint: 10\.1\.2\.3 on 127\.0\.0\.1: cannot create host "var-host-10\.1\.2\.3": Check Point answered 409 err_object_locked: Object var-host-10\.1\.2\.3 is locked by session of smartconsole-admin; another management session holds the object locked: publish or discard that session/,
    );
    assert.ok(
      !commands(fake).includes("publish"),
      "a failed operation is discarded, not published",
    );
    assert.ok(commands(fake).includes("discard"));
  } finally {
    await lab.close();
  }
});

Deno.test("checkpoint: a session that ended mid-cycle fails the batch instead of losing it", async () => {
  const lab = await startLab();
  const { fake } = lab.server;
  try {
    const batch = lab.client.stage();
    await batch.client.blockHost!(sampleHost());
    fake.expireSessions();
    const error = await rejectsClientError(batch.commit());
    assert.match(
      error.message,
      /cannot publish: Check Point answered 401 generic_err_wrong_session_id: .*the management session ended/,
    );
    assert.equal(installed(fake, "host").size, 0);
  } finally {
    await lab.close();
  }
});

Deno.test("checkpoint: adopts var's own object, refuses another's, and unblock leaves another's alone", async () => {
  const lab = await startLab();
  const { fake } = lab.server;
  try {
    await lab.client.blockHost(sampleHost());
    await lab.client.endCycle();
    // An administrator took the object out of the group; var adopts its own object again.
    fake.published.groups.get("Internal-Block")?.delete("var-host-10.1.2.3");
    assert.deepEqual(await lab.client.blockHost(sampleHost()), ["10.1.2.3"]);
    assert.deepEqual([...fake.members("Internal-Block")], ["10.1.2.3"]);
    // Someone else's object under var's name is refused, never adopted or deleted.
    fake.published.objects.set("var-host-10.9.9.9", {
      name: "var-host-10.9.9.9",
      type: "host",
      address: "10.9.9.9",
      maskLength: null,
      comments: "made by hand",
    });
    const error = await rejectsClientError(lab.client.blockHost(sampleHost({ ip: "10.9.9.9" })));
    assert.match(
      error.message,
      /object "var-host-10\.9\.9\.9" exists but is not var's for 10\.9\.9\.9 .*comments do not start with "Managed by var"/,
    );
    assert.deepEqual(await lab.client.unblockHost(sampleHost(), ["10.9.9.9"]), ["10.9.9.9"]);
    assert.ok(fake.object("var-host-10.9.9.9"), "another's object stays");
  } finally {
    await lab.close();
  }
});

Deno.test("checkpoint: API-key login with a domain; the secret travels only in the login body", async () => {
  const key = "cp-api-key-7Hq";
  const server = startFakeCheckPoint({ users: {}, apiKeys: [key] });
  const config = parseConfig({
    CHECKPOINT_HOST: "http://127.0.0.1",
    CHECKPOINT_PORT: String(server.port),
    CHECKPOINT_INSTALL_TARGETS: "gw1",
    CHECKPOINT_AUTH: "api-key",
    CHECKPOINT_USER: "var-api",
    CHECKPOINT_DOMAIN: "Hospital",
    CHECKPOINT_TASK_POLL_SECONDS: "0.01",
  });
  assert.deepEqual(checkpoint.secrets(config).map((s) => `${s.service}/${s.key}`), [
    "CheckPoint/var-api",
  ]);
  const client = await checkpoint.create(config, {
    http: HTTP,
    secret: () => Promise.resolve(key),
  });
  try {
    await client.blockHost!(sampleHost());
    const login = server.fake.requests[0];
    assert.deepEqual(login?.body, {
      "api-key": key,
      domain: "Hospital",
      "session-name": "var",
      "session-description": "Vectra Automated Response (var)",
    });
    const leaks = server.fake.requests.slice(1).filter((r) => JSON.stringify(r).includes(key));
    assert.deepEqual(leaks, []);
  } finally {
    await client.endCycle?.();
    await client.close?.();
    await server.close();
  }
});

Deno.test("checkpoint: TLS is verified; CHECKPOINT_CA_FILE trusts a private CA", async () => {
  const certs = await makeTestCertificates();
  const server = startFakeCheckPoint({ users: { admin: PASSWORD }, tls: certs });
  const raw = {
    CHECKPOINT_HOST: "localhost",
    CHECKPOINT_PORT: String(server.port),
    CHECKPOINT_INSTALL_TARGETS: "gw1",
    CHECKPOINT_TASK_POLL_SECONDS: "0.01",
  };
  const context = { http: HTTP, secret: () => Promise.resolve(PASSWORD) };
  const trusting = await checkpoint.create(
    parseConfig({ ...raw, CHECKPOINT_CA_FILE: certs.caFile }),
    context,
  );
  const untrusting = await checkpoint.create(parseConfig(raw), context);
  try {
    assert.deepEqual(await trusting.blockHost!(sampleHost()), ["10.1.2.3"]);
    const error = await rejectsClientError(untrusting.listStaticIps!());
    assert.match(error.message, /cannot log in to localhost: .*network error/);
  } finally {
    for (const c of [trusting, untrusting]) {
      await c.endCycle?.();
      await c.close?.();
    }
    await server.close();
    await certs.cleanup();
  }
});

Deno.test("checkpoint: configuration errors name the key, the value and what is allowed", () => {
  const base = { CHECKPOINT_HOST: "cp.example", CHECKPOINT_INSTALL_TARGETS: "gw1" };
  const problem = (raw: Record<string, string>) => {
    const result = CheckPointConfigSchema.safeParse({ ...base, ...raw });
    assert.ok(!result.success, JSON.stringify(raw));
    return result.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ");
  };
  assert.match(
    problem({ CHECKPOINT_INSTALL_TARGETS: "" }),
    /^CHECKPOINT_INSTALL_TARGETS: CHECKPOINT_INSTALL_TARGETS is empty; name the gateways/,
  );
  assert.match(
    problem({ CHECKPOINT_AUTH: "token" }),
    /CHECKPOINT_AUTH is "token"; use password or api-key/,
  );
  assert.match(
    problem({ CHECKPOINT_HOST: "a.example,b.example" }),
    /CHECKPOINT_HOST lists 2 servers/,
  );
  assert.match(
    problem({ CHECKPOINT_EXTERNAL_ADDRESS_GROUP: "Internal-Block" }),
    /are both "Internal-Block"; use two groups/,
  );
  assert.match(
    problem({ CHECKPOINT_TASK_TIMEOUT_SECONDS: "0" }),
    /CHECKPOINT_TASK_TIMEOUT_SECONDS is "0"; use a number of seconds from 1 to 3600/,
  );
  assert.match(problem({ CHECKPOINT_HOST: "" }), /CHECKPOINT_HOST is empty/);
  assert.match(problem({ CHECKPOINT_PORT: "99999" }), /CHECKPOINT_PORT "99999" is not a port/);
  const config = parseConfig(base);
  assert.deepEqual(
    [
      config.server.host,
      config.server.port,
      config.server.verifyTls,
      config.policyPackage,
      config.internalGroup,
      config.externalGroup,
    ],
    ["cp.example", 443, true, "Standard", "Internal-Block", "External-Block"],
  );
  assert.deepEqual(checkpoint.keys.map((k) => k.key), [
    "CHECKPOINT_HOST",
    "CHECKPOINT_PORT",
    "CHECKPOINT_CHECK_SSL",
    "CHECKPOINT_CA_FILE",
    "CHECKPOINT_USER",
    "CHECKPOINT_AUTH",
    "CHECKPOINT_DOMAIN",
    "CHECKPOINT_INTERNAL_ADDRESS_GROUP",
    "CHECKPOINT_EXTERNAL_ADDRESS_GROUP",
    "CHECKPOINT_POLICY_PACKAGE",
    "CHECKPOINT_INSTALL_TARGETS",
    "CHECKPOINT_TASK_TIMEOUT_SECONDS",
    "CHECKPOINT_TASK_POLL_SECONDS",
  ]);
});
