import assert from "node:assert/strict";
import { startFakeCheckPoint } from "./checkpoint.ts";

/** A JSON client of the fake: `call(command, body, sid)` answers status and body. */
function client(url: string) {
  return async (command: string, body: Record<string, unknown> = {}, sid?: string) => {
    const response = await fetch(`${url}/web_api/${command}`, {
      method: "POST",
      headers: { "Content-Type": "application/json", ...(sid ? { "X-chkp-sid": sid } : {}) },
      body: JSON.stringify(body),
    });
    return { status: response.status, body: await response.json() as Record<string, unknown> };
  };
}

/** Polls a task to its end. */
async function finish(call: ReturnType<typeof client>, sid: string, taskId: unknown) {
  for (let i = 0; i < 5; i++) {
    const answer = await call("show-task", { "task-id": taskId }, sid);
    const status = (answer.body.tasks as { status: string }[])[0]?.status;
    if (status !== "in progress") return status;
  }
  return "never finished";
}

Deno.test("fake Check Point: a change is private until publish, and enforced only after install-policy", async () => {
  await using server = startFakeCheckPoint({ users: { admin: "pw" } });
  const call = client(server.url);
  assert.equal((await call("login", { user: "admin", password: "bad" })).status, 400);
  assert.equal((await call("add-host", { name: "x", "ip-address": "10.1.2.3" })).status, 401);
  const sid = String((await call("login", { user: "admin", password: "pw" })).body.sid);
  const added = await call("add-host", {
    name: "10.1.2.3",
    "ip-address": "10.1.2.3",
    groups: ["Internal-Block"],
  }, sid);
  assert.equal(added.status, 200);
  assert.deepEqual([...server.fake.members("Internal-Block")], [], "nothing published yet");
  const published = await call("publish", {}, sid);
  assert.equal(await finish(call, sid, published.body["task-id"]), "succeeded");
  assert.deepEqual([...server.fake.members("Internal-Block")], ["10.1.2.3"]);
  assert.equal(server.fake.installed().size, 0, "publish alone enforces nothing");
  const install = await call(
    "install-policy",
    { "policy-package": "Standard", targets: ["gw1"] },
    sid,
  );
  assert.equal(await finish(call, sid, install.body["task-id"]), "succeeded");
  assert.deepEqual([...server.fake.installed().get("Internal-Block")!], ["10.1.2.3"]);
  assert.equal((await call("logout", {}, sid)).status, 200);
  assert.equal(server.fake.sessions, 0);
});

Deno.test("fake Check Point: duplicates, missing objects, referenced hosts, locks and discard", async () => {
  await using server = startFakeCheckPoint({ users: { admin: "pw", other: "pw2" } });
  const call = client(server.url);
  const a = String((await call("login", { user: "admin", password: "pw" })).body.sid);
  const b = String((await call("login", { user: "other", password: "pw2" })).body.sid);
  const host = { name: "h1", "ip-address": "10.0.0.1", groups: ["Internal-Block"] };
  assert.equal((await call("add-host", host, a)).status, 200);
  const dup = await call("add-host", host, a);
  assert.deepEqual([dup.status, dup.body.code], [400, "err_validation_failed"]);
  const locked = await call("set-group", { name: "Internal-Block", members: { remove: "h1" } }, b);
  assert.deepEqual([locked.status, locked.body.code], [409, "err_object_locked"]);
  const used = await call("delete-host", { name: "h1" }, a);
  assert.deepEqual([used.status, used.body.code], [400, "err_validation_failed"]);
  assert.equal((await call("discard", {}, a)).status, 200);
  const gone = await call("show-host", { name: "h1" }, a);
  assert.deepEqual([gone.status, gone.body.code], [404, "generic_err_object_not_found"]);
  assert.equal(
    (await call("set-group", { name: "Internal-Block", members: { add: "h9" } }, b)).status,
    404,
  );
  server.fake.failNext(500);
  assert.equal((await call("show-group", { name: "Internal-Block" }, b)).status, 500);
  assert.equal((await call("show-group", { name: "Internal-Block" }, b)).status, 200);
});
