import assert from "node:assert/strict";
import { seed } from "../../../demo/seed.ts";
import { VectraError } from "../../../engine/vectra/api.ts";
import { V3VectraApi } from "../../../engine/vectra/v3.ts";
import {
  assertNoSecrets,
  type Harness,
  type HarnessOptions,
  messagesOf,
  rejection,
  startHarness,
} from "./_fixture.ts";

function data() {
  const builder = seed()
    .host({ name: "icu-1", tags: ["block"], threat: 90, certainty: 90, urgency: 95 })
    .host({ name: "icu-2", tags: ["unblock"], urgency: 80 })
    .host({ name: "icu-3", urgency: 70, tags: ["VAR Host Blocked"] })
    .host({ name: "icu-4", urgency: 60, tags: ["VAR Host Blocked"] })
    .host({ name: "icu-5", urgency: 50, tags: ["VAR Host Blocked"] })
    .account({ name: "O365:darcy@corp.example.com", tags: ["block"], urgency: 75 })
    .account({ name: "O365:kim@corp.example.com", urgency: 40, threat: 70, certainty: 70 })
    .detection({
      src: "icu-1",
      type: "Hidden HTTPS Tunnel",
      dstIps: ["8.8.4.4", "192.168.0.9"],
      tags: ["block"],
    })
    .detection({ srcAccount: "O365:darcy@corp.example.com", type: "Suspicious Admin" })
    .group({ name: "Block", type: "host", members: ["icu-2"] })
    .group({ name: "Block", type: "account", members: ["kim@corp.example.com"] });
  for (let i = 0; i < 12; i++) builder.host({ name: `quiet-${i}`, urgency: 10 + i });
  return builder;
}

async function harness(options: HarnessOptions = {}): Promise<Harness> {
  return await startHarness({ apiVersion: "3.4", seed: data(), maxPageSize: 2, ...options });
}

/** A clock shared by the fake and the client. */
function clock(start = Date.UTC(2026, 10, 27, 8)) {
  let now = start;
  return { now: () => now, advance: (seconds: number) => now += seconds * 1000 };
}

Deno.test("v3.4 reads hosts, accounts, detections and groups", async () => {
  await using h = await harness();
  assert.ok(h.api instanceof V3VectraApi);
  assert.equal(h.api.version, "3.4");
  const tagged = await h.api.listHosts({ tag: "block" });
  assert.deepEqual(tagged.map((host) => host.name), ["icu-1"]);
  const blocked = await h.api.listHosts({ tag: "VAR Host Blocked" });
  assert.equal(blocked.length, 3);
  const byIds = await h.api.hostsByIds(blocked.map((host) => host.id));
  assert.equal(byIds.length, 3);
  const accounts = await h.api.listAccounts({ threatGte: 70, certaintyGte: 70 });
  assert.deepEqual(accounts.map((a) => a.name), ["O365:kim@corp.example.com"]);
  assert.deepEqual(accounts[0]?.accountType, ["o365"]);
  const byUid = await h.api.accountsByUids(["kim@corp.example.com"]);
  assert.deepEqual(byUid.map((a) => a.name), ["O365:kim@corp.example.com"]);
  const byId = await h.api.accountsByIds([accounts[0]?.id ?? 0]);
  assert.equal(byId.length, 1);
  const detections = await h.api.listDetections({ tag: "block" });
  assert.equal(detections.length, 1);
  assert.deepEqual(detections[0]?.dstIps, ["8.8.4.4"]);
  assert.equal(detections[0]?.category, detections[0]?.category.toLowerCase());
  assert.notEqual(detections[0]?.category, "");
  const accountDetections = await h.api.listDetections({ detectionType: "Suspicious Admin" });
  assert.equal(accountDetections[0]?.hostId, null);
  assert.equal(
    accountDetections[0]?.accountId,
    h.brain.idOf("account", "O365:darcy@corp.example.com"),
  );
  const hostGroups = await h.api.groupsByName("Block", "host");
  assert.deepEqual(hostGroups[0]?.hostIds, [h.brain.idOf("host", "icu-2")]);
  const accountGroups = await h.api.groupsByName("Block", "account");
  assert.deepEqual(accountGroups[0]?.accountUids, ["kim@corp.example.com"]);
  const groupQuery = h.brain.requests.find((r) => r.endpoint === "GET /groups")?.query ?? "";
  assert.match(groupQuery, /include_members=true/);
  const detectionQuery = h.brain.requests.find((r) => r.endpoint === "GET /detections")?.query ??
    "";
  assert.doesNotMatch(decodeURIComponent(detectionQuery), /c_score|t_score|targets_key_asset/);
});

Deno.test("v3.4 urgentEntities() stops at the first entity below the minimum", async () => {
  await using h = await harness();
  const hosts = await h.api.urgentEntities("host", 60);
  assert.deepEqual(hosts.map((e) => e.urgencyScore), [95, 80, 70, 60]);
  assert.deepEqual(
    hosts.map((e) => e.id),
    ["icu-1", "icu-2", "icu-3", "icu-4"].map((n) => h.brain.idOf("host", n)),
  );
  assert.equal(h.brain.requestCounts().get("GET /entities"), 3, "17 hosts, 2 per page, 3 read");
  const accounts = await h.api.urgentEntities("account", 50);
  assert.deepEqual(accounts.map((e) => e.id), [
    h.brain.idOf("account", "O365:darcy@corp.example.com"),
  ]);
  assert.deepEqual(await h.api.urgentEntities("host", 101), []);
});

