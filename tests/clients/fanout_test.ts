import assert from "node:assert/strict";
import { ClientError } from "../../engine/client.ts";
import {
  type DeviceAnswer,
  failuresOf,
  fanOut,
  fanOutError,
  KeyLocks,
  rollBack,
} from "../../clients/_fanout.ts";

const ok = (added: string[] = []): DeviceAnswer => ({ failed: new Map(), added: new Set(added) });
const failureOf = (error: unknown) => ({ message: String(error), status: 503 });

Deno.test("fanOut() settles every device; a device that throws fails every key", async () => {
  const settled = await fanOut(["a", "b", "c"], ["k1", "k2"], (device) => {
    if (device === "b") return Promise.reject("down");
    if (device === "c") {
      return Promise.resolve({
        failed: new Map([["k2", { message: "refused", status: 400 }]]),
        added: new Set(["k1"]),
      });
    }
    return Promise.resolve(ok(["k1", "k2"]));
  }, failureOf);
  assert.deepEqual(settled.map((s) => s.device), ["a", "b", "c"]);
  assert.deepEqual([...settled[1]!.answer.failed.keys()], ["k1", "k2"]);
  assert.deepEqual(failuresOf(settled, (d) => `fw-${d}`, (k) => k.toUpperCase()), [
    { message: "K1 on fw-b: down", status: 503 },
    { message: "K2 on fw-b: down", status: 503 },
    { message: "K2 on fw-c: refused", status: 400 },
  ]);
});

Deno.test("rollBack() takes back only what each device newly added, and logs a failed undo", async () => {
  const undone: string[] = [];
  const settled = [
    { device: "a", answer: ok(["k1"]) },
    { device: "b", answer: ok() },
    { device: "c", answer: ok(["k1", "k2"]) },
  ];
  const any = await rollBack(settled, (device, keys) => {
    undone.push(`${device}:${keys.join(",")}`);
    return device === "c" ? Promise.reject(new Error("still down")) : Promise.resolve();
  }, (d) => d);
  assert.equal(any, true);
  assert.deepEqual(undone.sort(), ["a:k1", "c:k1,k2"]);
  assert.equal(
    await rollBack([{ device: "b", answer: ok() }], () => Promise.resolve(), String),
    false,
  );
});

Deno.test("fanOutError() joins the failures, says a rollback happened, keeps the first status", () => {
  const error = fanOutError("fortinet", "blockHost", "Cannot block host 7 on fortinet", [
    { message: "10.1.2.3 on fw1: 503", status: 503 },
    { message: "10.1.2.3 on fw2: 500", status: 500 },
  ], true);
  assert.ok(error instanceof ClientError);
  assert.equal(error.status, 503);
  assert.equal(
    error.message,
    "Cannot block host 7 on fortinet: 10.1.2.3 on fw1: 503; 10.1.2.3 on fw2: 500; " +
      "the devices that accepted it were rolled back",
  );
});

Deno.test("KeyLocks runs actions on one key one after the other, other keys at once", async () => {
  const locks = new KeyLocks();
  const log: string[] = [];
  const step = (name: string, ms: number) => async () => {
    log.push(`${name} start`);
    await new Promise((resolve) => setTimeout(resolve, ms));
    log.push(`${name} end`);
  };
  await Promise.all([
    locks.with(["x", "y"], step("first", 30)),
    locks.with(["y"], step("second", 1)),
    locks.with(["z"], step("third", 1)),
  ]);
  assert.ok(log.indexOf("second start") > log.indexOf("first end"), log.join(", "));
  assert.ok(log.indexOf("third end") < log.indexOf("first end"), log.join(", "));
});
