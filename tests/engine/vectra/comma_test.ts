import assert from "node:assert/strict";
import { COMMA_READINGS, type CommaReading } from "../../../demo/brain.ts";
import { seed } from "../../../demo/seed.ts";
import { startHarness } from "./_fixture.ts";

/** Four hosts; a and c tagged, detections on hosts 2 and 3 (host 1 has none). */
function world() {
  return seed()
    .host({ id: 1, name: "h1", tags: ["vectra_host_block"] })
    .host({ id: 2, name: "h2", tags: ["VAR Host Blocked"] })
    .host({ id: 3, name: "h3" })
    .host({ id: 4, name: "h4", tags: ["other"] })
    .detection({ id: 11, src: "h2", type: "Port Scan" })
    .detection({ id: 12, src: "h3", type: "Port Scan" })
    .detection({ id: 13, src: "h4", type: "Port Scan" });
}

/** The reading the report must show for a filter on a brain that reads a comma so. */
const LABEL: Readonly<Record<CommaReading, RegExp>> = {
  anyof: /any-of list: one combined query/,
  // A brain that honours the first item answers a framed list with nothing, like one that
  // reads the value literally; the follow-up query tells them apart.
  first: /first item only/,
  literal: /literal value/,
  ignored: /ignored \(everything returned\)/,
};

for (const reading of COMMA_READINGS) {
  Deno.test(`the v2.5 client reads every list filter exactly when a brain reads a comma as ${reading}`, async () => {
    await using h = await startHarness({ apiVersion: "2.5", seed: world(), commaReading: reading });
    for (let pass = 1; pass <= 2; pass++) {
      const tagged = await h.api.listHosts({ anyTags: ["vectra_host_block", "VAR Host Blocked"] });
      assert.deepEqual(tagged.map((x) => x.id).sort(), [1, 2], `pass ${pass}`);
      const byId = await h.api.hostsByIds([1, 3, 99]);
      assert.deepEqual(byId.map((x) => x.id).sort(), [1, 3], `pass ${pass}`);
      const ofHosts = await h.api.listDetections({ hostIds: [1, 2, 3] });
      assert.deepEqual(ofHosts.map((d) => d.id).sort(), [11, 12], `pass ${pass}`);
      const report = h.api.takeListReadingReport?.() ?? null;
      if (pass === 1) {
        assert.ok(report !== null);
        for (const filter of ["tags on /hosts", "id on /hosts", "host_id on /detections"]) {
          const part = report.split("; ").find((p) => p.startsWith(filter)) ?? "";
          assert.match(part, LABEL[reading], report);
        }
        assert.match(report, /tags on \/accounts: not shown yet/);
      } else {
        assert.equal(report, null, "the report is logged once, and again only after news");
      }
    }
    const warned = h.logs.filter((line) => /does not read a comma in/.test(line));
    assert.equal(
      warned.length,
      reading === "anyof" || reading === "ignored" ? 0 : 3,
      warned.join("\n"),
    );
  });
}

Deno.test("an any-of brain whose tags nobody carries is asked one tag at a time until it shows", async () => {
  await using h = await startHarness({
    apiVersion: "2.5",
    seed: seed().host({ id: 1, name: "h1" }),
  });
  const tags = ["vectra_host_block", "VAR Host Blocked", "VAR Pending:X:block"];
  assert.deepEqual(await h.api.listHosts({ anyTags: tags }), []);
  const asked = h.brain.requests.filter((r) => r.endpoint === "GET /hosts")
    .map((r) => new URLSearchParams(r.query).get("tags") ?? "");
  assert.equal(asked.length, 4, asked.join("\n"));
  assert.match(asked[0] ?? "", /^var-comma-check-\w+,vectra_host_block,.*,var-comma-check-\w+$/);
  assert.deepEqual(asked.slice(1).sort(), [...tags].sort());
  h.brain.setTags("host", 1, ["VAR Host Blocked"]);
  h.brain.clearRequests();
  assert.deepEqual((await h.api.listHosts({ anyTags: tags })).map((x) => x.id), [1]);
  h.brain.clearRequests();
  assert.deepEqual((await h.api.listHosts({ anyTags: tags })).map((x) => x.id), [1]);
  const plain = h.brain.requests.map((r) => new URLSearchParams(r.query).get("tags"));
  assert.deepEqual(plain, [tags.join(",")], "once shown, one combined query");
});