Deno.test("v3.4 tags and notes round-trip", async () => {
  await using h = await harness();
  const id = h.brain.idOf("account", "O365:darcy@corp.example.com");
  assert.deepEqual(await h.api.getTags("account", id), ["block"]);
  await h.api.setTags("account", id, ["block", "VAR Account Blocked", "VAR ID:Test Client:u"]);
  assert.deepEqual(h.brain.tags("account", id), [
    "block",
    "VAR Account Blocked",
    "VAR ID:Test Client:u",
  ]);
  await h.api.addNote("account", id, "VAR: Blocked <by> Test & Client");
  assert.equal(h.brain.notes("account", id).at(-1)?.note, "VAR: Blocked <by> Test & Client");
  const [account] = await h.api.accountsByIds([id]);
  assert.equal(account?.note, "VAR: Blocked <by> Test & Client");
  assert.equal(account?.isBlocked, true);
});

Deno.test("v3.4 refreshes a token that nears expiry in the middle of a read", async () => {
  const time = clock();
  await using h = await harness({ now: time.now, clientNow: time.now, expiresIn: 600 });
  h.brain.fault({ kind: "mutate", mutate: () => time.advance(590) }, {
    path: "/hosts",
    query: { page: "2" },
  });
  const hosts = await h.api.listHosts({});
  assert.equal(hosts.length, 17);
  const grants = h.brain.requests.filter((r) => r.route === "/oauth2/token");
  assert.deepEqual(grants.map((r) => r.grantType), ["client_credentials", "refresh_token"]);
  assert.ok(grants.every((r) => r.path === "/oauth2/token"));
  assert.ok(h.brain.requests.every((r) => r.status !== 401), "no request used an expired token");
  assertNoSecrets(h.logs, h.secrets());
});

Deno.test("v3.4 falls back to client credentials when the refresh grant answers 401", async () => {
  const time = clock();
  await using h = await harness({ now: time.now, clientNow: time.now, expiresIn: 600 });
  h.brain.fault({
    kind: "mutate",
    mutate: (brain) => {
      time.advance(590);
      brain.expireRefreshTokens();
    },
  }, { path: "/hosts", query: { page: "2" } });
  const hosts = await h.api.listHosts({});
  assert.equal(hosts.length, 17);
  const grants = h.brain.requests.filter((r) => r.route === "/oauth2/token");
  assert.deepEqual(grants.map((r) => [r.grantType, r.status]), [
    ["client_credentials", 200],
    ["refresh_token", 401],
    ["client_credentials", 200],
  ]);
});

Deno.test("v3.4 re-authenticates once after a 401 and repeats the call once", async () => {
  await using h = await harness();
  h.brain.fault({ kind: "mutate", mutate: (brain) => brain.revokeTokens() }, {
    path: "/hosts",
    query: { page: "2" },
  });
  const blocked = await h.api.listHosts({ tag: "VAR Host Blocked" });
  assert.equal(blocked.length, 3);
  const statuses = h.brain.requests.filter((r) => r.endpoint === "GET /hosts").map((r) => r.status);
  assert.deepEqual(statuses, [200, 401, 200]);
  const grants = h.brain.requests.filter((r) => r.route === "/oauth2/token");
  assert.deepEqual(grants.map((r) => r.grantType), [
    "client_credentials",
    "refresh_token",
    "client_credentials",
  ]);
});

Deno.test("v3.4 fails after a second 401 instead of looping", async () => {
  await using h = await harness();
  h.brain.fault({ kind: "status", status: 401, body: { detail: "Token has expired." } }, {
    path: "/hosts",
    times: Infinity,
  });
  const error = await rejection(h.api.listHosts({ tag: "block" }), VectraError);
  assert.equal(error.status, 401);
  assert.equal(h.brain.requestCounts().get("GET /hosts"), 2);
  assert.match(
    error.message,
    /^Cannot list hosts on brain 127\.0\.0\.1:\d+: GET \/api\/v3\.4\/hosts answered 401: Token has expired\.; check the credentials of this brain$/,
  );
  assertNoSecrets([...messagesOf(error), ...h.logs], h.secrets());
});

Deno.test("v3.4 note POST after a 401 is repeated once with a new token", async () => {
  await using h = await harness();
  const id = h.brain.idOf("host", "icu-3");
  await h.api.getTags("host", id);
  h.brain.revokeTokens();
  await h.api.addNote("host", id, "VAR: Blocked");
  assert.equal(h.brain.notes("host", id).length, 1);
  assert.deepEqual(
    h.brain.requests.filter((r) => r.method === "POST" && r.route !== "/oauth2/token")
      .map((r) => r.status),
    [401, 201],
  );
});

Deno.test("v3.3 reads detections with the v3.3 fields", async () => {
  await using h = await harness({ apiVersion: "3.3" });
  assert.equal(h.api.version, "3.3");
  const detections = await h.api.listDetections({ tag: "block" });
  assert.equal(detections.length, 1);
  assert.equal(detections[0]?.threat, 50);
  assert.deepEqual(await h.api.groupsByName("Block", "host").then((g) => g.length), 1);
  const hosts = await h.api.urgentEntities("host", 90);
  assert.equal(hosts.length, 1);
});

Deno.test("v3.4 concurrent calls share one token request and one re-authentication", async () => {
  await using h = await harness();
  const ids = h.brain.all("host").map((host) => host.id).slice(0, 10);
  await Promise.all(ids.map((id) => h.api.getTags("host", id)));
  assert.equal(h.brain.requests.filter((r) => r.route === "/oauth2/token").length, 1);
  h.brain.revokeTokens();
  const tags = await Promise.all(ids.map((id) => h.api.getTags("host", id)));
  assert.equal(tags.length, 10);
  const grants = h.brain.requests.filter((r) => r.route === "/oauth2/token");
  assert.deepEqual(grants.map((r) => r.grantType), [
    "client_credentials",
    "refresh_token",
    "client_credentials",
  ]);
});
