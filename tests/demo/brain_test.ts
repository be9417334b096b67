import assert from "node:assert/strict";
import { type FakeBrain, type FakeBrainOptions, startFakeBrain } from "../../demo/brain.ts";
import { demoSeed, generateSeed, seed } from "../../demo/seed.ts";
import { makeTestCertificates } from "../_tls.ts";

/** The fields of API answers these tests read (a test-only view of parsed JSON). */
interface Body {
  count: number;
  next: string;
  previous: string;
  results: Body[];
  detail: string;
  details: string;
  access_token: string;
  refresh_token: string;
  expires_in: number;
  refresh_expires_in: number;
  token_type: string;
  status: string;
  tag_id: string;
  tags: string[];
  message: string;
  invalid_tags: string[];
  id: number;
  name: string;
  type: string;
  url: string;
  note: string;
  created_by: string;
  date_created: string;
  note_modified_timestamp: string;
  urgency_score: number;
  members: Body[];
  summary: { dst_ips: string[]; target_domains: string[] };
  src_host: Body;
  src_account: Body;
  detection_category: string;
  category: string;
  t_score: number;
  c_score: number;
  targets_key_asset: boolean;
  last_source: string;
  key_asset: boolean;
  is_key_asset: boolean;
  groups: Body[];
  account_type: string[];
  detection_type: string;
}

interface Reply {
  status: number;
  headers: Headers;
  body: Body;
}

/** A small scenario: hosts, accounts, detections and groups with known ids. */
function scenario() {
  return seed()
    .host({
      name: "ward-3-pc",
      ip: "10.1.2.3",
      tags: ["vectra_host_block"],
      threat: 80,
      certainty: 90,
    })
    .host({ name: "icu-monitor-02", tags: ["vectra_host_unblock"], threat: 40, certainty: 95 })
    .host({ name: "radiology-ws-01", threat: 95, certainty: 30, urgency: 99 })
    .host({ name: "reception-kiosk", state: "inactive", tags: ["front-desk"], urgency: 5 })
    .host({ name: "lab-analyzer", tags: ["Block-Me", "front-desk"], urgency: 60 })
    .account({ name: "O365:darcy@corp.example.com", tags: ["vectra_account_block"], urgency: 70 })
    .account({ name: "kerberos:svc@CORP", threat: 70, certainty: 70, urgency: 20 })
    .detection({
      src: "ward-3-pc",
      type: "Hidden DNS Tunnel",
      dstIps: ["198.51.100.7"],
      targetDomains: ["snakeoil.biz"],
      tags: ["block"],
    })
    .detection({ src: "ward-3-pc", type: "Port Scan", state: "inactive" })
    .detection({ src: "radiology-ws-01", type: "Hidden DNS Tunnel", isTriaged: true })
    .detection({ src: "lab-analyzer", type: "Novel External Destination Port", tags: ["unblock"] })
    .detection({ srcAccount: "kerberos:svc@CORP", type: "Azure AD Suspicious Sign-On" })
    .group({ name: "NoBlock", type: "host", members: ["icu-monitor-02"] })
    .group({ name: "NoBlock", type: "account", members: ["darcy@corp.example.com"] })
    .group({ name: "NoBlock-old", type: "host", members: ["ward-3-pc", 3] })
    .group({ name: "Block", type: "host", members: [] });
}

async function start(options: FakeBrainOptions = {}): Promise<FakeBrain> {
  return await startFakeBrain({ seed: scenario(), ...options });
}

async function send(url: string, init: RequestInit = {}): Promise<Reply> {
  const response = await fetch(url, init);
  const text = await response.text();
  let body: unknown = text;
  try {
    body = text === "" ? null : JSON.parse(text);
  } catch {
    // keep the raw text
  }
  return { status: response.status, headers: response.headers, body: body as Body };
}

async function oauth(brain: FakeBrain, clientSecret = brain.credentials.clientSecret) {
  const basic = btoa(`${brain.credentials.clientId}:${clientSecret}`);
  return await send(brain.tokenUrl, {
    method: "POST",
    headers: {
      authorization: `Basic ${basic}`,
      "content-type": "application/x-www-form-urlencoded",
    },
    body: "grant_type=client_credentials",
  });
}

async function refresh(brain: FakeBrain, token: string) {
  return await send(brain.tokenUrl, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ grant_type: "refresh_token", refresh_token: token }).toString(),
  });
}

/** Auth headers: the token on v2.5, a fresh OAuth bearer on v3. */
async function authHeaders(brain: FakeBrain): Promise<Record<string, string>> {
  if (brain.credentials.token !== null) {
    return { authorization: `Token ${brain.credentials.token}` };
  }
  const reply = await oauth(brain);
  assert.equal(reply.status, 200);
  return { authorization: `Bearer ${reply.body.access_token}` };
}

async function api(
  brain: FakeBrain,
  path: string,
  init: RequestInit & { auth?: Record<string, string> } = {},
): Promise<Reply> {
  const auth = init.auth ?? await authHeaders(brain);
  const headers: Record<string, string> = { ...auth };
  if (init.body !== undefined) headers["content-type"] = "application/json";
  return await send(`${brain.apiRoot}${path}`, { ...init, headers });
}

function names(reply: Reply): string[] {
  return reply.body.results.map((r) => r.name ?? r.detection_type);
}

function ids(reply: Reply): number[] {
  return reply.body.results.map((r) => r.id);
}

// ---- authentication ------------------------------------------------------------------

Deno.test("startFakeBrain() v2.5 accepts its Token and rejects a wrong or missing one", async () => {
  await using brain = await start({ apiVersion: "2.5", token: "t0ken" });
  assert.equal(brain.credentials.token, "t0ken");
  assert.match(brain.url, /^http:\/\/127\.0\.0\.1:\d+$/);
  assert.equal(brain.apiRoot, `${brain.url}/api/v2.5`);
  const ok = await api(brain, "/hosts", { auth: { authorization: "Token t0ken" } });
  assert.equal(ok.status, 200);
  const wrong = await api(brain, "/hosts", { auth: { authorization: "Token nope" } });
  assert.equal(wrong.status, 401);
  assert.deepEqual(wrong.body, { details: "Invalid token." });
  const missing = await api(brain, "/hosts", { auth: {} });
  assert.equal(missing.status, 401);
  assert.equal(missing.body.detail, "Authentication credentials were not provided.");
});

