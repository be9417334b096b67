import assert from "node:assert/strict";
import {
  authenticated,
  CycleSession,
  expiringToken,
  generatedKey,
  oauthSession,
  staticToken,
} from "../../clients/_session.ts";
import { HttpEndpoint } from "../../engine/http.ts";
import { OAuthTokens } from "../../engine/vectra/oauth.ts";

/** A device that accepts only `valid` and answers 401 otherwise. */
function device(valid: () => string) {
  const seen: string[] = [];
  return {
    seen,
    send: (headers: Record<string, string>) => {
      seen.push(headers["Authorization"] ?? "");
      return Promise.resolve(headers["Authorization"] === valid() ? 200 : 401);
    },
  };
}
const is401 = (status: number) => status === 401;

Deno.test("staticToken() sends the token and does not retry a 401", async () => {
  let lookups = 0;
  const session = staticToken("Authorization", "Bearer ", () => {
    lookups++;
    return Promise.resolve("t1");
  });
  const ok = device(() => "Bearer t1");
  assert.equal(await authenticated(session, ok.send, is401), 200);
  const refused = device(() => "Bearer other");
  assert.equal(await authenticated(session, refused.send, is401), 401);
  assert.deepEqual(refused.seen, ["Bearer t1"], "no second try: nothing can change");
  assert.equal(lookups, 1);
});

Deno.test("generatedKey() uses the stored key, generates and stores a new one once after a 401", async () => {
  const stored: string[] = [];
  let generated = 0;
  let valid = "Bearer key-1";
  const session = generatedKey({
    find: () => Promise.resolve("stale"),
    generate: () => Promise.resolve(`key-${++generated}`),
    store: (key) => {
      stored.push(key);
      return Promise.resolve();
    },
    headers: (key) => ({ Authorization: `Bearer ${key}` }),
  });
  const dev = device(() => valid);
  assert.equal(await authenticated(session, dev.send, is401), 200);
  assert.deepEqual(dev.seen, ["Bearer stale", "Bearer key-1"]);
  assert.deepEqual(stored, ["key-1"]);
  // Two requests rejected at once share one new key.
  valid = "Bearer key-2";
  await Promise.all([
    authenticated(session, dev.send, is401),
    authenticated(session, dev.send, is401),
  ]);
  assert.equal(generated, 2);
});

Deno.test("expiringToken() logs in once, renews before expiry and after a 401", async () => {
  let clock = 0;
  let logins = 0;
  const session = expiringToken({
    login: () => Promise.resolve({ token: `tok-${++logins}`, expiresInSeconds: 600 }),
    headers: (token) => ({ Authorization: `Bearer ${token}` }),
    renewEarlySeconds: 60,
    now: () => clock,
  });
  let valid = "Bearer tok-1";
  const dev = device(() => valid);
  await Promise.all([
    authenticated(session, dev.send, is401),
    authenticated(session, dev.send, is401),
  ]);
  assert.equal(logins, 1, "concurrent callers share one login");
  clock = 541_000; // past 600 s minus the 60 s margin
  valid = "Bearer tok-2";
  assert.equal(await authenticated(session, dev.send, is401), 200);
  assert.equal(logins, 2);
  valid = "Bearer tok-3";
  assert.equal(await authenticated(session, dev.send, is401), 200);
  assert.equal(logins, 3, "a 401 renews once");
});

Deno.test("oauthSession() takes its token from the OAuth token endpoint and renews it after a 401", async () => {
  let issued = 0;
  await using server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    () => Response.json({ access_token: `at-${++issued}`, expires_in: 3600, token_type: "Bearer" }),
  );
  const endpoint = new HttpEndpoint({
    system: "idp",
    baseUrl: `http://127.0.0.1:${server.addr.port}`,
    retries: 0,
  });
  try {
    const tokens = new OAuthTokens({
      endpoint,
      brain: "idp",
      tokenPath: "/oauth2/token",
      credentials: () => Promise.resolve({ clientId: "id", secret: "s" }),
    });
    const session = oauthSession(tokens);
    let valid = "Bearer at-1";
    const dev = device(() => valid);
    assert.equal(await authenticated(session, dev.send, is401), 200);
    valid = "Bearer at-2";
    assert.equal(await authenticated(session, dev.send, is401), 200);
    assert.deepEqual(dev.seen, ["Bearer at-1", "Bearer at-1", "Bearer at-2"]);
  } finally {
    endpoint.close();
  }
});

Deno.test("CycleSession logs in once, commits, discards a failed commit, logs out at the end", async () => {
  const log: string[] = [];
  let n = 0;
  let refuseLogin = true;
  let commits = 0;
  const session = new CycleSession({
    login: () => {
      if (refuseLogin) {
        refuseLogin = false;
        log.push("login refused");
        return Promise.reject(new Error("login refused"));
      }
      log.push(`login ${++n}`);
      return Promise.resolve(n);
    },
    commit: (s) => {
      log.push(`commit ${s}`);
      return ++commits === 2 ? Promise.reject(new Error("commit refused")) : Promise.resolve();
    },
    discard: (s) => {
      log.push(`discard ${s}`);
      return Promise.resolve();
    },
    logout: (s) => {
      log.push(`logout ${s}`);
      return Promise.resolve();
    },
  });
  await session.discard();
  await session.end();
  assert.deepEqual(log, [], "nothing to discard or log out before a login");
  await assert.rejects(session.session(), /login refused/);
  assert.equal(await session.session(), 1);
  assert.equal(await session.session(), 1);
  await session.commit();
  await assert.rejects(session.commit(), /commit refused/);
  await session.end();
  await session.commit();
  await session.end();
  assert.deepEqual(log, [
    "login refused",
    "login 1",
    "commit 1",
    "commit 1",
    "discard 1",
    "logout 1",
    "login 2",
    "commit 2",
    "logout 2",
  ]);
});
