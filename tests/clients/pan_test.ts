import assert from "node:assert/strict";
import { ClientError } from "../../engine/client.ts";
import { secretValues } from "../../engine/secrets.ts";
import type { ClientContext } from "../../clients/interface.ts";
import {
  buildUidMessage,
  pan,
  type PanClient,
  type PanConfig,
  PanConfigSchema,
} from "../../clients/pan.ts";
import { makeTestCertificates } from "../_tls.ts";
import { type FakePanServer, startFakePan, type StartFakePanOptions } from "../fakes/pan.ts";
import {
  type ContractHarness,
  type EnforcedKind,
  runClientContract,
  type TwoDeviceHarness,
} from "./_contract.ts";
import { sampleDetection, sampleHost, sampleSet, sampleStaticIps } from "./_entities.ts";
import { rejectsClientError } from "./_lab.ts";
import {
  assertPreviousVersionReadBack,
  blockAsPreviousVersion,
  type PreviousIds,
} from "./_previous_version.ts";

const KEY = "LUFRPT1pan-key-Zq81x==";
const USER = "var-api";
const PASSWORD = "pw<&>\"'s3cret";
const HTTP = { retries: 1, minRetryDelayMs: 5, maxRetryDelayMs: 20, timeoutMs: 2000 };
const TAGS = { host: "Block_Host", detection: "Block_Detection", static: "Block_Static" };

/** Parses raw keys the way config.ts hands them over. */
function parseConfig(raw: Record<string, string>): PanConfig {
  return PanConfigSchema.parse(raw);
}

/** What a lab's client was given for secrets, and what it stored. */
interface SecretLog {
  readonly lookups: string[];
  readonly stored: { service: string; key: string; value: string }[];
}

/** Fake devices and one client connected to all of them. */
interface Lab {
  readonly servers: FakePanServer[];
  readonly client: PanClient;
  readonly secrets: SecretLog;
  /** Another client configured like `client` (closed with the lab). */
  another(): Promise<PanClient>;
  close(): Promise<void>;
}

interface LabOptions {
  fake?: Partial<StartFakePanOptions>;
  raw?: Record<string, string>;
  /** Secrets by key name (`API_Key`, `username`, `password`); default: the API key. */
  secrets?: Record<string, string>;
  /** Give the client a storeSecret (default true). */
  store?: boolean;
  /**
   * Secrets stored in the keychain, found by `findSecret` without prompting; `secrets` then
   * stands for what a prompt on the terminal would answer.
   */
  stored?: Record<string, string>;
}

/** Starts `count` fake devices and a client using all of them. */
async function startLab(count = 1, options: LabOptions = {}): Promise<Lab> {
  const servers: FakePanServer[] = [];
  for (let i = 0; i < count; i++) {
    servers.push(
      startFakePan({
        apiKey: KEY,
        credentials: { user: USER, password: PASSWORD },
        ...options.fake,
      }),
    );
  }
  const log: SecretLog = { lookups: [], stored: [] };
  const values = options.secrets ?? { API_Key: KEY };
  const context: ClientContext = {
    http: HTTP,
    secret: (service, key) => {
      log.lookups.push(`${service}/${key}`);
      const value = values[key];
      if (value === undefined) return Promise.reject(new Error(`no secret ${service}/${key}`));
      return Promise.resolve(value);
    },
    ...(options.stored === undefined ? {} : {
      findSecret: (service: string, key: string) => {
        log.lookups.push(`stored ${service}/${key}`);
        return Promise.resolve(options.stored?.[key] ?? null);
      },
    }),
    ...(options.store === false ? {} : {
      storeSecret: (service: string, key: string, value: string) => {
        log.stored.push({ service, key, value });
        return Promise.resolve();
      },
    }),
  };
  try {
    const config = parseConfig({ PAN_URLS: servers.map((s) => s.url).join(","), ...options.raw });
    const client = await pan.create(config, context);
    const others: PanClient[] = [];
    return {
      servers,
      client,
      secrets: log,
      async another() {
        const other = await pan.create(config, context);
        others.push(other);
        return other;
      },
      async close() {
        for (const c of [client, ...others]) await c.close();
        for (const server of servers) await server.close();
      },
    };
  } catch (error) {
    for (const server of servers) await server.close();
    throw error;
  }
}