Deno.test("startFakeBrain() v2.5 issues OAuth tokens at /api/v2.5/oauth2/token without refresh", async () => {
  await using brain = await start({ apiVersion: "2.5", expiresIn: 120 });
  assert.equal(brain.tokenUrl, `${brain.url}/api/v2.5/oauth2/token`);
  const token = await oauth(brain);
  assert.equal(token.status, 200);
  assert.equal(token.body.expires_in, 120);
  assert.equal(token.body.refresh_token, undefined);
  const ok = await api(brain, "/hosts", {
    auth: { authorization: `Bearer ${token.body.access_token}` },
  });
  assert.equal(ok.status, 200);
  const root = await send(`${brain.url}/oauth2/token`, { method: "POST", body: "" });
  assert.equal(root.status, 404);
  const refreshGrant = await send(brain.tokenUrl, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: "grant_type=refresh_token&refresh_token=x",
  });
  assert.equal(refreshGrant.status, 400);
});

Deno.test("startFakeBrain() v3.4 issues client-credentials tokens and refuses a wrong secret", async () => {
  await using brain = await start({ apiVersion: "3.4", expiresIn: 300, refreshExpiresIn: 900 });
  assert.equal(brain.credentials.token, null);
  assert.equal(brain.tokenUrl, `${brain.url}/oauth2/token`);
  const token = await oauth(brain);
  assert.equal(token.status, 200);
  assert.equal(token.body.token_type, "Bearer");
  assert.equal(token.body.expires_in, 300);
  assert.equal(token.body.refresh_expires_in, 900);
  assert.equal(token.body.access_token.length, 1930);
  assert.equal(typeof token.body.refresh_token, "string");
  const wrong = await oauth(brain, "not-the-secret");
  assert.equal(wrong.status, 401);
  const tokenScheme = await api(brain, "/hosts", { auth: { authorization: "Token abc" } });
  assert.equal(tokenScheme.status, 401);
  const bogus = await api(brain, "/hosts", { auth: { authorization: "Bearer abc" } });
  assert.equal(bogus.status, 401);
  assert.equal(typeof bogus.body.detail, "string");
});

Deno.test("startFakeBrain() v3.4 expires access tokens on its clock and refreshes them", async () => {
  let now = Date.UTC(2026, 10, 28, 8, 0, 0);
  await using brain = await start({ apiVersion: "3.4", expiresIn: 60, now: () => now });
  const token = await oauth(brain);
  const bearer = { authorization: `Bearer ${token.body.access_token}` };
  assert.equal((await api(brain, "/hosts", { auth: bearer })).status, 200);
  now += 61_000;
  const expired = await api(brain, "/hosts", { auth: bearer });
  assert.equal(expired.status, 401);
  assert.equal(expired.body.detail, "Token has expired.");
  const renewed = await refresh(brain, token.body.refresh_token);
  assert.equal(renewed.status, 200);
  assert.notEqual(renewed.body.access_token, token.body.access_token);
  const fresh = { authorization: `Bearer ${renewed.body.access_token}` };
  assert.equal((await api(brain, "/hosts", { auth: fresh })).status, 200);
  assert.equal((await refresh(brain, "unknown")).status, 401);
  const grants = brain.requests.filter((r) => r.endpoint === "POST /oauth2/token")
    .map((r) => r.grantType);
  assert.deepEqual(grants, ["client_credentials", "refresh_token", "refresh_token"]);
});

Deno.test("FakeBrain.expireTokens() and revokeTokens() invalidate issued tokens", async () => {
  await using brain = await start({ apiVersion: "3.4" });
  const token = await oauth(brain);
  const bearer = { authorization: `Bearer ${token.body.access_token}` };
  brain.expireTokens();
  assert.equal((await api(brain, "/hosts", { auth: bearer })).status, 401);
  const renewed = await refresh(brain, token.body.refresh_token);
  assert.equal(renewed.status, 200);
  brain.expireRefreshTokens();
  assert.equal((await refresh(brain, renewed.body.refresh_token)).status, 401);
  const again = await oauth(brain);
  brain.revokeTokens();
  const revoked = await api(brain, "/hosts", {
    auth: { authorization: `Bearer ${again.body.access_token}` },
  });
  assert.equal(revoked.status, 401);
  assert.equal((await refresh(brain, again.body.refresh_token)).status, 401);
});

Deno.test("startFakeBrain() serves HTTPS with the given certificate", async () => {
  const certs = await makeTestCertificates();
  try {
    await using brain = await start({ apiVersion: "2.5", cert: certs.cert, key: certs.key });
    assert.match(brain.url, /^https:\/\/127\.0\.0\.1:\d+$/);
    const client = Deno.createHttpClient({ caCerts: [certs.caPem] });
    try {
      const response = await fetch(`${brain.apiRoot}/hosts`, {
        client,
        headers: { authorization: `Token ${brain.credentials.token}` },
      });
      assert.equal(response.status, 200);
      assert.equal((await response.json()).count, 5);
    } finally {
      client.close();
    }
    await assert.rejects(fetch(`${brain.apiRoot}/hosts`), TypeError);
  } finally {
    await certs.cleanup();
  }
});

// ---- paging --------------------------------------------------------------------------

Deno.test("GET /hosts pages with absolute next links and 404 past the last page", async () => {
  await using brain = await start({ apiVersion: "2.5" });
  const first = await api(brain, "/hosts?state=active&page_size=2");
  assert.equal(first.status, 200);
  assert.equal(first.body.count, 4);
  assert.equal(first.body.previous, null);
  assert.deepEqual(ids(first), [1, 2]);
  const next = new URL(first.body.next);
  assert.equal(next.origin, brain.url);
  assert.equal(next.pathname, "/api/v2.5/hosts");
  assert.equal(next.searchParams.get("state"), "active");
  assert.equal(next.searchParams.get("page_size"), "2");
  assert.equal(next.searchParams.get("page"), "2");
  const second = await send(first.body.next, { headers: await authHeaders(brain) });
  assert.deepEqual(ids(second), [3, 5]);
  assert.equal(second.body.next, null);
  assert.equal(new URL(second.body.previous).searchParams.get("page"), null);
  const past = await api(brain, "/hosts?state=active&page_size=2&page=3");
  assert.equal(past.status, 404);
  assert.deepEqual(past.body, { detail: 'Invalid page "3": That page contains no results.' });
  const empty = await api(brain, "/hosts?name=nothing-like-this");
  assert.equal(empty.status, 200);
  assert.deepEqual(empty.body, { count: 0, next: null, previous: null, results: [] });
});

