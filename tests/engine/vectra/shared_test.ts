import assert from "node:assert/strict";
import { seed } from "../../../demo/seed.ts";
import { chunkIds, withoutQuery } from "../../../engine/vectra/shared.ts";
import { createVectraApi } from "../../../engine/vectra/mod.ts";
import { V3VectraApi } from "../../../engine/vectra/v3.ts";
import { SharedVectraApi } from "../../../engine/vectra/shared.ts";
import { assertNoSecrets, messagesOf, rejection, startHarness } from "./_fixture.ts";
import { VectraError } from "../../../engine/vectra/api.ts";

Deno.test("chunkIds() keeps every encoded id list under the limit, in order", () => {
  const ids = Array.from({ length: 3000 }, (_, i) => 1_000_000 + i);
  const chunks = chunkIds(ids);
  assert.ok(chunks.length > 1);
  for (const chunk of chunks) assert.ok(encodeURIComponent(chunk).length <= 5000);
  assert.deepEqual(chunks.join(",").split(",").map(Number), ids);
  assert.deepEqual(chunkIds([]), []);
  assert.deepEqual(chunkIds([1, 2, 3], 8), ["1,2", "3"]);
});

Deno.test("withoutQuery() strips query strings from quoted URLs", () => {
  assert.equal(
    withoutQuery("error sending request for url (http://127.0.0.1:1/api/v2.5/hosts?tags=a&page=2)"),
    "error sending request for url (http://127.0.0.1:1/api/v2.5/hosts)",
  );
});

Deno.test("hostsByIds() splits a long id list into several requests", async () => {
  const builder = seed();
  for (let i = 0; i < 20; i++) builder.host({ name: `h-${i}` });
  await using h = await startHarness({ apiVersion: "2.5", seed: builder });
  const wanted = Array.from({ length: 2000 }, (_, i) => i + 1);
  const hosts = await h.api.hostsByIds(wanted);
  assert.equal(hosts.length, 20);
  const requests = h.brain.requestCounts().get("GET /hosts") ?? 0;
  assert.ok(requests >= 2 && requests <= 6, `${requests} requests`);
  for (const request of h.brain.requests.filter((r) => r.endpoint === "GET /hosts")) {
    assert.ok(request.query.length < 6000, "URLs stay under ~6 kB");
  }
});

Deno.test("listDetections() splits a long host id list into several requests", async () => {
  const builder = seed();
  for (let i = 0; i < 5; i++) builder.host({ name: `h-${i}` });
  builder.detection({ src: "h-1", type: "Port Scan" }).detection({ src: "h-4", type: "Port Scan" });
  await using h = await startHarness({ apiVersion: "3.4", seed: builder });
  const ids = [...Array.from({ length: 2000 }, (_, i) => 100_000 + i), 2, 5];
  const detections = await h.api.listDetections({ hostIds: ids, state: "active" });
  assert.deepEqual(detections.map((d) => d.hostId).sort(), [2, 5]);
  assert.ok((h.brain.requestCounts().get("GET /detections") ?? 0) >= 2);
});

Deno.test("createVectraApi() picks the version and auth from the brain entry", async () => {
  const secret = () => Promise.resolve("unused");
  const v3 = createVectraApi(
    {
      entry: "t.portal.vectra.ai",
      baseUrl: "https://t.portal.vectra.ai",
      apiVersion: "3.4",
      auth: "oauth",
    },
    { secret },
  );
  const v2 = createVectraApi(
    { entry: "brain", baseUrl: "https://brain.example:8443", apiVersion: "2.5", auth: "token" },
    { secret },
  );
  try {
    assert.ok(v3 instanceof V3VectraApi);
    assert.equal(v3.version, "3.4");
    assert.equal(v3.brain, "t.portal.vectra.ai");
    assert.ok(v2 instanceof SharedVectraApi && !(v2 instanceof V3VectraApi));
    assert.equal(v2.version, "2.5");
    assert.equal(v2.brain, "brain.example:8443");
  } finally {
    await v3.close();
    await v2.close();
  }
});

Deno.test("useFields: false asks for whole objects and parses the same hosts", async () => {
  await using h = await startHarness({
    apiVersion: "3.4",
    seed: seed().host({ name: "a", tags: ["block"], mac: ["00:11:22:33:44:55"] }),
    useFields: false,
  });
  const [host] = await h.api.listHosts({ tag: "block" });
  assert.deepEqual(host?.macAddresses, ["00:11:22:33:44:55"]);
  assert.doesNotMatch(
    h.brain.requests.find((r) => r.endpoint === "GET /hosts")?.query ?? "",
    /fields=/,
  );
});

Deno.test("hostsByIds() reads one by one when the brain refuses id lists", async () => {
  const builder = seed();
  for (let i = 0; i < 3; i++) builder.host({ name: `h-${i}` });
  await using h = await startHarness({ apiVersion: "3.4", seed: builder });
  h.brain.fault({
    kind: "status",
    status: 400,
    body: { detail: "The following query parameter(s) are invalid: id." },
  }, { path: /^\/hosts$/ });
  const hosts = await h.api.hostsByIds([1, 3, 99]);
  assert.deepEqual(hosts.map((host) => host.name).sort(), ["h-0", "h-2"]);
  assert.equal(h.brain.requestCounts().get("GET /hosts/{id}"), 3);
  assert.ok(
    h.logs.some((line) =>
      /does not read a comma in id on \/hosts .*list refused: one object per request/.test(line)
    ),
  );
  h.brain.clearRequests();
  await h.api.hostsByIds([2]);
  assert.equal(h.brain.requestCounts().get("GET /hosts"), undefined, "the refusal is remembered");
});

Deno.test("a malformed token response never puts the token into an error", async () => {
  await using h = await startHarness({ apiVersion: "3.4", seed: seed().host({ name: "a" }) });
  h.brain.fault({ kind: "malformed" }, { path: "/oauth2/token" });
  const error = await rejection(h.api.listHosts({}), VectraError);
  assert.equal(error.status, 200);
  assert.match(
    error.message,
    /^Cannot authenticate to brain 127\.0\.0\.1:\d+ \(client_credentials grant\): POST \/oauth2\/token answered 200 without a readable access token$/,
  );
  assertNoSecrets([...messagesOf(error), ...h.logs], h.secrets());
  for (const text of [...messagesOf(error), ...h.logs]) {
    assert.ok(!text.includes("access_token"), `a token response excerpt in: ${text.slice(0, 120)}`);
  }
  assert.equal((await h.api.listHosts({})).length, 1, "the next call authenticates again");
});
