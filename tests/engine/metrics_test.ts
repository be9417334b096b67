import assert from "node:assert/strict";
import { MetricsRegistry, ServiceMetrics } from "../../engine/metrics.ts";
import { action, brainReport, cycleReport } from "./_service_fixtures.ts";

Deno.test("MetricsRegistry.render() writes the Prometheus text format with escaped labels", () => {
  const registry = new MetricsRegistry();
  const requests = registry.counter("demo_requests_total", "Requests.\nSecond line \\ here.", [
    "system",
  ]);
  const temperature = registry.gauge("demo_temperature", "Temperature.");
  requests.inc({ system: 'b "quoted"\\path\nline' });
  requests.inc({ system: "a" }, 2);
  requests.inc({ system: "a" });
  temperature.set({}, -1.5);
  assert.equal(
    registry.render(),
    [
      "# HELP demo_requests_total Requests.\\nSecond line \\\\ here.",
      "# TYPE demo_requests_total counter",
      'demo_requests_total{system="a"} 3',
      'demo_requests_total{system="b \\"quoted\\"\\\\path\\nline"} 1',
      "# HELP demo_temperature Temperature.",
      "# TYPE demo_temperature gauge",
      "demo_temperature -1.5",
      "",
    ].join("\n"),
  );
});

Deno.test("MetricsRegistry refuses bad names, wrong labels and negative counter steps", () => {
  const registry = new MetricsRegistry();
  assert.throws(() => registry.counter("bad-name", "x"), {
    name: "RangeError",
    message: 'Cannot register metric "bad-name": not a valid name',
  });
  const counter = registry.counter("ok_total", "x", ["kind"]);
  assert.throws(() => registry.gauge("ok_total", "x"), {
    message: 'Cannot register metric "ok_total": already registered',
  });
  assert.throws(() => counter.inc({ client: "x" }), {
    name: "RangeError",
    message: 'Cannot update metric "ok_total": labels are "client"; expected "kind"',
  });
  assert.throws(() => counter.inc({ kind: "host" }, -1), {
    message: 'Cannot increase counter "ok_total" by "-1": must be 0 or more',
  });
});