Deno.test("GET /hosts defaults to 50 per page and caps page_size at 5000", async () => {
  await using brain = await startFakeBrain({
    apiVersion: "2.5",
    seed: generateSeed({ hosts: 5001 }, 3),
  });
  const byDefault = await api(brain, "/hosts");
  assert.equal(byDefault.body.results.length, 50);
  assert.equal(byDefault.body.count, 5001);
  const capped = await api(brain, "/hosts?page_size=10000&fields=id");
  assert.equal(capped.body.results.length, 5000);
  assert.deepEqual(capped.body.results[0], { id: 1 });
  assert.equal(new URL(capped.body.next).searchParams.get("page"), "2");
});

// ---- filters -------------------------------------------------------------------------

Deno.test("GET /hosts?tags= matches any listed tag by case-insensitive substring", async () => {
  await using brain = await start({ apiVersion: "3.4" });
  const block = await api(brain, "/hosts?tags=vectra_host_block");
  assert.deepEqual(names(block), ["ward-3-pc"]);
  const loose = await api(brain, "/hosts?tags=block");
  assert.deepEqual(names(loose), ["ward-3-pc", "icu-monitor-02", "lab-analyzer"]);
  const anyOf = await api(brain, "/hosts?tags=front-desk,vectra_host_unblock");
  assert.deepEqual(names(anyOf), ["icu-monitor-02", "reception-kiosk", "lab-analyzer"]);
  const detections = await api(brain, "/detections?tags=block");
  assert.deepEqual(ids(detections), [5001, 5004]);
});

Deno.test("commaReading decides how a comma in tags, id and host_id values is read", async () => {
  await using brain = await start({ apiVersion: "3.4" });
  const everyHost = names(await api(brain, "/hosts"));
  const everyDetection = ids(await api(brain, "/detections"));
  const read = async () => ({
    tags: names(await api(brain, "/hosts?tags=front-desk,vectra_host_unblock")),
    id: names(await api(brain, "/hosts?id=5,1")),
    hostId: ids(await api(brain, "/detections?host_id=1,3")),
    single: names(await api(brain, "/hosts?tags=front-desk")),
  });
  brain.commaReading = "literal";
  const frontDesk = ["reception-kiosk", "lab-analyzer"];
  assert.deepEqual(await read(), { tags: [], id: [], hostId: [], single: frontDesk });
  brain.commaReading = "first";
  assert.deepEqual(await read(), {
    tags: frontDesk,
    id: ["lab-analyzer"],
    hostId: [5001, 5002],
    single: frontDesk,
  });
  brain.commaReading = "ignored";
  assert.deepEqual(await read(), {
    tags: everyHost,
    id: everyHost,
    hostId: everyDetection,
    single: everyHost,
  });
  brain.commaReading = "anyof";
  assert.deepEqual(await read(), {
    tags: ["icu-monitor-02", "reception-kiosk", "lab-analyzer"],
    id: ["ward-3-pc", "lab-analyzer"],
    hostId: [5001, 5002, 5003],
    single: frontDesk,
  });
  await using literal = await start({ apiVersion: "2.5", commaReading: "literal" });
  assert.equal(literal.commaReading, "literal");
  assert.deepEqual(names(await api(literal, "/hosts?tags=front-desk,vectra_host_unblock")), []);
});

Deno.test("GET /hosts filters scores with both spellings, state and name", async () => {
  await using brain = await start({ apiVersion: "2.5" });
  assert.deepEqual(
    names(await api(brain, "/hosts?threat_gte=80&certainty_gte=90")),
    ["ward-3-pc"],
  );
  assert.deepEqual(
    names(await api(brain, "/hosts?t_score_gte=80&c_score_gte=30")),
    ["ward-3-pc", "radiology-ws-01"],
  );
  assert.deepEqual(names(await api(brain, "/hosts?certainty_gte=95")), ["icu-monitor-02"]);
  assert.deepEqual(names(await api(brain, "/hosts?state=inactive")), ["reception-kiosk"]);
  assert.deepEqual(names(await api(brain, "/hosts?name=WS-01")), ["radiology-ws-01"]);
  assert.deepEqual(names(await api(brain, "/hosts?id=5,1,99")), ["ward-3-pc", "lab-analyzer"]);
  const bad = await api(brain, "/hosts?threat_gte=high");
  assert.equal(bad.status, 400);
});

Deno.test("GET /accounts filters by uid, id and score", async () => {
  await using brain = await start({ apiVersion: "3.4" });
  const byUid = await api(brain, "/accounts?uid=darcy%40corp.example.com");
  assert.deepEqual(names(byUid), ["O365:darcy@corp.example.com"]);
  assert.deepEqual(byUid.body.results[0]!.account_type, ["o365"]);
  assert.deepEqual(names(await api(brain, "/accounts?uid=darcy")), []);
  assert.deepEqual(names(await api(brain, "/accounts?id=1002")), ["kerberos:svc@CORP"]);
  assert.deepEqual(
    names(await api(brain, "/accounts?threat_gte=50&certainty_gte=50")),
    ["kerberos:svc@CORP"],
  );
});

Deno.test("GET /detections filters by type, state, triage, host, account and id", async () => {
  await using brain = await start({ apiVersion: "3.4" });
  const typed = await api(brain, "/detections?detection_type=Hidden%20DNS%20Tunnel&state=active");
  assert.deepEqual(ids(typed), [5001, 5003]);
  const untriaged = await api(
    brain,
    "/detections?detection_type=Hidden+DNS+Tunnel&state=active&is_triaged=false",
  );
  assert.deepEqual(ids(untriaged), [5001]);
  assert.deepEqual(ids(await api(brain, "/detections?host_id=1")), [5001, 5002]);
  assert.deepEqual(ids(await api(brain, "/detections?host_id=1,3&state=active")), [5001, 5003]);
  assert.deepEqual(ids(await api(brain, "/detections?src_account=1002")), [5005]);
  assert.deepEqual(ids(await api(brain, "/detections?id=5004,5002")), [5002, 5004]);
  assert.deepEqual(ids(await api(brain, "/detections?detection_category=exfiltration")), [
    5001,
    5003,
  ]);
  assert.equal((await api(brain, "/detections?is_triaged=maybe")).status, 400);
});

