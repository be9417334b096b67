import assert from "node:assert/strict";
import {
  CountingRequestCounter,
  HttpEndpoint,
  HttpError,
  parseRetryAfter,
  pathTemplate,
} from "../../engine/http.ts";
import { makeTestCertificates } from "../_tls.ts";

type Script = (req: Request, attempt: number) => Response | Promise<Response>;

/** A server that answers each request with a scripted response and counts attempts. */
async function withServer(
  script: Script,
  fn: (url: string, attempts: () => number, seen: Request[]) => Promise<void>,
  tls?: { cert: string; key: string },
) {
  let attempts = 0;
  const seen: Request[] = [];
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {}, ...(tls ?? {}) },
    async (req) => {
      attempts++;
      seen.push(req.clone());
      return await script(req, attempts);
    },
  );
  try {
    await fn(
      `${tls ? "https" : "http"}://127.0.0.1:${server.addr.port}`,
      () => attempts,
      seen,
    );
  } finally {
    for (const req of seen) await req.body?.cancel();
    await server.shutdown();
  }
}

function endpoint(url: string, extra: Partial<ConstructorParameters<typeof HttpEndpoint>[0]> = {}) {
  return new HttpEndpoint({
    system: "test api",
    baseUrl: `${url}/api`,
    minRetryDelayMs: 1,
    maxRetryDelayMs: 2_000,
    retries: 3,
    timeoutMs: 2_000,
    ...extra,
  });
}

Deno.test("HttpEndpoint.request() returns the body of a 2xx answer and sends query and headers", async () => {
  await withServer((req) => {
    const url = new URL(req.url);
    return Response.json({
      path: url.pathname,
      q: url.searchParams.getAll("q"),
      page: url.searchParams.get("page"),
      auth: req.headers.get("authorization"),
    });
  }, async (url) => {
    using api = endpoint(url, { headers: () => ({ Authorization: "Token abc" }) });
    const res = await api.request("GET", "/hosts", {
      query: { q: ["a", "b"], page: 2, skip: undefined },
    });
    assert.equal(res.status, 200);
    assert.deepEqual(res.json(), {
      path: "/api/hosts",
      q: ["a", "b"],
      page: "2",
      auth: "Token abc",
    });
  });
});

Deno.test("HttpEndpoint.request() retries a 503 and then succeeds", async () => {
  await withServer(
    (_req, n) => n < 3 ? new Response("busy", { status: 503 }) : Response.json({ ok: 1 }),
    async (url, attempts) => {
      using api = endpoint(url);
      const res = await api.request("GET", "/x");
      assert.deepEqual(res.json(), { ok: 1 });
      assert.equal(attempts(), 3);
    },
  );
});

Deno.test("HttpEndpoint.request() honours Retry-After on 429", async () => {
  await withServer(
    (_req, n) =>
      n === 1
        ? new Response("slow down", { status: 429, headers: { "Retry-After": "1" } })
        : Response.json({}),
    async (url, attempts) => {
      using api = endpoint(url);
      const started = performance.now();
      await api.request("GET", "/x");
      const waited = performance.now() - started;
      assert.equal(attempts(), 2);
      assert.ok(waited >= 950, `waited only ${waited} ms`);
    },
  );
});

Deno.test("HttpEndpoint.request() does not retry other 4xx and names system, method, path and status", async () => {
  await withServer(
    () => Response.json({ detail: "Not Found." }, { status: 404 }),
    async (url, attempts) => {
      using api = endpoint(url);
      const error = await api.request("GET", "/hosts/7", { query: { token: "secret-value" } }).then(
        () => null,
        (e: unknown) => e,
      );
      assert.ok(error instanceof HttpError);
      assert.equal(error.status, 404);
      assert.equal(
        error.message,
        'Cannot GET /api/hosts/7 on test api: answered 404: {"detail":"Not Found."}',
      );
      assert.ok(!error.message.includes("secret-value"));
      assert.equal(attempts(), 1);
    },
  );
});

Deno.test("HttpEndpoint.request() gives up after persistent 5xx with the last status", async () => {
  await withServer(() => new Response("down", { status: 502 }), async (url, attempts) => {
    using api = endpoint(url, { retries: 2 });
    await assert.rejects(
      api.request("GET", "/x"),
      (e: unknown) => e instanceof HttpError && e.status === 502,
    );
    assert.equal(attempts(), 3);
  });
});

