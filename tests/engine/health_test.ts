import assert from "node:assert/strict";
import { createHealthApp, HealthState, serveHealth } from "../../engine/health.ts";
import { METRICS_CONTENT_TYPE, ServiceMetrics } from "../../engine/metrics.ts";
import { action, brainReport, cycleReport } from "./_service_fixtures.ts";

const T0 = new Date(Date.UTC(2026, 10, 28, 4, 0, 0));
const MINUTE = 60_000;

function later(ms: number): Date {
  return new Date(T0.getTime() + ms);
}

Deno.test("HealthState.readiness() is not ready before every brain finished a cycle", () => {
  const state = new HealthState(["a.example", "b.example"], { sleepMinutes: 5 });
  assert.deepEqual(state.readiness(T0), {
    ready: false,
    reasons: ["a.example: no cycle has finished yet", "b.example: no cycle has finished yet"],
  });
  state.recordCycle(cycleReport({ brains: [brainReport({ brain: "a.example", startedAt: T0 })] }));
  assert.deepEqual(state.readiness(later(2_000)).reasons, ["b.example: no cycle has finished yet"]);
});

Deno.test("HealthState.readiness() allows 2 x SLEEP_MINUTES plus the cycle time since the last success", () => {
  const state = new HealthState(["a.example"], { sleepMinutes: 5 });
  state.recordCycle(cycleReport({
    brains: [brainReport({ brain: "a.example", startedAt: T0, durationMs: 30_000 })],
  }));
  const end = 30_000;
  assert.deepEqual(state.readiness(later(end)), { ready: true, reasons: [] });
  assert.equal(state.readiness(later(end + 10 * MINUTE + 30_000)).ready, true);
  assert.deepEqual(state.readiness(later(end + 10 * MINUTE + 31_000)), {
    ready: false,
    reasons: [
      "a.example: last successful cycle ended at 2026-11-28T04:00:30.000Z, 631 s ago; expected within 630 s",
    ],
  });
});

Deno.test("HealthState.readiness() is not ready when a brain's last cycle failed or was partial", () => {
  const state = new HealthState(["a.example", "b.example"], { sleepMinutes: 5 });
  state.recordCycle(cycleReport({
    brains: [
      brainReport({ brain: "a.example", startedAt: T0 }),
      brainReport({
        brain: "b.example",
        result: "failed",
        startedAt: T0,
        durationMs: 1_000,
        skippedKinds: [
          { kind: "host", error: "Cannot list hosts on b.example: 500" },
          { kind: "account", error: "Cannot list accounts on b.example: 500" },
        ],
      }),
    ],
  }));
  assert.deepEqual(state.readiness(later(5_000)).reasons, [
    "b.example: last cycle ended failed at 2026-11-28T04:00:01.000Z (could not read host, account)",
  ]);
  state.recordCycle(cycleReport({
    brains: [
      brainReport({ brain: "a.example", result: "partial", startedAt: later(5 * MINUTE) }),
      brainReport({ brain: "b.example", startedAt: later(5 * MINUTE) }),
    ],
  }));
  assert.deepEqual(state.readiness(later(6 * MINUTE)).reasons, [
    "a.example: last cycle ended partial at 2026-11-28T04:05:01.500Z",
  ]);
});

Deno.test("createHealthApp() answers /health, /ready and /metrics without entity data", async () => {
  const state = new HealthState(["a.example"], { sleepMinutes: 5 });
  const metrics = new ServiceMetrics();
  let now = T0;
  const app = createHealthApp(state, metrics, { now: () => now });

  const health = await app.request("/health");
  assert.equal(health.status, 200);
  assert.equal(await health.text(), "ok\n");

  const notReady = await app.request("/ready");
  assert.equal(notReady.status, 503);
  assert.equal(await notReady.text(), "not ready\na.example: no cycle has finished yet\n");

  const report = cycleReport({
    brains: [brainReport({ brain: "a.example", startedAt: T0 })],
    actions: [action({ entityName: "ward-7-monitor", elements: ["10.9.9.9"] })],
  });
  state.recordCycle(report);
  metrics.recordCycle(report);
  now = later(MINUTE);
  const ready = await app.request("/ready");
  assert.equal(ready.status, 200);
  assert.equal(await ready.text(), "ready\n");

  const scraped = await app.request("/metrics");
  assert.equal(scraped.status, 200);
  assert.equal(scraped.headers.get("content-type"), METRICS_CONTENT_TYPE);
  const text = await scraped.text();
  assert.equal(text, metrics.render());
  assert.match(text, /^var_cycles_total\{brain="a\.example",result="ok"\} 1$/m);
  assert.doesNotMatch(text, /ward-7-monitor|10\.9\.9\.9/);

  const missing = await app.request("/config");
  assert.equal(missing.status, 404);
  await missing.body?.cancel();
  const post = await app.request("/ready", { method: "POST" });
  assert.equal(post.status, 404);
  await post.body?.cancel();
});

Deno.test("serveHealth() serves the app over a real socket", async () => {
  const state = new HealthState(["a.example"], { sleepMinutes: 5 });
  const metrics = new ServiceMetrics();
  metrics.recordCycle(cycleReport({ brains: [brainReport({ brain: "a.example" })] }));
  const server = serveHealth({ hostname: "127.0.0.1", port: 0 }, createHealthApp(state, metrics));
  try {
    const base = `http://127.0.0.1:${server.addr.port}`;
    const health = await fetch(`${base}/health`);
    assert.equal(health.status, 200);
    assert.equal(await health.text(), "ok\n");
    const ready = await fetch(`${base}/ready`);
    assert.equal(ready.status, 503);
    assert.match(await ready.text(), /^not ready\na\.example: no cycle has finished yet\n$/);
    const scraped = await fetch(`${base}/metrics`);
    assert.equal(scraped.headers.get("content-type"), METRICS_CONTENT_TYPE);
    assert.match(await scraped.text(), /^var_cycles_total\{brain="a\.example",result="ok"\} 1$/m);
  } finally {
    await server.shutdown();
  }
});