Deno.test("GET /groups filters name by substring and type; v3.4 lists members on request", async () => {
  await using brain = await start({ apiVersion: "3.4" });
  const bare = await api(brain, "/groups?name=NoBlock&type=host");
  assert.deepEqual(names(bare), ["NoBlock", "NoBlock-old"]);
  assert.equal(bare.body.results[0]!.members, undefined);
  const full = await api(brain, "/groups?name=noblock&type=host&include_members=true");
  assert.deepEqual(full.body.results[0]!.members, [
    {
      id: 2,
      name: "icu-monitor-02",
      is_key_asset: false,
      url: `${brain.apiRoot}/hosts/2`,
    },
  ]);
  assert.deepEqual(full.body.results[1]!.members.map((m: { id: number }) => m.id), [1, 3]);
  const accounts = await api(brain, "/groups?name=NoBlock&type=account&include_members=true");
  assert.deepEqual(accounts.body.results[0]!.members, [{ uid: "darcy@corp.example.com" }]);
});

Deno.test("GET /groups on v2.5 always lists members and rejects include_members", async () => {
  await using brain = await start({ apiVersion: "2.5" });
  const groups = await api(brain, "/groups?type=host&name=Block");
  assert.deepEqual(names(groups), ["NoBlock", "NoBlock-old", "Block"]);
  assert.deepEqual(groups.body.results[2]!.members, []);
  assert.equal(groups.body.results[0]!.members.length, 1);
  const rejected = await api(brain, "/groups?include_members=true");
  assert.equal(rejected.status, 400);
  assert.deepEqual(rejected.body, {
    detail: "The following query parameter(s) are invalid: include_members.",
  });
});

Deno.test("GET /entities orders by urgency and exists only on v3", async () => {
  await using brain = await start({ apiVersion: "3.4" });
  const hosts = await api(brain, "/entities?type=host&ordering=-urgency_score&page_size=3");
  assert.deepEqual(
    hosts.body.results.map((e: { id: number; urgency_score: number }) => [e.id, e.urgency_score]),
    [[3, 99], [1, 85], [2, 68]],
  );
  assert.equal(hosts.body.results[0]!.type, "host");
  assert.equal(hosts.body.results[0]!.url, `${brain.apiRoot}/hosts/3`);
  assert.equal(hosts.body.count, 5);
  const accounts = await api(brain, "/entities?type=account&ordering=-urgency_score");
  assert.deepEqual(ids(accounts), [1001, 1002]);
  const one = await api(brain, "/entities/1001?type=account");
  assert.equal(one.body.urgency_score, 70);
  await using old = await start({ apiVersion: "2.5" });
  assert.equal((await api(old, "/entities?type=host")).status, 404);
});

Deno.test("list endpoints reject unknown parameters per version and refuse unimplemented ones", async () => {
  await using v34 = await start({ apiVersion: "3.4" });
  const unknown = await api(v34, "/hosts?tag=vectra_host_block&bogus=1");
  assert.equal(unknown.status, 400);
  assert.deepEqual(unknown.body, {
    detail: "The following query parameter(s) are invalid: tag, bogus.",
  });
  const removed = await api(v34, "/detections?t_score_gte=50");
  assert.equal(removed.status, 400);
  const unimplemented = await api(v34, "/hosts?privilege_level=3");
  assert.equal(unimplemented.status, 501);
  await using v25 = await start({ apiVersion: "2.5" });
  assert.equal((await api(v25, "/detections?t_score_gte=50")).status, 200);
  assert.equal((await api(v25, "/detections?src_account=1")).status, 400);
});

Deno.test("list and object endpoints return only the requested fields", async () => {
  await using brain = await start({ apiVersion: "3.4" });
  const list = await api(brain, "/hosts?fields=id,tags&tags=vectra_host_block");
  assert.deepEqual(list.body.results, [{ id: 1, tags: ["vectra_host_block"] }]);
  const one = await api(brain, "/hosts/1?fields=detection_set");
  assert.deepEqual(one.body, {
    detection_set: [`${brain.apiRoot}/detections/5001`, `${brain.apiRoot}/detections/5002`],
  });
});

// ---- object shapes -------------------------------------------------------------------

Deno.test("GET /detections/{id} on v3.4 has lower-case categories and no removed fields", async () => {
  await using brain = await start({ apiVersion: "3.4" });
  const d = (await api(brain, "/detections/5001")).body;
  assert.equal(d.detection_category, "exfiltration");
  assert.equal(d.type, "host");
  for (const removed of ["category", "c_score", "t_score", "targets_key_asset"]) {
    assert.equal(removed in d, false, removed);
  }
  assert.deepEqual(d.summary.dst_ips, ["198.51.100.7"]);
  assert.deepEqual(d.summary.target_domains, ["snakeoil.biz"]);
  assert.equal(d.src_host.id, 1);
  assert.equal(d.src_host.url, `${brain.apiRoot}/hosts/1`);
  assert.equal(d.url, `${brain.apiRoot}/detections/5001`);
  const account = (await api(brain, "/detections/5005")).body;
  assert.equal(account.type, "account");
  assert.equal(account.src_host, null);
  assert.equal(account.src_account.id, 1002);
});

Deno.test("GET /detections/{id} on v2.5 and v3.3 keeps category and the score aliases", async () => {
  await using v25 = await start({ apiVersion: "2.5" });
  const d = (await api(v25, "/detections/5004")).body;
  assert.equal(d.category, "INFO");
  assert.equal(d.detection_category, "INFO");
  assert.equal(d.t_score, 50);
  assert.equal(d.c_score, 50);
  assert.equal(d.targets_key_asset, false);
  assert.equal("type" in d, false);
  await using v33 = await start({ apiVersion: "3.3" });
  const c = (await api(v33, "/detections/5005")).body;
  assert.equal(c.category, "command_and_control");
  assert.equal(c.t_score, 50);
  assert.equal(v33.apiRoot.endsWith("/api/v3.3"), true);
});

