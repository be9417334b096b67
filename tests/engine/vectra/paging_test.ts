/**
 * A list that changes while var reads its pages (issue 6): page 2 is served from a newer
 * list than page 1, so an item can be missed. The client reads such a list again from
 * page 1, a bounded number of times, and never returns a read whose pages disagree.
 */

import assert from "node:assert/strict";
import { seed } from "../../../demo/seed.ts";
import { VectraError } from "../../../engine/vectra/api.ts";
import { type Harness, rejection, startHarness } from "./_fixture.ts";

const TAG = "vectra_host_block";

/** Five tagged hosts (ids 1–5) and an untagged one, two per page. */
async function harness(version: "2.5" | "3.4"): Promise<Harness> {
  const data = seed();
  for (let i = 1; i <= 5; i++) data.host({ id: i, name: `pc-${i}`, tags: [TAG] });
  data.host({ id: 6, name: "pc-6", tags: [] });
  return await startHarness({ apiVersion: version, seed: data, maxPageSize: 2 });
}

/** The GET /hosts requests of the tag query, as their page numbers (1 for the first). */
function pagesRead(h: Harness): number[] {
  return h.brain.requests
    .filter((r) => r.endpoint === "GET /hosts" && r.query.includes("tags="))
    .map((r) => Number(new URLSearchParams(r.query).get("page") ?? "1"));
}

const PAGE_2 = { path: "/hosts", query: { tags: TAG, page: "2" } };

for (const version of ["2.5", "3.4"] as const) {
  Deno.test(`v${version} listHosts() reads a list again when its count changes between pages`, async () => {
    await using h = await harness(version);
    // An analyst releases pc-1 while var reads page 2: pc-3 moves to page 1, already read.
    h.brain.fault({
      kind: "mutate",
      mutate: (b) => b.setTags("host", "pc-1", []),
    }, PAGE_2);
    const hosts = await h.api.listHosts({ tag: TAG });
    assert.deepEqual(hosts.map((host) => host.id).sort(), [2, 3, 4, 5]);
    assert.deepEqual(pagesRead(h), [1, 2, 1, 2]);
    const warnings = h.logs.filter((line) => line.startsWith("warning var.vectra "));
    assert.equal(warnings.length, 1);
    assert.match(warnings[0] ?? "", /changed while it was read/);
    assert.match(warnings[0] ?? "", /count went from 5 to 4 on page 2/);
  });

  Deno.test(`v${version} listHosts() reads a list again when an id comes back on a later page`, async () => {
    await using h = await harness(version);
    // Same count, but the list moved right: pc-2 is served again on page 2 and one host
    // slid past the pages already read.
    h.brain.fault({
      kind: "mutate",
      mutate: (b) => {
        b.remove("host", "pc-5");
        b.addHost({ id: 0, name: "pc-0", tags: [TAG] });
      },
    }, PAGE_2);
    const hosts = await h.api.listHosts({ tag: TAG });
    assert.deepEqual(hosts.map((host) => host.id).sort(), [0, 1, 2, 3, 4]);
    assert.deepEqual(pagesRead(h), [1, 2, 1, 2, 3]);
    assert.ok(h.logs.some((line) => /id 2 came again on page 2/.test(line)), h.logs.join("\n"));
  });

  Deno.test(`v${version} listHosts() reads a list again when its results do not add up to its count`, async () => {
    await using h = await harness(version);
    const page2 = await h.api.listHosts({ tag: TAG }).then((all) => all.slice(2, 4));
    assert.equal(page2.length, 2);
    const before = pagesRead(h).length;
    // A last page that says there is no more, short of the count page 1 gave.
    h.brain.fault({
      kind: "status",
      status: 200,
      body: { count: 5, next: null, previous: null, results: [] },
    }, PAGE_2);
    const hosts = await h.api.listHosts({ tag: TAG });
    assert.equal(hosts.length, 5);
    assert.deepEqual(pagesRead(h).slice(before), [1, 2, 1, 2, 3]);
    assert.ok(
      h.logs.some((line) => /2 results on 2 page\(s\) where page 1 counted 5/.test(line)),
      h.logs.join("\n"),
    );
  });

  Deno.test(`v${version} listHosts() fails with a VectraError when the list keeps changing`, async () => {
    await using h = await harness(version);
    let added = 0;
    h.brain.fault({
      kind: "mutate",
      mutate: (b) => {
        added++;
        b.addHost({ id: 100 + added, name: `new-${added}`, tags: [TAG] });
      },
    }, { ...PAGE_2, times: Infinity });
    const error = await rejection(h.api.listHosts({ tag: TAG }), VectraError);
    const brain = new URL(h.brain.url).host;
    assert.equal(
      error.message,
      `Cannot list hosts on brain ${brain}: GET /api/v${version}/hosts kept changing while it ` +
        "was read (count went from 8 to 9 on page 2); read 4 times, the next cycle tries again",
    );
    assert.equal(added, 4, "one initial read and three re-reads, then no more");
    assert.deepEqual(pagesRead(h), [1, 2, 1, 2, 1, 2, 1, 2]);
    assert.equal(h.logs.filter((line) => /reading it again from page 1/.test(line)).length, 3);
  });

  Deno.test(`v${version} listHosts() reads a list that fits one page with one request`, async () => {
    await using h = await harness(version);
    h.brain.setTags("host", "pc-3", []);
    h.brain.setTags("host", "pc-4", []);
    h.brain.setTags("host", "pc-5", []);
    const hosts = await h.api.listHosts({ tag: TAG });
    assert.deepEqual(hosts.map((host) => host.id), [1, 2]);
    assert.deepEqual(pagesRead(h), [1]);
  });

  Deno.test(`v${version} listHosts() reads an unchanged list of several pages once`, async () => {
    await using h = await harness(version);
    const hosts = await h.api.listHosts({ tag: TAG });
    assert.deepEqual(hosts.map((host) => host.id), [1, 2, 3, 4, 5]);
    assert.deepEqual(pagesRead(h), [1, 2, 3]);
    assert.deepEqual(h.logs.filter((line) => line.startsWith("warning var.vectra ")), []);
  });
}

Deno.test("listHosts() keeps a page that lists one host twice (the engine dedupes it)", async () => {
  await using h = await harness("2.5");
  const [one] = await h.api.listHosts({ tag: TAG });
  assert.ok(one);
  const before = pagesRead(h).length;
  const json = { id: 1, name: "pc-1", last_source: one.ip, tags: [TAG], host_artifact_set: [] };
  h.brain.fault(
    {
      kind: "status",
      status: 200,
      body: { count: 2, next: null, previous: null, results: [json, json] },
    },
    { path: "/hosts", query: { tags: TAG } },
  );
  const hosts = await h.api.listHosts({ tag: TAG });
  assert.deepEqual(hosts.map((host) => host.id), [1, 1]);
  assert.equal(pagesRead(h).length - before, 1, "a consistent page is read once");
});