/** A contract harness: one fake device and a client. */
async function startContractHarness(): Promise<ContractHarness> {
  return await panHarness(1);
}

/** A contract harness on `count` fake devices (faults and `enforced` on the first). */
async function panHarness(count: number): Promise<TwoDeviceHarness> {
  const lab = await startLab(count);
  const server = lab.servers[0] as FakePanServer;
  const tagOf = (kind: EnforcedKind): string | null => kind === "account" ? null : TAGS[kind];
  const on = (device: 0 | 1) => lab.servers[device] as FakePanServer;
  return {
    enforcedOn(device, kind) {
      const tag = tagOf(kind);
      return Promise.resolve(tag === null ? new Set() : on(device).fake.taggedAnywhere(tag));
    },
    failSecond: () => on(1).fake.failAlways(503),
    slowSecond: (ms) => on(1).fake.stall(ms),
    another: () => lab.another(),
    client: lab.client,
    samples: sampleSet(),
    enforced(kind) {
      const tag = tagOf(kind);
      return Promise.resolve(tag === null ? new Set() : server.fake.taggedAnywhere(tag));
    },
    vanish(kind) {
      const tag = tagOf(kind);
      if (tag !== null) server.fake.clearTag(tag);
      return Promise.resolve();
    },
    faults: {
      serverError: () => server.fake.failAlways(503),
      down: () => server.down(),
    },
    close: () => lab.close(),
  };
}