Deno.test("GET /hosts/{id} shapes a host per version and answers 404 for an unknown id", async () => {
  await using v25 = await start({ apiVersion: "2.5" });
  const host = (await api(v25, "/hosts/1")).body;
  assert.equal(host.last_source, "10.1.2.3");
  assert.equal(host.key_asset, false);
  assert.equal(host.is_key_asset, false);
  assert.deepEqual(host.groups.map((g: { name: string }) => g.name), ["NoBlock-old"]);
  const missing = await api(v25, "/hosts/999");
  assert.equal(missing.status, 404);
  assert.deepEqual(missing.body, { detail: "Not Found." });
  assert.equal((await api(v25, "/accounts/1")).status, 404);
  await using v34 = await start({ apiVersion: "3.4" });
  const v3host = (await api(v34, "/hosts/1")).body;
  assert.equal("key_asset" in v3host, false);
  assert.equal(v3host.is_key_asset, false);
});

// ---- tagging and notes ---------------------------------------------------------------

Deno.test("PATCH /tagging/{kind}/{id} replaces the tag list", async () => {
  await using brain = await start({ apiVersion: "3.4" });
  const read = await api(brain, "/tagging/host/1");
  assert.deepEqual(read.body, { status: "success", tag_id: "1", tags: ["vectra_host_block"] });
  const tags = ["vectra_host_block", "VAR Host Blocked", "VAR ID:Test Client:abc"];
  const written = await api(brain, "/tagging/host/1", {
    method: "PATCH",
    body: JSON.stringify({ tags }),
  });
  assert.deepEqual(written.body, { status: "success", tag_id: "1", tags });
  assert.deepEqual(brain.tags("host", "ward-3-pc"), tags);
  assert.deepEqual(names(await api(brain, "/hosts?tags=VAR%20Host%20Blocked")), ["ward-3-pc"]);
  await api(brain, "/tagging/detection/5001", { method: "PATCH", body: '{"tags": []}' });
  assert.deepEqual(brain.tags("detection", 5001), []);
  assert.deepEqual(ids(await api(brain, "/detections?tags=block")), [5004]);
  assert.equal((await api(brain, "/tagging/account/5")).status, 404);
  const invalid = await api(brain, "/tagging/account/1001", {
    method: "PATCH",
    body: '{"tags": "x"}',
  });
  assert.equal(invalid.status, 400);
  assert.equal(invalid.body.status, "failure");
});

Deno.test("FakeBrain tagFailure answers status failure and leaves the tags alone", async () => {
  await using brain = await start({ apiVersion: "2.5" });
  brain.fault({ kind: "tagFailure", message: "Tag too long" }, { path: "/tagging/host/1" });
  const body = JSON.stringify({ tags: ["x".repeat(300)] });
  const failed = await api(brain, "/tagging/host/1", { method: "PATCH", body });
  assert.equal(failed.status, 200);
  assert.deepEqual(failed.body, {
    status: "failure",
    message: "Tag too long",
    invalid_tags: ["x".repeat(300)],
  });
  assert.deepEqual(brain.tags("host", 1), ["vectra_host_block"]);
  brain.fault({ kind: "tagFailure", status: 422, invalidTags: ["bad"] }, {
    method: "PATCH",
    path: /^\/tagging\//,
  });
  const unprocessable = await api(brain, "/tagging/host/1", { method: "PATCH", body });
  assert.equal(unprocessable.status, 422);
  assert.deepEqual(unprocessable.body.invalid_tags, ["bad"]);
  const ok = await api(brain, "/tagging/host/1", { method: "PATCH", body });
  assert.equal(ok.body.status, "success");
});

Deno.test("POST and DELETE /tagging/{kind} add and remove one tag on many objects on v2.5", async () => {
  await using brain = await start({ apiVersion: "2.5" });
  const tag = "VAR Pending:Test Client:block";
  const added = await api(brain, "/tagging/host", {
    method: "POST",
    body: JSON.stringify({ objectIds: [1, 4, 4], tag }),
  });
  assert.equal(added.status, 200);
  assert.equal(added.body.status, "success");
  assert.deepEqual(brain.tags("host", 1), ["vectra_host_block", tag]);
  assert.deepEqual(brain.tags("host", 4), ["front-desk", tag]);
  assert.deepEqual(brain.tags("host", 2), ["vectra_host_unblock"]);
  // Adding it again changes nothing; other tags are never touched.
  await api(brain, "/tagging/host", {
    method: "POST",
    body: JSON.stringify({ objectIds: [1], tag }),
  });
  assert.deepEqual(brain.tags("host", 1), ["vectra_host_block", tag]);
  const detections = await api(brain, "/tagging/detection", {
    method: "POST",
    body: JSON.stringify({ objectIds: [5001, 5002], tag: "x" }),
  });
  assert.equal(detections.status, 200);
  assert.deepEqual(brain.tags("detection", 5001), ["block", "x"]);
  assert.deepEqual(brain.tags("detection", 5002), ["x"]);
  const removed = await api(brain, "/tagging/host", {
    method: "DELETE",
    body: JSON.stringify({ objectIds: [1, 4], tag }),
  });
  assert.equal(removed.body.status, "success");
  assert.deepEqual(brain.tags("host", 1), ["vectra_host_block"]);
  assert.deepEqual(brain.tags("host", 4), ["front-desk"]);
  assert.deepEqual(
    brain.requests.filter((r) => r.route.startsWith("/tagging/")).map((r) =>
      `${r.endpoint} ${r.status}`
    ),
    [
      "POST /tagging/host 200",
      "POST /tagging/host 200",
      "POST /tagging/detection 200",
      "DELETE /tagging/host 200",
    ],
  );
});