Deno.test("HttpEndpoint.request() does not retry a POST unless asked", async () => {
  await withServer(() => new Response("down", { status: 500 }), async (url, attempts) => {
    using api = endpoint(url);
    await assert.rejects(api.request("POST", "/notes", { json: { note: "x" } }), HttpError);
    assert.equal(attempts(), 1);
  });
});

Deno.test("HttpEndpoint.request() times out a stalled answer and retries it", async () => {
  await withServer(async (_req, n) => {
    if (n === 1) await new Promise((r) => setTimeout(r, 400));
    return Response.json({ n });
  }, async (url, attempts) => {
    using api = endpoint(url, { timeoutMs: 150 });
    const res = await api.request("GET", "/x");
    assert.deepEqual(res.json(), { n: 2 });
    assert.equal(attempts(), 2);
  });
});

Deno.test("HttpEndpoint.request() reports a timeout as an HttpError without status", async () => {
  await withServer(async () => {
    await new Promise((r) => setTimeout(r, 300));
    return Response.json({});
  }, async (url) => {
    using api = endpoint(url, { timeoutMs: 100, retries: 0 });
    await assert.rejects(
      api.request("GET", "/x"),
      (e: unknown) =>
        e instanceof HttpError && e.status === null && /no answer within 100 ms/.test(e.message),
    );
  });
});

Deno.test("HttpEndpoint.request() retries a reset connection", async () => {
  let attempts = 0;
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const serve = (async () => {
    for await (const conn of listener) {
      attempts++;
      const buf = new Uint8Array(4096);
      await conn.read(buf);
      if (attempts === 1) {
        conn.close();
        continue;
      }
      await conn.write(
        new TextEncoder().encode(
          'HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 8\r\nconnection: close\r\n\r\n{"ok":1}',
        ),
      );
      conn.close();
    }
  })();
  try {
    using api = endpoint(`http://127.0.0.1:${(listener.addr as Deno.NetAddr).port}`);
    const res = await api.request("GET", "/x");
    assert.deepEqual(res.json(), { ok: 1 });
    assert.equal(attempts, 2);
  } finally {
    listener.close();
    await serve.catch(() => {});
  }
});

Deno.test("HttpResponse.json() on a malformed body throws an HttpError naming the call", async () => {
  await withServer(() => new Response("{not json", { status: 200 }), async (url) => {
    using api = endpoint(url);
    const res = await api.request("GET", "/hosts");
    assert.throws(
      () => res.json(),
      (e: unknown) =>
        e instanceof HttpError &&
        e.message.startsWith(
          "Cannot GET /api/hosts on test api: answered 200 with a body that is not JSON",
        ),
    );
  });
});

Deno.test("HttpEndpoint.request() accepts listed statuses as success", async () => {
  await withServer(() => new Response("gone", { status: 404 }), async (url) => {
    using api = endpoint(url);
    const res = await api.request("DELETE", "/obj/1", { accept: [404] });
    assert.equal(res.status, 404);
  });
});

Deno.test("HttpEndpoint.request() refuses a next link to another origin", async () => {
  await withServer(() => Response.json({}), async (url, attempts) => {
    using api = endpoint(url);
    await assert.rejects(
      api.request("GET", "", { url: "https://evil.example/api/hosts?page=2" }),
      (e: unknown) =>
        e instanceof HttpError && /another origin "https:\/\/evil.example"/.test(e.message),
    );
    assert.equal(attempts(), 0);
    const same = await api.request("GET", "", { url: `${url}/api/hosts?page=2` });
    assert.equal(same.status, 200);
  });
});

Deno.test("HttpEndpoint bounds the requests in flight per origin", async () => {
  let inFlight = 0;
  let peak = 0;
  await withServer(async () => {
    inFlight++;
    peak = Math.max(peak, inFlight);
    await new Promise((r) => setTimeout(r, 20));
    inFlight--;
    return Response.json({});
  }, async (url) => {
    using api = endpoint(url.replace("127.0.0.1", "localhost"), { maxInFlight: 3 });
    await Promise.all(Array.from({ length: 12 }, () => api.request("GET", "/x")));
    assert.equal(peak, 3);
  });
});