Deno.test("pan client", async (t) => {
  await runClientContract(t, { start: startContractHarness, startTwo: () => panHarness(2) });

  await t.step(
    "blockHost() fails on every device when one is down and rolls back the others",
    async () => {
      const lab = await startLab(2);
      try {
        const [a, b] = lab.servers as [FakePanServer, FakePanServer];
        await b.down();
        const error = await rejectsClientError(lab.client.blockHost(sampleHost()), {
          client: "pan",
          operation: "blockHost",
        });
        assert.match(error.message, /^Cannot block host 7 \(ward-3-pc\) on pan: 10\.1\.2\.3 on /);
        assert.match(error.message, new RegExp(b.url.replace(/[.]/g, "\\.")));
        assert.deepEqual(a.fake.tagged(TAGS.host), new Set(), "a failed block must be rolled back");
        b.up();
        assert.deepEqual(await lab.client.blockHost(sampleHost()), ["10.1.2.3"]);
        assert.deepEqual(a.fake.tagged(TAGS.host), new Set(["10.1.2.3"]));
        assert.deepEqual(b.fake.tagged(TAGS.host), new Set(["10.1.2.3"]));
      } finally {
        await lab.close();
      }
    },
  );

  await t.step(
    "a failed block's rollback keeps a pair another block already registered",
    async () => {
      const lab = await startLab(2);
      try {
        const [a, b] = lab.servers as [FakePanServer, FakePanServer];
        const first = sampleDetection({ id: 1, dstIps: ["198.51.100.7"] });
        const second = sampleDetection({ id: 2, dstIps: ["198.51.100.7", "203.0.113.9"] });
        await lab.client.blockDetection(first);
        b.fake.failAlways(503);
        await rejectsClientError(lab.client.blockDetection(second), {
          client: "pan",
          operation: "blockDetection",
        });
        assert.deepEqual(a.fake.tagged(TAGS.detection), new Set(["198.51.100.7"]));
        b.fake.failAlways(null);
        assert.deepEqual(await lab.client.blockDetection(second), ["198.51.100.7", "203.0.113.9"]);
        assert.deepEqual(b.fake.tagged(TAGS.detection), new Set(["198.51.100.7", "203.0.113.9"]));
      } finally {
        await lab.close();
      }
    },
  );

  await t.step(
    "unblockHost() fails while one device is down and succeeds once it is back",
    async () => {
      const lab = await startLab(2);
      try {
        const [a, b] = lab.servers as [FakePanServer, FakePanServer];
        const ids = await lab.client.blockHost(sampleHost());
        await b.down();
        await rejectsClientError(lab.client.unblockHost(sampleHost(), ids), {
          client: "pan",
          operation: "unblockHost",
        });
        assert.deepEqual(a.fake.tagged(TAGS.host), new Set());
        b.up();
        assert.deepEqual(await lab.client.unblockHost(sampleHost(), ids), ids);
        assert.deepEqual(b.fake.tagged(TAGS.host), new Set());
      } finally {
        await lab.close();
      }
    },
  );

  await t.step(
    "static entries failed on one device are not listed, so the next cycle retries them",
    async () => {
      const lab = await startLab(2);
      try {
        const [a, b] = lab.servers as [FakePanServer, FakePanServer];
        b.fake.failAlways(503);
        const outcomes = await lab.client.blockStaticIps(sampleStaticIps());
        assert.equal(outcomes.length, 3);
        for (const outcome of outcomes) {
          assert.equal(outcome.ok, false);
          assert.match(outcome.error ?? "", /^Cannot block static destination /);
        }
        assert.deepEqual(a.fake.tagged(TAGS.static), new Set());
        await rejectsClientError(lab.client.listStaticIps(), {
          client: "pan",
          operation: "listStaticIps",
        });
        b.fake.failAlways(null);
        assert.deepEqual(await lab.client.listStaticIps(), []);
        const again = await lab.client.blockStaticIps(sampleStaticIps());
        assert.ok(again.every((o) => o.ok));
        assert.deepEqual(
          new Set(await lab.client.listStaticIps()),
          new Set(sampleStaticIps().dstIps),
        );
      } finally {
        await lab.close();
      }
    },
  );

  await t.step("a static entry whose unblock failed on one device stays listed", async () => {
    const lab = await startLab(2);
    try {
      const [a, b] = lab.servers as [FakePanServer, FakePanServer];
      await lab.client.blockStaticIps({ dstIps: ["192.0.2.44"] });
      b.fake.failAlways(503);
      const [outcome] = await lab.client.unblockStaticIps({ dstIps: ["192.0.2.44"] });
      assert.equal(outcome?.ok, false);
      assert.deepEqual(a.fake.tagged(TAGS.static), new Set());
      b.fake.failAlways(null);
      assert.deepEqual(await lab.client.listStaticIps(), ["192.0.2.44"]);
    } finally {
      await lab.close();
    }
  });

  await t.step("blockHost() registers an IPv6 host in canonical form", async () => {
    const lab = await startLab(1);
    try {
      const host = sampleHost({ ip: "2001:DB8:0:0::0:42" });
      assert.deepEqual(await lab.client.blockHost(host), ["2001:db8::42"]);
      assert.deepEqual(lab.servers[0]?.fake.tagged(TAGS.host), new Set(["2001:db8::42"]));
      assert.deepEqual(await lab.client.unblockHost(host, ["2001:db8::42"]), ["2001:db8::42"]);
      assert.deepEqual(lab.servers[0]?.fake.tagged(TAGS.host), new Set());
    } finally {
      await lab.close();
    }
  });

  await t.step("blockStaticIps() registers IPv4 networks and refuses IPv6 networks", async () => {
    const lab = await startLab(1);
    try {
      const outcomes = await lab.client.blockStaticIps({
        dstIps: ["198.51.100.0/24", "2001:db8::/48", "2001:db8::7"],
      });
      const byEntry = new Map(outcomes.map((o) => [o.entry, o]));
      assert.equal(byEntry.get("198.51.100.0/24")?.ok, true);
      assert.equal(byEntry.get("2001:db8::7")?.ok, true);
      assert.equal(byEntry.get("2001:db8::/48")?.ok, false);
      assert.match(byEntry.get("2001:db8::/48")?.error ?? "", /IPv6 addresses only/);
      assert.deepEqual(
        lab.servers[0]?.fake.tagged(TAGS.static),
        new Set(["198.51.100.0/24", "2001:db8::7"]),
      );
    } finally {
      await lab.close();
    }
  });

  await t.step(
    "blockStaticIps() reports a network a pre-10.0 device refuses, per entry",
    async () => {
      const lab = await startLab(1, { fake: { supportsNetworks: false } });
      try {
        const outcomes = await lab.client.blockStaticIps({
          dstIps: ["192.0.2.44", "198.51.100.0/24"],
        });
        const byEntry = new Map(outcomes.map((o) => [o.entry, o]));
        assert.equal(byEntry.get("192.0.2.44")?.ok, true);
        assert.equal(byEntry.get("198.51.100.0/24")?.ok, false);
        assert.match(
          byEntry.get("198.51.100.0/24")?.error ?? "",
          /invalid IP address 198\.51\.100\.0\/24/,
        );
        assert.deepEqual(lab.servers[0]?.fake.tagged(TAGS.static), new Set(["192.0.2.44"]));
      } finally {
        await lab.close();
      }
    },
  );

  await t.step(
    "registrations var did not make (other tags) are never touched or listed",
    async () => {
      const lab = await startLab(1);
      try {
        const fake = lab.servers[0]!.fake;
        fake.register("10.1.2.3", ["Quarantine"]);
        fake.register("10.9.9.9", ["NAC_Guest", "Quarantine"]);
        const ids = await lab.client.blockHost(sampleHost());
        assert.deepEqual(fake.registrations().get("10.1.2.3"), [TAGS.host, "Quarantine"]);
        assert.deepEqual(await lab.client.list(), [{ element: "10.1.2.3", kind: "host" }]);
        await lab.client.unblockHost(sampleHost(), ids);
        assert.deepEqual(fake.registrations().get("10.1.2.3"), ["Quarantine"]);
        assert.deepEqual(fake.registrations().get("10.9.9.9"), ["NAC_Guest", "Quarantine"]);
      } finally {
        await lab.close();
      }
    },
  );

  await t.step("static and detection registrations of one IP are independent", async () => {
    const lab = await startLab(1);
    try {
      const fake = lab.servers[0]!.fake;
      const detection = sampleDetection({ dstIps: ["192.0.2.44"] });
      await lab.client.blockDetection(detection);
      await lab.client.blockStaticIps({ dstIps: ["192.0.2.44"] });
      await lab.client.unblockStaticIps({ dstIps: ["192.0.2.44"] });
      assert.deepEqual(fake.tagged(TAGS.detection), new Set(["192.0.2.44"]));
      assert.deepEqual(await lab.client.listStaticIps(), []);
      assert.deepEqual(await lab.client.list(), [{ element: "192.0.2.44", kind: "detection" }]);
    } finally {
      await lab.close();
    }
  });

  await t.step(
    "an administrator's change between two calls is neither lost nor fatal",
    async () => {
      const lab = await startLab(1);
      try {
        const fake = lab.servers[0]!.fake;
        const ids = await lab.client.blockHost(sampleHost());
        fake.beforeNext(() => {
          fake.unregister("10.1.2.3", TAGS.host);
          fake.register("10.1.2.3", ["Investigate"]);
        });
        assert.deepEqual(await lab.client.unblockHost(sampleHost(), ids), ids);
        assert.deepEqual(fake.registrations().get("10.1.2.3"), ["Investigate"]);
        fake.beforeNext(() => fake.register("10.1.2.3", [TAGS.host]));
        assert.deepEqual(await lab.client.blockHost(sampleHost()), ["10.1.2.3"]);
        assert.deepEqual(fake.registrations().get("10.1.2.3"), [TAGS.host, "Investigate"]);
      } finally {
        await lab.close();
      }
    },
  );

  await t.step("concurrent blocks of detections sharing a destination both succeed", async () => {
    const lab = await startLab(2);
    try {
      const [a, b] = lab.servers as [FakePanServer, FakePanServer];
      const results = await Promise.all([
        lab.client.blockDetection(sampleDetection({ id: 1, dstIps: ["198.51.100.7"] })),
        lab.client.blockDetection(sampleDetection({ id: 2, dstIps: ["198.51.100.7"] })),
      ]);
      assert.deepEqual(results, [["198.51.100.7"], ["198.51.100.7"]]);
      assert.deepEqual(a.fake.tagged(TAGS.detection), new Set(["198.51.100.7"]));
      assert.deepEqual(b.fake.tagged(TAGS.detection), new Set(["198.51.100.7"]));
    } finally {
      await lab.close();
    }
  });

  await t.step(
    "stored credentials are used before the terminal is asked for an API key",
    async () => {
      const lab = await startLab(1, {
        stored: { username: USER, password: PASSWORD },
        secrets: { API_Key: "typed-at-the-prompt" },
      });
      try {
        const server = lab.servers[0]!;
        await lab.client.blockHost(sampleHost());
        assert.deepEqual(lab.secrets.lookups, [
          `stored ${server.url}/API_Key`,
          `stored ${server.url}/username`,
          `stored ${server.url}/password`,
        ]);
        assert.equal(server.fake.requests.filter((r) => r.type === "keygen").length, 1);
      } finally {
        await lab.close();
      }
    },
  );

  await t.step(
    "with nothing stored, the API key is asked for through the normal lookup",
    async () => {
      const lab = await startLab(1, { stored: {}, secrets: { API_Key: KEY } });
      try {
        const server = lab.servers[0]!;
        await lab.client.blockHost(sampleHost());
        assert.equal(lab.secrets.lookups.at(-1), `${server.url}/API_Key`);
        assert.equal(server.fake.requests.filter((r) => r.type === "keygen").length, 0);
        assert.deepEqual(server.fake.tagged(TAGS.host), new Set(["10.1.2.3"]));
      } finally {
        await lab.close();
      }
    },
  );

  await t.step(
    "the client generates the API key once from the credentials and stores it",
    async () => {
      const lab = await startLab(1, { secrets: { username: USER, password: PASSWORD } });
      try {
        const server = lab.servers[0]!;
        await lab.client.blockHost(sampleHost());
        await lab.client.blockHost(sampleHost());
        const keygens = server.fake.requests.filter((r) => r.type === "keygen");
        assert.equal(keygens.length, 1);
        assert.equal(keygens[0]?.method, "POST");
        assert.equal(keygens[0]?.url, "/api/");
        assert.equal(keygens[0]?.params.password, PASSWORD);
        assert.deepEqual(lab.secrets.stored, [{ service: server.url, key: "API_Key", value: KEY }]);
        assert.deepEqual(server.fake.tagged(TAGS.host), new Set(["10.1.2.3"]));
      } finally {
        await lab.close();
      }
    },
  );

  await t.step("with --no-store-secrets the generated key stays in memory only", async () => {
    const lab = await startLab(1, {
      secrets: { username: USER, password: PASSWORD },
      store: false,
    });
    try {
      await lab.client.blockHost(sampleHost());
      await lab.client.unblockHost(sampleHost(), ["10.1.2.3"]);
      assert.deepEqual(lab.secrets.stored, []);
      assert.equal(lab.servers[0]!.fake.requests.filter((r) => r.type === "keygen").length, 1);
      assert.ok(secretValues.values().includes(KEY), "the generated key is redacted from logs");
    } finally {
      await lab.close();
    }
  });

  await t.step(
    "wrong credentials fail the operation without naming the password, and keygen is retried",
    async () => {
      const lab = await startLab(1, { secrets: { username: USER, password: "wrong<pw>" } });
      try {
        const error = await rejectsClientError(lab.client.blockHost(sampleHost()), {
          client: "pan",
          operation: "blockHost",
        });
        assert.match(error.message, /refused the credentials \(403\)/);
        assert.ok(!error.message.includes("wrong<pw>"));
        await rejectsClientError(lab.client.blockHost(sampleHost()), {
          client: "pan",
          operation: "blockHost",
        });
        assert.equal(lab.servers[0]!.fake.requests.filter((r) => r.type === "keygen").length, 2);
        assert.deepEqual(lab.secrets.stored, []);
      } finally {
        await lab.close();
      }
    },
  );

  await t.step("create() refuses a URL with neither an API key nor credentials", async () => {
    await assert.rejects(
      startLab(1, { secrets: { username: USER } }),
      (error: unknown) => {
        assert.ok(error instanceof ClientError);
        assert.match(
          error.message,
          /^Cannot create the pan client: no secret API_Key, nor username and password, for service "http:\/\/127\.0\.0\.1:\d+"/,
        );
        return true;
      },
    );
  });

  await t.step('an HTTP 200 answer with status="error" is a ClientError', async () => {
    const lab = await startLab(1);
    try {
      const fake = lab.servers[0]!.fake;
      fake.xmlErrorNext("User-ID service is not running");
      const error = await rejectsClientError(lab.client.blockHost(sampleHost()), {
        client: "pan",
        operation: "blockHost",
      });
      assert.match(error.message, /answered status "error": User-ID service is not running/);
      assert.equal(error.status, 200);
      fake.xmlErrorNext("show command failed");
      await rejectsClientError(lab.client.list(), { client: "pan", operation: "list" });
    } finally {
      await lab.close();
    }
  });

  await t.step("list() marks an element that only some devices hold as partial", async () => {
    const lab = await startLab(2);
    try {
      const [a, b] = lab.servers as [FakePanServer, FakePanServer];
      await lab.client.blockHost(sampleHost());
      b.fake.unregister("10.1.2.3", TAGS.host);
      assert.deepEqual(await lab.client.list(), [
        { element: "10.1.2.3", kind: "host", partial: true },
      ]);
      assert.deepEqual(a.fake.tagged(TAGS.host), new Set(["10.1.2.3"]));
      await lab.client.blockHost(sampleHost());
      assert.deepEqual(await lab.client.list(), [{ element: "10.1.2.3", kind: "host" }]);
    } finally {
      await lab.close();
    }
  });

  await t.step("values with XML metacharacters are escaped in the uid-message", async () => {
    const tag = `Block<"&'>Host`;
    const lab = await startLab(1, { raw: { PAN_INTERNAL_BLOCK_TAG: tag } });
    try {
      const fake = lab.servers[0]!.fake;
      await lab.client.blockHost(sampleHost());
      assert.deepEqual(fake.tagged(tag), new Set(["10.1.2.3"]));
      assert.deepEqual(await lab.client.list(), [{ element: "10.1.2.3", kind: "host" }]);
      const message = buildUidMessage("register", ['1.2.3.4"/><x a="'], tag);
      assert.ok(!message.includes("<x"), message);
    } finally {
      await lab.close();
    }
  });

  await t.step(
    "the API key travels in X-PAN-KEY only, never in a URL or an error message",
    async () => {
      const lab = await startLab(1);
      try {
        const fake = lab.servers[0]!.fake;
        await lab.client.blockHost(sampleHost());
        await lab.client.list();
        assert.ok(fake.requests.length >= 4);
        for (const request of fake.requests) {
          assert.equal(request.method, "POST");
          assert.ok(!request.url.includes(KEY) && !request.url.includes("key="), request.url);
          assert.equal(request.keyHeader, KEY);
          assert.ok(!request.body.includes(encodeURIComponent(KEY)));
        }
      } finally {
        await lab.close();
      }
      const wrong = await startLab(1, { secrets: { API_Key: "not-the-key-9931" } });
      try {
        const error = await rejectsClientError(wrong.client.blockHost(sampleHost()), {
          client: "pan",
          operation: "blockHost",
        });
        assert.equal(error.status, 403);
        assert.match(error.message, /refused the API key \(403\)/);
        assert.ok(!error.message.includes("not-the-key-9931"));
      } finally {
        await wrong.close();
      }
    },
  );

  await t.step("vsys and Panorama target route registrations to their scope", async () => {
    const server = startFakePan({
      apiKey: KEY,
      vsys: ["vsys1", "vsys2"],
      targets: ["007951000123"],
    });
    const client = await pan.create(
      parseConfig({
        PAN_URLS: `${server.url},${server.url}`,
        PAN_VSYS: "vsys2,",
        PAN_TARGET: ",007951000123",
      }),
      { http: HTTP, secret: () => Promise.resolve(KEY) },
    );
    try {
      await client.blockHost(sampleHost());
      assert.deepEqual(server.fake.tagged(TAGS.host, { vsys: "vsys2" }), new Set(["10.1.2.3"]));
      assert.deepEqual(
        server.fake.tagged(TAGS.host, { target: "007951000123" }),
        new Set(["10.1.2.3"]),
      );
      assert.deepEqual(server.fake.tagged(TAGS.host), new Set(), "vsys1 of the device itself");
      assert.deepEqual(await client.list(), [{ element: "10.1.2.3", kind: "host" }]);
    } finally {
      await client.close();
      await server.close();
    }
  });

  await t.step("listStaticIps() reads every page of registered IPs", async () => {
    const lab = await startLab(1, { fake: { maxPage: 2 } });
    try {
      const entries = ["192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4", "192.0.2.5"];
      await lab.client.blockStaticIps({ dstIps: entries });
      assert.deepEqual(new Set(await lab.client.listStaticIps()), new Set(entries));
    } finally {
      await lab.close();
    }
  });

  await t.step(
    "blockHost() refuses a host without an IP; unblockHost() drops ids that are no IP",
    async () => {
      const lab = await startLab(1);
      try {
        const error = await rejectsClientError(
          lab.client.blockHost(sampleHost({ ip: null })),
          { client: "pan", operation: "blockHost" },
        );
        assert.equal(
          error.message,
          'Cannot block host 7 ("ward-3-pc") with pan: no address is known',
        );
        assert.equal(lab.servers[0]!.fake.requests.length, 0);
        assert.deepEqual(await lab.client.unblockHost(sampleHost(), ["None"]), ["None"]);
        assert.equal(lab.servers[0]!.fake.requests.length, 0, "nothing to unregister for 'None'");
      } finally {
        await lab.close();
      }
    },
  );

  await t.step("the fake refuses malformed XML, unknown commands and unknown types", async () => {
    const server = startFakePan({ apiKey: KEY });
    const post = async (params: Record<string, string>) => {
      const response = await fetch(`${server.url}/api/`, {
        method: "POST",
        headers: { "Content-Type": "application/x-www-form-urlencoded", "X-PAN-KEY": KEY },
        body: new URLSearchParams(params).toString(),
      });
      return { status: response.status, text: await response.text() };
    };
    try {
      const malformed = await post({
        type: "user-id",
        cmd:
          `<uid-message><type>update</type><payload><register><entry ip="1.2.3.4"><tag><member>a<b</member></tag></entry></register></payload></uid-message>`,
      });
      assert.equal(malformed.status, 200);
      assert.match(malformed.text, /status="error" code="18".*Malformed Request/);
      const unknown = await post({ type: "op", cmd: "<show><system><info/></system></show>" });
      assert.match(unknown.text, /status="error" code="17"/);
      const type = await post({ type: "commit", cmd: "<commit/>" });
      assert.equal(type.status, 400);
      assert.deepEqual(server.fake.registrations(), new Map());
    } finally {
      await server.close();
    }
  });

  await t.step("removeElements() unregisters orphans by kind and returns them", async () => {
    const lab = await startLab(1);
    try {
      const fake = lab.servers[0]!.fake;
      await lab.client.blockHost(sampleHost());
      await lab.client.blockDetection(sampleDetection());
      const removed = await lab.client.removeElements([
        { element: "10.1.2.3", kind: "host" },
        { element: "198.51.100.7", kind: "detection" },
      ]);
      assert.deepEqual(new Set(removed), new Set(["10.1.2.3", "198.51.100.7"]));
      assert.deepEqual(fake.tagged(TAGS.host), new Set());
      assert.deepEqual(fake.tagged(TAGS.detection), new Set(["203.0.113.9"]));
    } finally {
      await lab.close();
    }
  });
});

