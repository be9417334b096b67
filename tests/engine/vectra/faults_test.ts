import assert from "node:assert/strict";
import type { FakeApiVersion } from "../../../demo/brain.ts";
import { seed } from "../../../demo/seed.ts";
import { VectraError } from "../../../engine/vectra/api.ts";
import {
  assertNoSecrets,
  type Harness,
  type HarnessOptions,
  messagesOf,
  rejection,
  startHarness,
} from "./_fixture.ts";

const HOSTS = 10;

function data() {
  const builder = seed();
  for (let i = 0; i < HOSTS; i++) {
    builder.host({ name: `pc-${i}`, tags: i % 2 === 0 ? ["VAR Host Blocked"] : ["other"] });
  }
  return builder;
}

async function harness(version: FakeApiVersion, options: HarnessOptions = {}): Promise<Harness> {
  return await startHarness({ apiVersion: version, seed: data(), maxPageSize: 2, ...options });
}

const PAGE_3 = { path: "/hosts", query: { page: "3" } };

for (const version of ["2.5", "3.4"] as const) {
  const root = `/api/v${version}`;

  Deno.test(`v${version} a 503 on a page is retried and the list completes`, async () => {
    await using h = await harness(version);
    h.brain.failNext(503, { ...PAGE_3, times: 2 });
    const hosts = await h.api.listHosts({});
    assert.equal(hosts.length, HOSTS);
    const page3 = h.brain.requests.filter((r) => r.query.includes("page=3"));
    assert.deepEqual(page3.map((r) => r.status), [503, 503, 200]);
  });

  Deno.test(`v${version} a persistent 503 is an error, never a partial list`, async () => {
    await using h = await harness(version);
    h.brain.failNext(503, { ...PAGE_3, times: Infinity });
    const error = await rejection(h.api.listHosts({}), VectraError);
    assert.equal(error.status, 503);
    assert.equal(error.brain, new URL(h.brain.url).host);
    assert.equal(
      error.message,
      `Cannot list hosts on brain ${error.brain}: GET ${root}/hosts answered 503: Injected fault 503`,
    );
    assert.equal(h.brain.requests.filter((r) => r.query.includes("page=3")).length, 3);
    assertNoSecrets([...messagesOf(error), ...h.logs], h.secrets());
  });

  Deno.test(`v${version} a 429 waits for Retry-After, then goes on`, async () => {
    await using h = await harness(version);
    h.brain.fault({ kind: "status", status: 429, retryAfter: 1 }, PAGE_3);
    const started = performance.now();
    const hosts = await h.api.listHosts({});
    const elapsed = performance.now() - started;
    assert.equal(hosts.length, HOSTS);
    assert.ok(elapsed >= 950, `waited ${elapsed} ms, expected the 1 s Retry-After`);
  });

  Deno.test(`v${version} a page that times out is retried, then fails`, async () => {
    await using h = await harness(version, { http: { timeoutMs: 150, retries: 1 } });
    const stall = h.brain.fault({ kind: "delay", ms: 400 }, PAGE_3);
    const hosts = await h.api.listHosts({});
    assert.equal(hosts.length, HOSTS);
    assert.equal(stall.hits, 1);
    h.brain.fault({ kind: "delay", ms: 400 }, { ...PAGE_3, times: Infinity });
    const error = await rejection(h.api.listHosts({}), VectraError);
    assert.equal(error.status, null);
    assert.match(error.message, new RegExp(`GET ${root}/hosts no answer within 150 ms$`));
  });

  Deno.test(`v${version} a reset connection is retried, and fails when it persists`, async () => {
    await using h = await harness(version);
    h.brain.fault({ kind: "reset" }, PAGE_3);
    assert.equal((await h.api.listHosts({})).length, HOSTS);
    h.brain.fault({ kind: "reset" }, { ...PAGE_3, times: Infinity });
    const error = await rejection(h.api.listHosts({}), VectraError);
    assert.equal(error.status, null);
    assert.match(
      error.message,
      new RegExp(`^Cannot list hosts on brain [^:]+:\\d+: GET ${root}/hosts network error`),
    );
    assert.doesNotMatch(error.message, /\?/, "no query string in the message");
    assertNoSecrets([...messagesOf(error), ...h.logs], h.secrets());
  });

  Deno.test(`v${version} a malformed page is an error naming the call`, async () => {
    await using h = await harness(version);
    h.brain.fault({ kind: "malformed" }, PAGE_3);
    const error = await rejection(h.api.listHosts({}), VectraError);
    assert.match(
      error.message,
      new RegExp(
        `^Cannot list hosts on brain [^:]+:\\d+: GET ${root}/hosts answered 200 with a body that is not JSON`,
      ),
    );
  });

  Deno.test(`v${version} a page without results or with a malformed host is an error`, async () => {
    await using h = await harness(version);
    h.brain.fault({ kind: "status", status: 200, body: { count: 3, next: null } }, PAGE_3);
    const error = await rejection(h.api.listHosts({}), VectraError);
    assert.match(error.message, /answered a page without a "results" list \(page 3\)/);
    h.brain.fault({
      kind: "status",
      status: 200,
      body: { count: 1, next: null, results: [{ id: 77, name: "no-tags" }] },
    }, { path: "/hosts" });
    const malformed = await rejection(h.api.listHosts({}), VectraError);
    assert.match(
      malformed.message,
      new RegExp(`GET ${root}/hosts answered Cannot read host 77: field "tags" is missing$`),
    );
  });

  Deno.test(`v${version} a next link to another origin is refused`, async () => {
    await using h = await harness(version);
    h.brain.fault({ kind: "foreignNext", origin: "https://attacker.example" }, {
      path: "/hosts",
      query: { page: "2" },
    });
    const error = await rejection(h.api.listHosts({}), VectraError);
    assert.match(
      error.message,
      /answered a "next" link to another origin "https:\/\/attacker\.example"; only http:\/\/127\.0\.0\.1:\d+ is followed$/,
    );
    assert.equal(h.brain.requests.filter((r) => r.endpoint === "GET /hosts").length, 2);
  });

  Deno.test(`v${version} the substring tag trap: block never matches unblock`, async () => {
    await using h = await startHarness({
      apiVersion: version,
      seed: seed()
        .host({ name: "a", tags: ["unblock"] })
        .host({ name: "b", tags: ["blocked-by-analyst", "block"] })
        .host({ name: "c", tags: ["Block"] })
        .account({ name: "O365:x@y", tags: ["unblock"] })
        .detection({ type: "Port Scan", tags: ["unblock"] })
        .detection({ type: "Port Scan", tags: ["block"] }),
    });
    assert.deepEqual((await h.api.listHosts({ tag: "block" })).map((x) => x.name), ["b"]);
    assert.deepEqual(await h.api.listAccounts({ tag: "block" }), []);
    const detections = await h.api.listDetections({ tag: "block" });
    assert.equal(detections.length, 1);
    assert.deepEqual(detections[0]?.tags, ["block"]);
  });
}
