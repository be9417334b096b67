import assert from "node:assert/strict";
import { FakeDevice } from "./_device.ts";

/** The smallest fake: answers 200 unless a switch says otherwise. */
class EchoDevice extends FakeDevice<string> {
  async handle(path: string): Promise<number> {
    this.record(path);
    return (await this.interpose(path)) ?? 200;
  }
}

Deno.test("FakeDevice fails next, fails always and heals", async () => {
  const device = new EchoDevice();
  device.failNext(503, 2);
  assert.deepEqual([await device.handle("a"), await device.handle("b"), await device.handle("c")], [
    503,
    503,
    200,
  ]);
  device.failAlways(500);
  assert.deepEqual([await device.handle("d"), await device.handle("e")], [500, 500]);
  device.heal();
  assert.equal(await device.handle("f"), 200);
  assert.deepEqual(device.requests, ["a", "b", "c", "d", "e", "f"]);
});

Deno.test("FakeDevice runs a beforeNext change once, before the first matching request", async () => {
  const device = new EchoDevice();
  const seen: string[] = [];
  device.beforeNext(
    () => seen.push(`changed, ${device.requests.length} requests in`),
    (p) => p === "write",
  );
  await device.handle("read");
  await device.handle("write");
  await device.handle("write");
  assert.deepEqual(seen, ["changed, 2 requests in"]);
});

Deno.test("FakeDevice stalls every request until stall(0) or heal", async () => {
  const device = new EchoDevice();
  device.stall(60_000);
  let answered = false;
  const pending = device.handle("slow").then((status) => {
    answered = true;
    return status;
  });
  await new Promise((resolve) => setTimeout(resolve, 20));
  assert.equal(answered, false, "a stalled request waits");
  device.stall(0);
  assert.equal(await pending, 200);
  device.stall(10);
  const started = performance.now();
  assert.equal(await device.handle("slow again"), 200);
  assert.ok(performance.now() - started >= 9);
});