Deno.test("PanConfigSchema applies the defaults of vendors/pan.md and a static tag", () => {
  const config = parseConfig({ PAN_URLS: "fw1.example.com, https://fw2.example.com:8443" });
  assert.deepEqual(config.tags, TAGS);
  assert.deepEqual(config.devices.map((d) => [d.entry, d.baseUrl, d.verifyTls, d.vsys]), [
    ["fw1.example.com", "https://fw1.example.com", true, null],
    ["https://fw2.example.com:8443", "https://fw2.example.com:8443", true, null],
  ]);
  assert.deepEqual(pan.secrets(config).map((s) => `${s.service}/${s.key}`), [
    "fw1.example.com/API_Key",
    "https://fw2.example.com:8443/API_Key",
  ]);
});

Deno.test("PanConfigSchema refuses an empty URL list, shared tags and a bad vsys", () => {
  const issue = (raw: Record<string, string>): string => {
    const result = PanConfigSchema.safeParse(raw);
    assert.equal(result.success, false);
    return result.error?.issues[0]?.message ?? "";
  };
  assert.equal(issue({}), "PAN_URLS is empty; give the firewall or Panorama URLs");
  assert.equal(
    issue({ PAN_URLS: "fw1", PAN_STATIC_BLOCK_TAG: "Block_Detection" }),
    'PAN_STATIC_BLOCK_TAG and PAN_EXTERNAL_BLOCK_TAG are both "Block_Detection"; use a separate tag per use',
  );
  assert.equal(
    issue({ PAN_URLS: "fw1", PAN_VSYS: "dmz" }),
    'PAN_VSYS "dmz" is not a vsys id; use vsys1, vsys2, …',
  );
  assert.equal(
    issue({ PAN_URLS: "fw1,fw2,fw3", PAN_VSYS: "vsys1,vsys2" }),
    "PAN_VSYS has 2 values but PAN_URLS has 3; give one value for all URLs or one per URL",
  );
  assert.equal(
    issue({ PAN_URLS: "https://admin:pw@fw1" }),
    'PAN_URLS entry "https://admin:pw@fw1" carries credentials; store them as secrets instead',
  );
});