Deno.test("CountingRequestCounter counts attempts by endpoint template and errors by system", async () => {
  await withServer(
    (_req, n) => n === 1 ? new Response("", { status: 500 }) : Response.json({}),
    async (url) => {
      const counter = new CountingRequestCounter();
      using api = endpoint(url, { counter });
      await api.request("GET", "/hosts/12");
      await api.request("GET", "/hosts/13");
      assert.deepEqual([...counter.byEndpoint()], [["test api GET /api/hosts/{id}", 3]]);
      assert.deepEqual([...counter.errorsBySystem()], [["test api", 1]]);
      assert.equal(counter.total(), 3);
    },
  );
});

Deno.test("parseRetryAfter() reads seconds and HTTP dates", () => {
  const now = new Date("2026-01-01T00:00:00Z");
  assert.equal(parseRetryAfter("3", now), 3000);
  assert.equal(parseRetryAfter("Thu, 01 Jan 2026 00:00:05 GMT", now), 5000);
  assert.equal(parseRetryAfter(null, now), null);
  assert.equal(parseRetryAfter("soon", now), null);
});

Deno.test("pathTemplate() replaces numeric segments", () => {
  assert.equal(pathTemplate("/api/v2.5/tagging/host/472"), "/api/v2.5/tagging/host/{id}");
});

Deno.test("HttpEndpoint verifies TLS by default, trusts a CA file, and allows an explicit opt-out", async () => {
  const certs = await makeTestCertificates();
  try {
    await withServer(() => Response.json({ ok: true }), async (url) => {
      using strict = endpoint(url, { retries: 0 });
      await assert.rejects(
        strict.request("GET", "/x"),
        (e: unknown) => e instanceof HttpError && e.status === null,
      );
      using withCa = endpoint(url, { caFile: certs.caFile });
      assert.deepEqual((await withCa.request("GET", "/x")).json(), { ok: true });
      using optOut = endpoint(url, { verifyTls: false });
      assert.deepEqual((await optOut.request("POST", "/x", { json: { a: 1 } })).json(), {
        ok: true,
      });
    }, { cert: certs.cert, key: certs.key });
  } finally {
    await certs.cleanup();
  }
});

Deno.test("HttpEndpoint rejects credentials in the base URL", () => {
  assert.throws(
    () => new HttpEndpoint({ system: "x", baseUrl: "https://user:pw@example.com" }),
    /credentials do not belong in a URL/,
  );
});

Deno.test("HttpEndpoint resolves auth headers before taking a slot, so a token fetch cannot deadlock", async () => {
  await withServer((req) => {
    const path = new URL(req.url).pathname;
    if (path === "/api/token") return Response.json({ token: "t1" });
    return Response.json({ auth: req.headers.get("authorization") });
  }, async (url) => {
    const origin = url.replace("127.0.0.1", "localhost");
    using tokens = endpoint(origin, { maxInFlight: 1 });
    using api = endpoint(origin, {
      maxInFlight: 1,
      headers: async () => {
        const res = await tokens.request("POST", "/token");
        return { Authorization: `Bearer ${res.json<{ token: string }>().token}` };
      },
    });
    const answers = await Promise.all(
      Array.from({ length: 3 }, () => api.request("GET", "/x").then((r) => r.json())),
    );
    assert.deepEqual(answers, Array(3).fill({ auth: "Bearer t1" }));
  });
});

Deno.test("HttpEndpoint.request() follows no redirect: the other server sees nothing, the error names where it pointed", async () => {
  let elsewhere = 0;
  await using other = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, () => {
    elsewhere++;
    return new Response("ok");
  });
  const target = `http://127.0.0.1:${other.addr.port}`;
  await withServer(
    () => new Response(null, { status: 307, headers: { Location: `${target}/steal?k=1` } }),
    async (url, attempts) => {
      const api = endpoint(url, { headers: () => ({ "X-PAN-KEY": "secret-key" }) });
      try {
        await assert.rejects(
          api.request("POST", "/keygen", { body: "user=admin&password=pw" }),
          (error: unknown) =>
            error instanceof HttpError && error.status === 307 &&
            error.message.includes(`a redirect to ${target};`) && !error.message.includes("steal"),
        );
        assert.equal(attempts(), 1, "a redirect is not retried");
        assert.equal(elsewhere, 0, "the credentials never reach the other server");
      } finally {
        api.close();
      }
    },
  );
});