Deno.test("POST /tagging/{kind} validates objectIds and the tag and changes nothing on error", async () => {
  await using brain = await start({ apiVersion: "2.5" });
  const post = (body: unknown, path = "/tagging/host") =>
    api(brain, path, { method: "POST", body: JSON.stringify(body) });
  const unknown = await post({ objectIds: [1, 999], tag: "x" });
  assert.equal(unknown.status, 400);
  assert.equal(unknown.body.status, "failure");
  assert.match(unknown.body.message, /999/);
  assert.deepEqual(brain.tags("host", 1), ["vectra_host_block"], "no partial write");
  for (
    const body of [
      { objectIds: [], tag: "x" },
      { objectIds: ["1"], tag: "x" },
      { objectIds: [1.5], tag: "x" },
      { objectIds: [0], tag: "x" },
      { objectIds: [1], tag: "" },
      { objectIds: [1] },
      { ids: [1], tag: "x" },
    ]
  ) {
    const reply = await post(body);
    assert.equal(reply.status, 400, JSON.stringify(body));
    assert.equal(reply.body.status, "failure");
  }
  assert.equal((await post({ objectIds: [1], tag: "x" }, "/tagging/group")).status, 404);
  const notJson = await api(brain, "/tagging/host", { method: "POST", body: "{" });
  assert.equal(notJson.status, 400);
  brain.fault({ kind: "tagFailure", message: "Tag rejected" }, { method: "POST" });
  const failed = await post({ objectIds: [1], tag: "x" });
  assert.equal(failed.status, 200);
  assert.deepEqual(failed.body, {
    status: "failure",
    message: "Tag rejected",
    invalid_tags: ["x"],
  });
  assert.deepEqual(brain.tags("host", 1), ["vectra_host_block"]);
});

Deno.test("POST /tagging/{kind} does not exist on v3.4", async () => {
  await using brain = await start({ apiVersion: "3.4" });
  const reply = await api(brain, "/tagging/host", {
    method: "POST",
    body: JSON.stringify({ objectIds: [1], tag: "x" }),
  });
  assert.equal(reply.status, 404);
  assert.deepEqual(brain.tags("host", 1), ["vectra_host_block"]);
});

Deno.test("FakeBrain fault query on tags matches any-of tag lists that include it", async () => {
  await using brain = await start({ apiVersion: "2.5" });
  brain.failNext(503, { path: "/hosts", query: { tags: "front-desk" }, times: Infinity });
  assert.equal((await api(brain, "/hosts?tags=vectra_host_block")).status, 200);
  assert.equal((await api(brain, "/hosts?tags=vectra_host_block,front-desk")).status, 503);
  assert.equal((await api(brain, "/hosts?tags=front-desk")).status, 503);
  assert.equal((await api(brain, "/hosts?tags=front-desk-2")).status, 200);
});

Deno.test("POST /{kind}/{id}/notes appends notes and the object shows the latest", async () => {
  let now = Date.UTC(2026, 10, 28, 9, 0, 0);
  await using brain = await start({ apiVersion: "3.4", now: () => now });
  const first = await api(brain, "/hosts/1/notes", {
    method: "POST",
    body: JSON.stringify({ note: "VAR: Blocked on 28 Nov 2026 at 09:00:00" }),
  });
  assert.equal(first.status, 201);
  assert.equal(first.body.note, "VAR: Blocked on 28 Nov 2026 at 09:00:00");
  assert.equal(first.body.created_by, "api-client");
  assert.equal(first.body.date_created, "2026-11-28T09:00:00.000000Z");
  now += 1000;
  await api(brain, "/hosts/1/notes", {
    method: "POST",
    body: JSON.stringify({ note: "VAR: Unblocked <by> test & co" }),
  });
  const list = await api(brain, "/hosts/1/notes");
  assert.deepEqual((list.body as unknown as Body[]).map((n) => n.note), [
    "VAR: Blocked on 28 Nov 2026 at 09:00:00",
    "VAR: Unblocked <by> test & co",
  ]);
  const host = (await api(brain, "/hosts/1")).body;
  assert.equal(host.note, "VAR: Unblocked &lt;by&gt; test &amp; co");
  assert.equal(host.note_modified_timestamp, "2026-11-28T09:00:01.000000Z");
  assert.equal(brain.notes("host", "ward-3-pc").length, 2);
  assert.equal((await api(brain, "/hosts/1/notes", { method: "POST", body: "{}" })).status, 400);
  assert.equal((await api(brain, "/accounts/77/notes")).status, 404);
  const detection = await api(brain, "/detections/5001/notes", {
    method: "POST",
    body: JSON.stringify({ note: "d" }),
  });
  assert.equal(detection.status, 201);
  assert.deepEqual(brain.notes("detection", 5001).map((n) => n.note), ["d"]);
});

// ---- faults --------------------------------------------------------------------------

Deno.test("FakeBrain.fault() status answers N matching requests, then the real thing", async () => {
  await using brain = await start({ apiVersion: "2.5" });
  const handle = brain.failNext(503, { path: "/hosts", times: 2 });
  assert.equal((await api(brain, "/accounts")).status, 200);
  assert.equal((await api(brain, "/hosts")).status, 503);
  assert.equal((await api(brain, "/hosts/1")).status, 503);
  assert.equal((await api(brain, "/hosts")).status, 200);
  assert.equal(handle.hits, 2);
  brain.fault({ kind: "status", status: 429, retryAfter: 2 }, { method: "GET", times: Infinity });
  const limited = await api(brain, "/groups");
  assert.equal(limited.status, 429);
  assert.equal(limited.headers.get("retry-after"), "2");
  assert.equal((await api(brain, "/groups")).status, 429);
  brain.clearFaults();
  assert.equal((await api(brain, "/groups")).status, 200);
  brain.fault({ kind: "status", status: 500 }, { query: { page: "2" } });
  assert.equal((await api(brain, "/hosts?page_size=2")).status, 200);
  assert.equal((await api(brain, "/hosts?page_size=2&page=2")).status, 500);
});

Deno.test("FakeBrain.fault() on the token endpoint answers 429 with Retry-After", async () => {
  await using brain = await start({ apiVersion: "3.4" });
  brain.fault({ kind: "status", status: 429, retryAfter: 1 }, { path: "/oauth2/token" });
  const limited = await oauth(brain);
  assert.equal(limited.status, 429);
  assert.equal(limited.headers.get("retry-after"), "1");
  assert.equal((await oauth(brain)).status, 200);
});

Deno.test("FakeBrain.fault() delay and global latency slow answers down", async () => {
  await using brain = await start({ apiVersion: "2.5" });
  brain.fault({ kind: "delay", ms: 150 }, { path: "/hosts" });
  let started = performance.now();
  assert.equal((await api(brain, "/hosts")).status, 200);
  assert.ok(performance.now() - started >= 140);
  started = performance.now();
  await api(brain, "/hosts");
  assert.ok(performance.now() - started < 140);
  brain.setLatency(100);
  started = performance.now();
  await api(brain, "/accounts");
  assert.ok(performance.now() - started >= 90);
  const aborted = fetch(`${brain.apiRoot}/hosts`, {
    headers: await authHeaders(brain),
    signal: AbortSignal.timeout(30),
  });
  await assert.rejects(aborted);
});