Deno.test("pan client verifies TLS by default and trusts PAN_CA_FILE", async () => {
  const certs = await makeTestCertificates();
  const server = startFakePan({ apiKey: KEY, tls: { cert: certs.cert, key: certs.key } });
  const context: ClientContext = { http: HTTP, secret: () => Promise.resolve(KEY) };
  const trusting = await pan.create(
    parseConfig({ PAN_URLS: server.url, PAN_CA_FILE: certs.caFile }),
    context,
  );
  const untrusting = await pan.create(parseConfig({ PAN_URLS: server.url }), context);
  try {
    assert.deepEqual(await trusting.blockHost(sampleHost()), ["10.1.2.3"]);
    assert.deepEqual(server.fake.tagged(TAGS.host), new Set(["10.1.2.3"]));
    const error = await rejectsClientError(untrusting.listStaticIps(), {
      client: "pan",
      operation: "listStaticIps",
    });
    assert.match(error.message, /network error/);
    assert.equal(server.fake.requests.length, 1, "the untrusted device never got a request");
  } finally {
    await trusting.close();
    await untrusting.close();
    await server.close();
    await certs.cleanup();
  }
});

Deno.test("the kit's PAN-OS client adopts what the previous version registered, without unregistering or registering again", async () => {
  // fixtures/pan_state_v0.1.0.json: what the PAN-OS client of var 0.1.0 (commit 2a229e6)
  // registered after blocking two hosts, a detection and two static entries.
  const state = JSON.parse(
    await Deno.readTextFile(new URL("./fixtures/pan_state_v0.1.0.json", import.meta.url)),
  ) as {
    ids: PreviousIds;
    registrations: Record<string, string[]>;
  };
  const lab = await startLab(1);
  try {
    const fake = lab.servers[0]!.fake;
    for (const [ip, tags] of Object.entries(state.registrations)) fake.register(ip, tags);
    await blockAsPreviousVersion(lab.client, state.ids);
    assert.deepEqual(
      Object.fromEntries(fake.registrations()),
      state.registrations,
      "registrations unchanged: nothing unregistered, nothing added",
    );
    assert.equal(
      fake.requests.filter((r) => r.type === "user-id" && r.params.cmd?.includes("<unregister>"))
        .length,
      0,
    );
    await assertPreviousVersionReadBack(lab.client);
    assert.deepEqual(await lab.client.unblockHost(sampleHost(), state.ids.host), state.ids.host);
    assert.deepEqual(fake.tagged(TAGS.host), new Set(["2001:db8::8"]));
  } finally {
    await lab.close();
  }
});
