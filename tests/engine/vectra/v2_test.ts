import assert from "node:assert/strict";
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

function data() {
  return seed()
    .host({ name: "ward-3-pc", ip: "10.1.2.3", tags: ["block"], threat: 80, certainty: 90 })
    .host({ name: "ward-4-pc", ip: "10.1.2.4", tags: ["unblock"], threat: 80, certainty: 40 })
    .host({ name: "lab-1", tags: ["blocker", "VAR Host Blocked", "VAR ID:Test Client:x1"] })
    .host({ name: "lab-2", tags: ["VAR Host Blocked"], threat: 20, certainty: 95 })
    .host({ name: "lab-3", tags: ["VAR Host Blocked"] })
    .host({ name: "lab-4", tags: ["VAR Host Blocked"] })
    .host({ name: "lab-5", tags: ["VAR Host Blocked"] })
    .host({ name: "lab-6", tags: ["VAR Host Blocked"] })
    .host({ name: "lab-7", tags: ["VAR Host Blocked"] })
    .account({ name: "O365:darcy@corp.example.com", tags: ["block"], threat: 60, certainty: 70 })
    .account({ name: "O365:kim@corp.example.com", tags: ["unblock"], threat: 60, certainty: 20 })
    .account({ name: "kerberos:svc_backup", uid: "svc_backup" })
    .detection({
      src: "ward-3-pc",
      type: "Hidden DNS Tunnel",
      dstIps: ["198.51.100.7", "8.8.8.8", "10.0.0.1"],
      tags: ["block"],
    })
    .detection({ src: "ward-3-pc", type: "Hidden DNS Tunnel Extra", tags: ["unblock"] })
    .detection({ src: "ward-4-pc", type: "Hidden DNS Tunnel", state: "inactive" })
    .detection({ src: "lab-1", type: "Port Scan", isTriaged: true })
    .detection({ srcAccount: "O365:darcy@corp.example.com", type: "Suspicious Admin" })
    .group({ name: "NoBlock", type: "host", members: ["ward-3-pc", "lab-1"] })
    .group({ name: "NoBlock2", type: "host", members: ["lab-2"] })
    .group({ name: "noblock", type: "host", members: ["lab-3"] })
    .group({ name: "NoBlock", type: "account", members: ["darcy@corp.example.com", "svc_backup"] })
    .group({ name: "NoBlock", type: "ip", members: ["10.0.0.0/8"] });
}

async function harness(options: HarnessOptions = {}): Promise<Harness> {
  return await startHarness({ apiVersion: "2.5", seed: data(), maxPageSize: 3, ...options });
}

Deno.test("v2.5 listHosts() reads every page and re-checks the tag exactly", async () => {
  await using h = await harness();
  const blocked = await h.api.listHosts({ tag: "VAR Host Blocked" });
  assert.deepEqual(
    blocked.map((host) => host.name).sort(),
    ["lab-1", "lab-2", "lab-3", "lab-4", "lab-5", "lab-6", "lab-7"],
  );
  assert.ok((h.brain.requestCounts().get("GET /hosts") ?? 0) >= 3, "several pages were read");
  const lab1 = blocked.find((host) => host.name === "lab-1");
  assert.deepEqual(lab1?.blockedElements.get("Test Client"), ["x1"]);
  const tagged = await h.api.listHosts({ tag: "block" });
  assert.deepEqual(tagged.map((host) => host.name), ["ward-3-pc"]);
  assert.equal(tagged[0]?.ip, "10.1.2.3");
  const query = h.brain.requests.find((r) => r.endpoint === "GET /hosts")?.query ?? "";
  assert.match(query, /page_size=5000/);
  assert.match(query, /fields=/);
});

Deno.test("v2.5 listHosts() filters threat and certainty with >=", async () => {
  await using h = await harness();
  const both = await h.api.listHosts({ threatGte: 80, certaintyGte: 90 });
  assert.deepEqual(both.map((host) => host.name), ["ward-3-pc"]);
  const threat = await h.api.listHosts({ threatGte: 80 });
  assert.deepEqual(threat.map((host) => host.name).sort(), ["ward-3-pc", "ward-4-pc"]);
});

Deno.test("v2.5 hostsByIds() batches ids and leaves out unknown ones", async () => {
  await using h = await harness();
  const ids = [h.brain.idOf("host", "lab-1"), h.brain.idOf("host", "lab-2"), 9999];
  const hosts = await h.api.hostsByIds([...ids, ids[0] ?? 0]);
  assert.deepEqual(hosts.map((host) => host.name).sort(), ["lab-1", "lab-2"]);
  assert.equal(h.brain.requestCounts().get("GET /hosts"), 1);
  assert.equal(h.brain.requestCounts().get("GET /hosts/{id}"), undefined);
  assert.deepEqual(await h.api.hostsByIds([]), []);
  assert.equal(h.brain.requestCounts().get("GET /hosts"), 1);
});