Deno.test("FakeBrain.fault() hold keeps a request open until release()", async () => {
  await using brain = await start({ apiVersion: "2.5" });
  brain.fault({ kind: "hold" }, { method: "PATCH" });
  const pending = api(brain, "/tagging/host/1", { method: "PATCH", body: '{"tags": ["x"]}' });
  for (let i = 0; i < 100 && brain.heldCount === 0; i++) {
    await new Promise((r) => setTimeout(r, 5));
  }
  assert.equal(brain.heldCount, 1);
  assert.deepEqual(brain.tags("host", 1), ["vectra_host_block"]);
  brain.release();
  assert.equal((await pending).status, 200);
  assert.deepEqual(brain.tags("host", 1), ["x"]);
});

Deno.test("FakeBrain.fault() reset makes the client see a network error", async () => {
  await using brain = await start({ apiVersion: "2.5" });
  brain.fault({ kind: "reset" }, { path: "/hosts" });
  const response = await fetch(`${brain.apiRoot}/hosts`, { headers: await authHeaders(brain) });
  await assert.rejects(response.text(), TypeError);
  assert.equal((await api(brain, "/hosts")).status, 200);
  assert.equal(brain.requests.at(-2)?.status, 0);
});

Deno.test("FakeBrain.fault() malformed answers 200 with a body that is not JSON", async () => {
  await using brain = await start({ apiVersion: "3.4" });
  brain.fault({ kind: "malformed" }, { path: "/detections" });
  const response = await fetch(`${brain.apiRoot}/detections`, {
    headers: await authHeaders(brain),
  });
  assert.equal(response.status, 200);
  await assert.rejects(response.json(), SyntaxError);
});

Deno.test("FakeBrain.fault() foreignNext points next at another origin", async () => {
  await using brain = await start({ apiVersion: "3.4" });
  brain.fault({ kind: "foreignNext", origin: "https://evil.example" }, { path: "/hosts" });
  const first = await api(brain, "/hosts?page_size=2");
  const next = new URL(first.body.next);
  assert.equal(next.origin, "https://evil.example");
  assert.equal(next.pathname, "/api/v3.4/hosts");
  assert.equal(next.searchParams.get("page"), "2");
  const again = await api(brain, "/hosts?page_size=2");
  assert.equal(new URL(again.body.next).origin, brain.url);
});

Deno.test("FakeBrain.fault() mutate changes the data between two pages", async () => {
  await using brain = await start({ apiVersion: "2.5" });
  brain.fault({
    kind: "mutate",
    mutate: (b) => b.remove("host", "ward-3-pc"),
  }, { query: { page: "2" } });
  const first = await api(brain, "/hosts?page_size=2");
  assert.deepEqual(ids(first), [1, 2]);
  assert.equal(first.body.count, 5);
  const second = await send(first.body.next, { headers: await authHeaders(brain) });
  assert.equal(second.body.count, 4);
  assert.deepEqual(ids(second), [4, 5]);
});

// ---- log and inspection --------------------------------------------------------------

Deno.test("FakeBrain.requestCounts() counts requests by endpoint template", async () => {
  await using brain = await start({ apiVersion: "3.4" });
  const auth = await authHeaders(brain);
  await api(brain, "/hosts?tags=x", { auth });
  await api(brain, "/hosts/1", { auth });
  await api(brain, "/hosts/2", { auth });
  await api(brain, "/tagging/host/1", { auth, method: "PATCH", body: '{"tags": []}' });
  await api(brain, "/hosts/1/notes", { auth, method: "POST", body: '{"note": "n"}' });
  await api(brain, "/nothing/here", { auth });
  const counts = brain.requestCounts();
  assert.equal(counts.get("POST /oauth2/token"), 1);
  assert.equal(counts.get("GET /hosts"), 1);
  assert.equal(counts.get("GET /hosts/{id}"), 2);
  assert.equal(counts.get("PATCH /tagging/host/{id}"), 1);
  assert.equal(counts.get("POST /hosts/{id}/notes"), 1);
  assert.equal(counts.get("GET /nothing/here"), 1);
  const log = brain.requests.find((r) => r.endpoint === "GET /hosts");
  assert.equal(log?.query, "tags=x");
  assert.equal(log?.status, 200);
  assert.equal(log?.path, "/api/v3.4/hosts");
  brain.clearRequests();
  assert.equal(brain.requestCounts().size, 0);
});

Deno.test("FakeBrain helpers edit tags, scores, groups and detection state like an analyst", async () => {
  await using brain = await start({ apiVersion: "3.4" });
  brain.setTags("host", "radiology-ws-01", ["vectra_host_block"]);
  assert.deepEqual(names(await api(brain, "/hosts?tags=vectra_host_block")), [
    "ward-3-pc",
    "radiology-ws-01",
  ]);
  brain.setScores("host", "ward-3-pc", { threat: 10, urgency: 1 });
  assert.deepEqual(names(await api(brain, "/hosts?threat_gte=50")), ["radiology-ws-01"]);
  const entities = await api(brain, "/entities?type=host&ordering=-urgency_score");
  assert.equal(ids(entities).at(-1), 1);
  brain.addGroupMember("NoBlock", "host", "lab-analyzer");
  brain.removeGroupMember("NoBlock", "host", 2);
  brain.addGroupMember("NoBlock", "account", "kerberos:svc@CORP");
  const groups = await api(brain, "/groups?name=NoBlock&include_members=true");
  assert.deepEqual(groups.body.results[0]!.members.map((m: { name: string }) => m.name), [
    "lab-analyzer",
  ]);
  assert.deepEqual(groups.body.results[1]!.members, [
    { uid: "darcy@corp.example.com" },
    { uid: "svc@CORP" },
  ]);
  brain.setDetectionState(5001, "fixed", { isTriaged: true });
  assert.deepEqual(ids(await api(brain, "/detections?state=active&host_id=1")), []);
  const added = brain.addHost({ name: "new-host", tags: ["vectra_host_block"] });
  assert.equal(added, 6);
  assert.equal(brain.addDetection({ src: "new-host", type: "Port Scan" }), 5006);
  assert.deepEqual(ids(await api(brain, "/detections?host_id=6")), [5006]);
  assert.throws(() => brain.tags("host", "no-such-host"), RangeError);
});