Deno.test("ServiceMetrics.recordCycle() counts cycles, actions, blocked entities and trips", () => {
  const metrics = new ServiceMetrics();
  const startedAt = new Date(Date.UTC(2026, 10, 28, 4, 0, 0));
  metrics.recordCycle(cycleReport({
    brains: [
      brainReport({ brain: "a.example", startedAt, durationMs: 2_000 }),
      brainReport({
        brain: "b.example",
        result: "failed",
        blockedCounts: { host: 0, account: 0, detection: 0 },
        refusedCounts: { host: 0, account: 0, detection: 0 },
        limitsTripped: ["host blocks 12 > MAX_BLOCKS_PER_CYCLE 10"],
        startedAt,
        durationMs: 500,
      }),
    ],
    actions: [
      action(),
      action({ entityId: 43, entityName: "pc-43" }),
      action({ client: "pan", outcome: "failed", category: "Error", error: "HTTP 500" }),
      action({ kind: "account", operation: "unblock", client: "ad", outcome: "planned" }),
    ],
    acted: true,
  }));
  metrics.recordCycle(cycleReport({
    brains: [
      brainReport({
        brain: "a.example",
        result: "partial",
        skippedKinds: [{ kind: "host", error: "Cannot list hosts: 503" }],
        blockedCounts: { host: 0, account: 3, detection: 0 },
        refusedCounts: { host: 2, account: 0, detection: 1 },
        startedAt,
        durationMs: 4_000,
      }),
      brainReport({
        brain: "b.example",
        result: "failed",
        blockedCounts: { host: 0, account: 0, detection: 0 },
        refusedCounts: { host: 0, account: 0, detection: 0 },
        startedAt,
        durationMs: 100,
      }),
    ],
    acted: false,
  }));
  assert.equal(metrics.cycles.get({ brain: "a.example", result: "ok" }), 1);
  assert.equal(metrics.cycles.get({ brain: "a.example", result: "partial" }), 1);
  assert.equal(metrics.cycles.get({ brain: "b.example", result: "failed" }), 2);
  assert.equal(metrics.cycleDuration.get({ brain: "a.example" }), 4);
  assert.equal(metrics.cycleSeconds.get({ brain: "a.example" }), 6);
  assert.equal(
    metrics.actions.get({ kind: "host", client: "fortinet", operation: "block", outcome: "ok" }),
    2,
  );
  assert.equal(
    metrics.actions.get({ kind: "host", client: "pan", operation: "block", outcome: "failed" }),
    1,
  );
  assert.equal(
    metrics.actions.get({
      kind: "account",
      client: "ad",
      operation: "unblock",
      outcome: "planned",
    }),
    1,
  );
  assert.equal(metrics.blocked.get({ brain: "a.example", kind: "host" }), 2, "unread: kept");
  assert.equal(metrics.blocked.get({ brain: "a.example", kind: "account" }), 3);
  assert.equal(metrics.blocked.get({ brain: "a.example", kind: "detection" }), 0);
  assert.doesNotMatch(metrics.render(), /var_blocked_entities\{brain="b\.example"/);
  assert.equal(
    metrics.lastSuccess.get({ brain: "a.example" }),
    (startedAt.getTime() + 2_000) / 1000,
    "a partial cycle does not move the last success",
  );
  assert.equal(metrics.lastSuccess.get({ brain: "b.example" }), 0);
  assert.equal(metrics.limitTrips.get({ brain: "b.example" }), 1);
  assert.equal(metrics.refused.get({ brain: "a.example", kind: "host" }), 2);
  assert.equal(metrics.refused.get({ brain: "a.example", kind: "detection" }), 1);
  assert.equal(metrics.refused.get({ brain: "b.example", kind: "host" }), 0);
  assert.equal(metrics.acted.get(), 0);

  const text = metrics.render();
  assert.match(text, /^# TYPE var_cycles_total counter$/m);
  assert.match(text, /^var_cycles_total\{brain="b\.example",result="failed"\} 2$/m);
  assert.match(
    text,
    /^var_actions_total\{kind="host",client="fortinet",operation="block",outcome="ok"\} 2$/m,
  );
  assert.match(text, /^var_blocked_entities\{brain="a\.example",kind="account"\} 3$/m);
  assert.match(text, /^var_last_success_timestamp_seconds\{brain="a\.example"\} 1795838402$/m);
  assert.doesNotMatch(
    text,
    /pc-42|pc-43|10\.1\.2\.3|HTTP 500/,
    "no entity data or errors in metrics",
  );
});

Deno.test("ServiceMetrics counts API requests and errors by system as a RequestCounter", () => {
  const metrics = new ServiceMetrics();
  metrics.record("brain a.example", "GET", "/api/v2.5/hosts", 200);
  metrics.record("brain a.example", "GET", "/api/v2.5/hosts", 503);
  metrics.record("brain a.example", "GET", "/api/v2.5/hosts", 0);
  metrics.record("fortinet 10.0.0.1", "DELETE", "/api/v2/cmdb/firewall/address/{name}", 404);
  metrics.record("fortinet 10.0.0.1", "POST", "/api/v2/cmdb/firewall/address", 429);
  assert.equal(metrics.apiRequests.get({ system: "brain a.example", status: "2xx" }), 1);
  assert.equal(metrics.apiRequests.get({ system: "brain a.example", status: "5xx" }), 1);
  assert.equal(metrics.apiRequests.get({ system: "brain a.example", status: "network" }), 1);
  assert.equal(metrics.apiRequests.get({ system: "fortinet 10.0.0.1", status: "4xx" }), 2);
  assert.equal(metrics.apiErrors.get({ system: "brain a.example" }), 2);
  assert.equal(metrics.apiErrors.get({ system: "fortinet 10.0.0.1" }), 1, "a 404 is not an error");
  metrics.recordNotificationFailure("email");
  assert.match(metrics.render(), /^var_notification_failures_total\{channel="email"\} 1$/m);
});