Deno.test("v2.5 listAccounts(), accountsByIds() and accountsByUids() read accounts", async () => {
  await using h = await harness();
  const tagged = await h.api.listAccounts({ tag: "block" });
  assert.deepEqual(tagged.map((a) => a.name), ["O365:darcy@corp.example.com"]);
  assert.equal(tagged[0]?.normalizedName, "darcy@corp.example.com");
  const scored = await h.api.listAccounts({ threatGte: 60, certaintyGte: 50 });
  assert.deepEqual(scored.map((a) => a.name), ["O365:darcy@corp.example.com"]);
  const id = h.brain.idOf("account", "kerberos:svc_backup");
  const byId = await h.api.accountsByIds([id, 424242]);
  assert.deepEqual(byId.map((a) => a.name), ["kerberos:svc_backup"]);
  h.brain.clearRequests();
  const byUid = await h.api.accountsByUids([
    "darcy@corp.example.com",
    "svc_backup",
    "darcy@corp.example.com",
    "nobody@corp.example.com",
  ]);
  assert.deepEqual(byUid.map((a) => a.name).sort(), [
    "O365:darcy@corp.example.com",
    "kerberos:svc_backup",
  ]);
  assert.equal(h.brain.requestCounts().get("GET /accounts"), 3, "one request per distinct uid");
});

Deno.test("v2.5 listDetections() re-checks tag, type, state, triage and source hosts", async () => {
  await using h = await harness();
  const tagged = await h.api.listDetections({ tag: "block" });
  assert.equal(tagged.length, 1);
  assert.deepEqual(tagged[0]?.dstIps, ["8.8.8.8"]);
  assert.equal(tagged[0]?.category, "EXFILTRATION");
  const typed = await h.api.listDetections({ detectionType: "Hidden DNS Tunnel", state: "active" });
  assert.deepEqual(typed.map((d) => d.detectionType), ["Hidden DNS Tunnel"]);
  const ward3 = h.brain.idOf("host", "ward-3-pc");
  const lab1 = h.brain.idOf("host", "lab-1");
  const ofHosts = await h.api.listDetections({
    hostIds: [ward3, lab1],
    state: "active",
    isTriaged: false,
  });
  assert.deepEqual(ofHosts.map((d) => d.detectionType).sort(), [
    "Hidden DNS Tunnel",
    "Hidden DNS Tunnel Extra",
  ]);
  assert.ok(ofHosts.every((d) => d.hostId === ward3));
  const hostQuery = h.brain.requests.filter((r) => r.endpoint === "GET /detections")
    .map((r) => new URLSearchParams(r.query).get("host_id")).find((v) => v !== null);
  // Until an answer proves the brain reads the list as any-of, the first host closes it too.
  assert.equal(hostQuery, `${ward3},${lab1},${ward3}`);
  assert.deepEqual(await h.api.listDetections({ hostIds: [] }), []);
});

Deno.test("v2.5 groupsByName() keeps exact names of the requested type", async () => {
  await using h = await harness();
  const hosts = await h.api.groupsByName("NoBlock", "host");
  assert.equal(hosts.length, 1);
  assert.deepEqual(
    [...(hosts[0]?.hostIds ?? [])].sort(),
    [h.brain.idOf("host", "ward-3-pc"), h.brain.idOf("host", "lab-1")].sort(),
  );
  const accounts = await h.api.groupsByName("NoBlock", "account");
  assert.deepEqual(accounts[0]?.accountUids, ["darcy@corp.example.com", "svc_backup"]);
  assert.deepEqual(await h.api.groupsByName("Missing", "host"), []);
});

Deno.test("v2.5 urgentEntities() is refused: urgency needs v3", async () => {
  await using h = await harness();
  const error = await rejection(h.api.urgentEntities("host", 50), VectraError);
  assert.match(error.message, /API 2\.5 has no \/entities/);
});