// ---- seed data -----------------------------------------------------------------------

Deno.test("seed() assigns deterministic ids and refuses unknown references", () => {
  const data = scenario().build();
  assert.deepEqual(data.hosts.map((h) => h.id), [1, 2, 3, 4, 5]);
  assert.deepEqual(data.accounts.map((a) => a.id), [1001, 1002]);
  assert.equal(data.accounts[0]?.uid, "darcy@corp.example.com");
  assert.equal(data.detections[0]?.srcIp, "10.1.2.3");
  assert.equal(data.detections[0]?.category, "EXFILTRATION");
  assert.equal(data.hosts[1]?.ip, "10.0.0.2");
  assert.throws(
    () => seed().detection({ src: "ghost", type: "Port Scan" }),
    {
      name: "RangeError",
      message: 'Cannot add detection "Port Scan": source host "ghost" was not added before',
    },
  );
  assert.throws(() => seed().host({ name: "a", id: 1 }).host({ name: "b", id: 1 }), RangeError);
});

Deno.test("demoSeed() holds the scenarios var demo shows", async () => {
  const data = demoSeed();
  assert.ok(data.hosts.length >= 30);
  const byName = new Map(data.hosts.map((h) => [h.name, h]));
  assert.deepEqual(byName.get("ward-3-pc")?.tags, ["vectra_host_block"]);
  assert.ok(byName.get("reception-kiosk-2")?.tags.includes("VAR Host Blocked"));
  const noBlock = data.groups.find((g) => g.name === "NoBlock" && g.type === "host");
  assert.ok(noBlock?.hostIds.includes(byName.get("icu-monitor-02")!.id));
  assert.ok(byName.get("icu-monitor-02")?.tags.includes("vectra_host_block"));
  assert.ok(data.accounts.some((a) => a.tags.includes("vectra_account_block")));
  assert.ok(data.detections.some((d) => d.tags.includes("block")));
  await using brain = await startFakeBrain({ apiVersion: "3.4", seed: data });
  const blocked = await api(brain, "/hosts?tags=VAR%20Host%20Blocked");
  assert.deepEqual(names(blocked), ["reception-kiosk-2"]);
});

Deno.test("generateSeed() is deterministic and serves large sets", async () => {
  const a = generateSeed({ hosts: 2000, accounts: 100, detections: 5000, groupMembers: 10 }, 42);
  const b = generateSeed({ hosts: 2000, accounts: 100, detections: 5000, groupMembers: 10 }, 42);
  assert.deepEqual(a, b);
  assert.equal(a.hosts.length, 2000);
  assert.equal(a.detections.length, 5000);
  assert.equal(a.groups[0]?.hostIds.length, 10);
  assert.equal(a.groups[2]?.values.length, 10);
  const c = generateSeed({ hosts: 2000 }, 43);
  assert.notDeepEqual(a.hosts.map((h) => h.tags), c.hosts.map((h) => h.tags));
  await using brain = await startFakeBrain({ apiVersion: "2.5", seed: a });
  const all = await api(brain, "/detections?page_size=5000&fields=id");
  assert.equal(all.body.count, 5000);
  const tagged = a.hosts.filter((h) => h.tags.includes("vectra_host_block")).length;
  assert.equal((await api(brain, "/hosts?tags=vectra_host_block")).body.count, tagged);
});

Deno.test("startFakeBrain() v3.4 serves the token endpoint only at the host root", async () => {
  await using brain = await start({ apiVersion: "3.4" });
  const basic = btoa(`${brain.credentials.clientId}:${brain.credentials.clientSecret}`);
  const misplaced = await send(`${brain.apiRoot}/oauth2/token`, {
    method: "POST",
    headers: {
      authorization: `Basic ${basic}`,
      "content-type": "application/x-www-form-urlencoded",
    },
    body: "grant_type=client_credentials",
  });
  assert.equal(misplaced.status, 401);
  const token = await oauth(brain);
  const bearer = { authorization: `Bearer ${token.body.access_token}` };
  assert.equal((await api(brain, "/oauth2/token", { auth: bearer, method: "POST" })).status, 404);
  assert.equal((await api(brain, "/hosts", { auth: bearer, method: "POST" })).status, 405);
});

Deno.test("startFakeBrain() answers 414 to a request line longer than maxUrlLength", async () => {
  await using brain = await start({ apiVersion: "2.5", maxUrlLength: 200 });
  const short = await api(brain, `/detections?host_id=${[1, 2, 3].join(",")}`);
  assert.equal(short.status, 200);
  const ids = Array.from({ length: 100 }, (_, i) => i + 1).join(",");
  const long = await api(brain, `/detections?host_id=${ids}`);
  assert.equal(long.status, 414);
  assert.match(String(long.body), /414 Request-URI Too Large/);
  assert.equal(brain.requests.at(-1)?.status, 414);
});

Deno.test("FakeBrain.close() ends held and delayed requests at once", async () => {
  const brain = await start({ apiVersion: "2.5" });
  brain.fault({ kind: "hold" }, { path: "/hosts" });
  brain.fault({ kind: "delay", ms: 60_000 }, { path: "/accounts" });
  const auth = await authHeaders(brain);
  const held = api(brain, "/hosts", { auth });
  const delayed = api(brain, "/accounts", { auth });
  for (let i = 0; i < 100 && brain.heldCount === 0; i++) {
    await new Promise((r) => setTimeout(r, 5));
  }
  const started = performance.now();
  await brain.close();
  assert.ok(performance.now() - started < 5000);
  assert.equal((await held).status, 200);
  assert.equal((await delayed).status, 200);
});

Deno.test("GET /entities honours fields and exclude_fields on v3.4", async () => {
  await using brain = await start({ apiVersion: "3.4" });
  const picked = await api(brain, "/entities?type=account&fields=id,urgency_score");
  assert.deepEqual(picked.body.results, [{ id: 1001, urgency_score: 70 }, {
    id: 1002,
    urgency_score: 20,
  }]);
  const trimmed = await api(brain, "/entities?type=account&exclude_fields=detection_set,notes");
  assert.equal("detection_set" in trimmed.body.results[0]!, false);
  assert.equal(trimmed.body.results[0]!.name, "O365:darcy@corp.example.com");
  assert.equal((await api(brain, "/entities?type=device")).status, 400);
});