Deno.test("a brain that refuses a tag list with 400 is asked one tag at a time, and says so", async () => {
  await using h = await startHarness({ apiVersion: "3.4", seed: world() });
  h.brain.fault({
    kind: "status",
    status: 400,
    body: { detail: "Invalid tag list" },
  }, { path: "/hosts", times: 1 });
  const tagged = await h.api.listHosts({ anyTags: ["vectra_host_block", "VAR Host Blocked"] });
  assert.deepEqual(tagged.map((x) => x.id).sort(), [1, 2]);
  assert.match(
    h.api.takeListReadingReport?.() ?? "",
    /tags on \/hosts: list refused: one tag per query/,
  );
  assert.ok(
    h.logs.some((line) => /does not read a comma in tags on \/hosts.*Invalid tag list/.test(line)),
  );
});

Deno.test("more than 20 objects are read from the whole list where id lists are not read", async () => {
  const builder = seed();
  for (let id = 1; id <= 60; id++) builder.host({ id, name: `h${id}` });
  await using h = await startHarness({ apiVersion: "2.5", seed: builder, commaReading: "first" });
  const wanted = Array.from({ length: 30 }, (_, i) => 2 * i + 1).concat([999]);
  for (let pass = 1; pass <= 2; pass++) {
    h.brain.clearRequests();
    h.api.startCycle?.();
    const hosts = await h.api.hostsByIds(wanted);
    assert.deepEqual(hosts.map((x) => x.id).sort((a, b) => a - b), wanted.slice(0, 30));
    const counts = h.brain.requestCounts();
    assert.equal(counts.get("GET /hosts/{id}") ?? 0, 0, JSON.stringify([...counts]));
    const whole = h.brain.requests.filter((r) =>
      r.endpoint === "GET /hosts" && !new URLSearchParams(r.query).has("id")
    );
    assert.equal(whole.length, 1, `pass ${pass}: one read of the whole list`);
  }
  assert.match(h.api.takeListReadingReport?.() ?? "", /id on \/hosts: first item only/);
});

Deno.test("a brain that ignores id= is read in full once per cycle, however many lookups need it", async () => {
  const builder = seed();
  for (let id = 1; id <= 60; id++) builder.host({ id, name: `h${id}` });
  for (let id = 1; id <= 30; id++) builder.account({ id, name: `a${id}@example.com` });
  await using h = await startHarness({
    apiVersion: "2.5",
    seed: builder,
    documentedOnly: true,
    maxPageSize: 10,
  });
  const odd = Array.from({ length: 30 }, (_, i) => 2 * i + 1);
  for (let cycle = 1; cycle <= 2; cycle++) {
    h.brain.clearRequests();
    h.api.startCycle?.();
    const [many, few, one, accounts] = await Promise.all([
      h.api.hostsByIds(odd),
      h.api.hostsByIds([2, 4, 6, 999]),
      h.api.hostsByIds([60]),
      h.api.accountsByIds([3, 5]),
    ]);
    assert.deepEqual(many.map((x) => x.id).sort((a, b) => a - b), odd);
    assert.deepEqual(few.map((x) => x.id).sort((a, b) => a - b), [2, 4, 6]);
    assert.deepEqual(one.map((x) => x.id), [60]);
    assert.deepEqual(accounts.map((x) => x.id).sort((a, b) => a - b), [3, 5]);
    const counts = h.brain.requestCounts();
    // 60 hosts at 10 a page: one whole read is 6 pages; 30 accounts, 3 pages. The read keeps
    // only the ids of the lookup that made it: the other lookups of the cycle (the engine
    // batches its own into one) read their ids one request each, never the list again.
    assert.equal(counts.get("GET /hosts"), 6, `cycle ${cycle}: ${JSON.stringify([...counts])}`);
    assert.equal(counts.get("GET /accounts"), 3, `cycle ${cycle}: ${JSON.stringify([...counts])}`);
    // [2, 4, 6, 999] and [60], one request each (999 does not exist).
    assert.equal(counts.get("GET /hosts/{id}"), 5, JSON.stringify([...counts]));
  }
  assert.match(h.api.takeListReadingReport?.() ?? "", /id on \/hosts: ignored/);
});