Deno.test("v2.5 getTags(), setTags() and addNote() write through the tagging and notes API", async () => {
  await using h = await harness();
  const id = h.brain.idOf("host", "ward-3-pc");
  assert.deepEqual(await h.api.getTags("host", id), ["block"]);
  const written = await h.api.setTags("host", id, ["block", "VAR Host Blocked"]);
  assert.deepEqual(written, ["block", "VAR Host Blocked"]);
  assert.deepEqual(h.brain.tags("host", id), ["block", "VAR Host Blocked"]);
  await h.api.addNote("host", id, "VAR: Blocked on 05 Mar 2024 at 14:03:11");
  assert.deepEqual(h.brain.notes("host", id).map((n) => n.note), [
    "VAR: Blocked on 05 Mar 2024 at 14:03:11",
  ]);
  const detection = h.brain.all("detection")[0]?.id ?? 0;
  await h.api.setTags("detection", detection, []);
  assert.deepEqual(h.brain.tags("detection", detection), []);
  const account = h.brain.idOf("account", "kerberos:svc_backup");
  await h.api.addNote("account", account, "VAR: Unblocked on 05 Mar 2024 at 14:03:11");
  assert.equal(h.brain.notes("account", account).length, 1);
});

Deno.test("v2.5 setTags() treats a status: failure body as an error, with 200 or 400", async () => {
  await using h = await harness();
  const id = h.brain.idOf("host", "ward-3-pc");
  h.brain.fault({ kind: "tagFailure", message: "Tag too long" }, { method: "PATCH" });
  const error = await rejection(h.api.setTags("host", id, ["x".repeat(10)]), VectraError);
  assert.equal(error.status, 200);
  assert.match(error.message, /write the tags of host \d+ .*status "failure".*"Tag too long"/);
  h.brain.fault({ kind: "tagFailure", status: 400 }, { method: "PATCH" });
  const second = await rejection(h.api.setTags("host", id, ["y"]), VectraError);
  assert.equal(second.status, 400);
  assert.deepEqual(h.brain.tags("host", id), ["block"]);
});

Deno.test("v2.5 addNote() is not retried after a 503", async () => {
  await using h = await harness();
  const id = h.brain.idOf("host", "lab-2");
  h.brain.failNext(503, { method: "POST", path: /^\/hosts\/\d+\/notes/ });
  const error = await rejection(h.api.addNote("host", id, "VAR: Blocked"), VectraError);
  assert.equal(error.status, 503);
  assert.equal(h.brain.requestCounts().get("POST /hosts/{id}/notes"), 1);
  assert.equal(h.brain.notes("host", id).length, 0);
});

Deno.test("v2.5 token auth sends the personal token and fails once on a wrong one", async () => {
  await using h = await harness({ auth: "token" });
  const hosts = await h.api.listHosts({ tag: "block" });
  assert.equal(hosts.length, 1);
  assert.equal(h.brain.requests.filter((r) => r.route === "/oauth2/token").length, 0);

  await using bad = await harness({ auth: "token", secretOverride: { Token: "wrong-token" } });
  const error = await rejection(bad.api.listHosts({ tag: "block" }), VectraError);
  assert.equal(error.status, 401);
  assert.equal(bad.brain.requestCounts().get("GET /hosts"), 1, "a token 401 is not retried");
  assert.match(
    error.message,
    /^Cannot list hosts on brain 127\.0\.0\.1:\d+: GET \/api\/v2\.5\/hosts answered 401: Invalid token\./,
  );
  assertNoSecrets([...messagesOf(error), ...bad.logs], [...bad.secrets(), "wrong-token"]);
});

Deno.test("v2.5 OAuth gets a new client-credentials token when one expires mid-read", async () => {
  await using h = await harness();
  let expired = false;
  h.brain.fault({
    kind: "mutate",
    mutate: (brain) => {
      expired = true;
      brain.expireTokens();
    },
  }, { path: "/hosts", query: { page: "2" } });
  const blocked = await h.api.listHosts({ tag: "VAR Host Blocked" });
  assert.ok(expired);
  assert.equal(blocked.length, 7);
  const grants = h.brain.requests.filter((r) => r.route === "/oauth2/token");
  assert.deepEqual(grants.map((r) => r.grantType), ["client_credentials", "client_credentials"]);
  assert.ok(grants.every((r) => r.path === "/api/v2.5/oauth2/token"));
  assertNoSecrets(h.logs, h.secrets());
});

Deno.test("v2.5 OAuth with a wrong secret fails naming the keys to check", async () => {
  await using h = await harness({ secretOverride: { Secret_Key: "not-the-secret" } });
  const error = await rejection(h.api.listHosts({ tag: "block" }), VectraError);
  assert.equal(error.status, 401);
  assert.match(
    error.message,
    /^Cannot authenticate to brain 127\.0\.0\.1:\d+ \(client_credentials grant\): POST \/api\/v2\.5\/oauth2\/token answered 401; check the Client_ID and Secret_Key of this brain$/,
  );
  assert.equal(h.brain.requestCounts().get("GET /hosts"), undefined);
  assertNoSecrets([...messagesOf(error), ...h.logs], [...h.secrets(), "not-the-secret"]);
});
