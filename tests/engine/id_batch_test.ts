import assert from "node:assert/strict";
import { IdBatch } from "../../engine/id_batch.ts";

interface Item {
  readonly id: number;
}

Deno.test("IdBatch sends one lookup for the union of its parts' ids, once every part asked or ended", async () => {
  const lookups: number[][] = [];
  const batch = new IdBatch<Item>((ids) => {
    lookups.push([...ids].sort((a, b) => a - b));
    return Promise.resolve(ids.filter((id) => id !== 99).map((id) => ({ id })));
  });
  let release!: () => void;
  const late = new Promise<void>((resolve) => release = resolve);
  const parts = Promise.all([
    batch.join((ask) => ask([1, 2, 3])),
    batch.join(async (ask) => {
      await late;
      return await ask([3, 4, 99]);
    }),
    batch.join(() => Promise.resolve("ended without asking")),
  ]);
  batch.close();
  await new Promise((resolve) => setTimeout(resolve, 5));
  assert.deepEqual(lookups, [], "no lookup while a part may still ask");
  release();
  const [first, second, third] = await parts;
  assert.deepEqual(lookups, [[1, 2, 3, 4, 99]]);
  assert.deepEqual(first.map((x) => x.id), [1, 2, 3]);
  assert.deepEqual(second.map((x) => x.id), [3, 4], "an id that does not exist is left out");
  assert.equal(third, "ended without asking");
});

Deno.test("IdBatch: a part that fails before asking does not hold the others; a failed lookup fails every asker", async () => {
  const ok = new IdBatch<Item>((ids) => Promise.resolve(ids.map((id) => ({ id }))));
  const results = Promise.allSettled([
    ok.join(() => Promise.reject(new Error("group missing"))),
    ok.join((ask) => ask([7])),
  ]);
  ok.close();
  const [failed, asked] = await results;
  assert.equal(failed.status, "rejected");
  assert.deepEqual(asked.status === "fulfilled" ? asked.value : null, [{ id: 7 }]);

  const broken = new IdBatch<Item>(() => Promise.reject(new Error("brain down")));
  const both = Promise.allSettled([
    broken.join((ask) => ask([1])),
    broken.join((ask) => ask([2])),
  ]);
  broken.close();
  for (const r of await both) {
    assert.equal(r.status, "rejected");
    assert.match(String(r.status === "rejected" ? r.reason : ""), /brain down/);
  }

  const empty = new IdBatch<Item>(() => Promise.reject(new Error("never called")));
  const none = empty.join((ask) => ask([]));
  empty.close();
  assert.deepEqual(await none, [], "nothing asked: no lookup");
});
