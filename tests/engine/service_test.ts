import assert from "node:assert/strict";
import type { WindowConfig } from "../../config_types.ts";
import type { CycleReport } from "../../engine/report.ts";
import {
  abortableSleep,
  type CycleFunction,
  installShutdownSignals,
  reportTo,
  runService,
} from "../../engine/service.ts";
import { HealthState } from "../../engine/health.ts";
import { ServiceMetrics } from "../../engine/metrics.ts";
import { cycleReport } from "./_service_fixtures.ts";
import { BINARY_V8_ARG } from "../../scripts/binary_flags.ts";

const MINUTE = 60_000;
const ALWAYS: WindowConfig = {
  days: new Set([0, 1, 2, 3, 4, 5, 6]),
  startHour: 0,
  endHour: 0,
  unblockOutside: false,
};

/** A controlled clock: `sleep` advances it instead of waiting; cycles advance it by their duration. */
function fakeTime(start: Date) {
  let t = start.getTime();
  const sleeps: number[] = [];
  return {
    now: () => new Date(t),
    advance(ms: number) {
      t += ms;
    },
    sleeps,
    sleep(ms: number, _signal: AbortSignal): Promise<void> {
      sleeps.push(ms);
      t += ms;
      return Promise.resolve();
    },
  };
}

interface CycleCall {
  readonly start: Date;
  readonly insideWindow: boolean;
}

/** A cycle that takes `durations[i]` ms of fake time and refuses to overlap. */
function scriptedCycle(
  time: ReturnType<typeof fakeTime>,
  durations: readonly number[],
  calls: CycleCall[],
): CycleFunction {
  let running = false;
  return async (now, _signal, insideWindow) => {
    assert.equal(running, false, "a cycle started while another was running");
    running = true;
    calls.push({ start: now, insideWindow });
    await Promise.resolve();
    time.advance(durations[calls.length - 1] ?? 0);
    running = false;
    return cycleReport({ startedAt: now });
  };
}

Deno.test("runService() runs one cycle without --loop and returns its exit code", async () => {
  const time = fakeTime(new Date(2026, 10, 23, 10, 0));
  const calls: CycleCall[] = [];
  const reports: CycleReport[] = [];
  const result = await runService({
    cycle: async (now, _signal, insideWindow) => {
      calls.push({ start: now, insideWindow });
      await Promise.resolve();
      return cycleReport({ exitCode: 2 });
    },
    window: ALWAYS,
    sleepMinutes: 5,
    now: time.now,
    sleep: time.sleep,
    onReport: (report) => {
      reports.push(report);
    },
  });
  assert.deepEqual(result, { exitCode: 2, cycles: 1, stopped: false });
  assert.equal(calls.length, 1);
  assert.equal(calls[0]?.insideWindow, true);
  assert.equal(reports.length, 1);
  assert.deepEqual(time.sleeps, []);
});

Deno.test("runService() spaces cycles SLEEP_MINUTES apart from start to start", async () => {
  const start = new Date(2026, 10, 23, 10, 0);
  const time = fakeTime(start);
  const calls: CycleCall[] = [];
  const result = await runService({
    cycle: scriptedCycle(time, [2 * MINUTE, 30_000, 4 * MINUTE + 59_000, 0], calls),
    window: ALWAYS,
    sleepMinutes: 5,
    loop: true,
    now: time.now,
    sleep: time.sleep,
    maxCycles: 4,
  });
  assert.deepEqual(result, { exitCode: 0, cycles: 4, stopped: false });
  assert.deepEqual(
    calls.map((call) => (call.start.getTime() - start.getTime()) / 1000),
    [0, 300, 600, 900],
  );
  assert.deepEqual(time.sleeps, [3 * MINUTE, 4 * MINUTE + 30_000, 1_000]);
});

Deno.test("runService() starts the next cycle at once after a long one, never overlapping", async () => {
  const start = new Date(2026, 10, 23, 10, 0);
  const time = fakeTime(start);
  const calls: CycleCall[] = [];
  await runService({
    cycle: scriptedCycle(time, [7 * MINUTE, 5 * MINUTE, MINUTE, 0], calls),
    window: ALWAYS,
    sleepMinutes: 5,
    loop: true,
    now: time.now,
    sleep: time.sleep,
    maxCycles: 4,
  });
  assert.deepEqual(
    calls.map((call) => (call.start.getTime() - start.getTime()) / MINUTE),
    [0, 7, 12, 17],
  );
  assert.deepEqual(time.sleeps, [4 * MINUTE]);
});

Deno.test("runService() still runs cycles outside the window, telling them not to act", async () => {
  const weekdays8to17: WindowConfig = {
    days: new Set([1, 2, 3, 4, 5]),
    startHour: 8,
    endHour: 17,
    unblockOutside: false,
  };
  // Friday 27 November 2026, 16:50 local time.
  const time = fakeTime(new Date(2026, 10, 27, 16, 50));
  const calls: CycleCall[] = [];
  await runService({
    cycle: scriptedCycle(time, [MINUTE, MINUTE, MINUTE, MINUTE], calls),
    window: weekdays8to17,
    sleepMinutes: 5,
    loop: true,
    now: time.now,
    sleep: time.sleep,
    maxCycles: 4,
  });
  assert.deepEqual(
    calls.map((call) => [call.start.getHours(), call.start.getMinutes(), call.insideWindow]),
    [[16, 50, true], [16, 55, true], [17, 0, false], [17, 5, false]],
  );
});

Deno.test("runService() decides the window for a single run too (cron)", async () => {
  // Sunday 29 November 2026, 12:00 local time; the window allows weekdays only.
  const time = fakeTime(new Date(2026, 10, 29, 12, 0));
  const calls: CycleCall[] = [];
  await runService({
    cycle: scriptedCycle(time, [0], calls),
    window: { days: new Set([1, 2, 3, 4, 5]), startHour: 0, endHour: 0, unblockOutside: false },
    sleepMinutes: 5,
    now: time.now,
    sleep: time.sleep,
  });
  assert.deepEqual(calls.map((call) => call.insideWindow), [false]);
});

Deno.test("runService() lets the action in progress finish on abort, reports, and stops with 0", async () => {
  const time = fakeTime(new Date(2026, 10, 23, 10, 0));
  const controller = new AbortController();
  const log: string[] = [];
  const reports: CycleReport[] = [];
  let cycles = 0;
  // A cycle that acts like the executor: it checks the signal before each action and
  // always completes (and records) an action it started.
  const cycle: CycleFunction = async (now, signal) => {
    cycles++;
    const actions = ["block 1", "block 2", "block 3", "block 4"];
    let done = 0;
    for (const name of actions) {
      if (signal.aborted) break;
      log.push(`start ${name}`);
      if (name === "block 2") controller.abort(new Error("Stopped by SIGTERM"));
      await new Promise((resolve) => setTimeout(resolve, 1));
      log.push(`state written ${name}`);
      done++;
      time.advance(10_000);
    }
    return cycleReport({ startedAt: now, durationMs: done * 10_000 });
  };
  const result = await runService({
    cycle,
    window: ALWAYS,
    sleepMinutes: 5,
    loop: true,
    signal: controller.signal,
    now: time.now,
    sleep: time.sleep,
    onReport: (report) => {
      reports.push(report);
    },
    maxCycles: 10,
  });
  assert.deepEqual(result, { exitCode: 0, cycles: 1, stopped: true });
  assert.equal(cycles, 1);
  assert.deepEqual(log, [
    "start block 1",
    "state written block 1",
    "start block 2",
    "state written block 2",
  ]);
  assert.equal(reports.length, 1, "the interrupted cycle's report is still delivered");
  assert.equal(reports[0]?.durationMs, 20_000);
  assert.deepEqual(time.sleeps, []);
});

Deno.test("runService() wakes from its sleep at once when stopped", async () => {
  const controller = new AbortController();
  let cycles = 0;
  const started = performance.now();
  const timer = setTimeout(() => controller.abort(), 20);
  try {
    const result = await runService({
      cycle: (now) => {
        cycles++;
        return Promise.resolve(cycleReport({ startedAt: now }));
      },
      window: ALWAYS,
      sleepMinutes: 60,
      loop: true,
      signal: controller.signal,
      maxCycles: 3,
    });
    assert.deepEqual(result, { exitCode: 0, cycles: 1, stopped: true });
  } finally {
    clearTimeout(timer);
  }
  assert.equal(cycles, 1);
  assert.ok(performance.now() - started < 2_000, "the 60-minute sleep was not cut short");
});

Deno.test("runService() keeps looping after a cycle throws, and rethrows in a single run", async () => {
  const time = fakeTime(new Date(2026, 10, 23, 10, 0));
  let calls = 0;
  const flaky: CycleFunction = (now) => {
    calls++;
    if (calls === 1) return Promise.reject(new Error("Cannot reach brain-a.example"));
    return Promise.resolve(cycleReport({ startedAt: now }));
  };
  const reports: CycleReport[] = [];
  const result = await runService({
    cycle: flaky,
    window: ALWAYS,
    sleepMinutes: 5,
    loop: true,
    now: time.now,
    sleep: time.sleep,
    onReport: (report) => {
      reports.push(report);
    },
    maxCycles: 3,
  });
  assert.equal(result.cycles, 3);
  assert.equal(reports.length, 2);
  assert.deepEqual(time.sleeps, [5 * MINUTE, 5 * MINUTE]);

  await assert.rejects(
    runService({
      cycle: () => Promise.reject(new TypeError("Cannot plan: bug")),
      window: ALWAYS,
      sleepMinutes: 5,
      now: time.now,
      sleep: time.sleep,
    }),
    { name: "TypeError", message: "Cannot plan: bug" },
  );
});

Deno.test("runService() keeps looping when delivering a report fails", async () => {
  const time = fakeTime(new Date(2026, 10, 23, 10, 0));
  const calls: CycleCall[] = [];
  let deliveries = 0;
  const result = await runService({
    cycle: scriptedCycle(time, [0, 0, 0], calls),
    window: ALWAYS,
    sleepMinutes: 1,
    loop: true,
    now: time.now,
    sleep: time.sleep,
    onReport: () => {
      deliveries++;
      throw new Error("Cannot send syslog");
    },
    maxCycles: 3,
  });
  assert.equal(result.cycles, 3);
  assert.equal(deliveries, 3);
});

Deno.test("abortableSleep() waits the time given, and clears its timer when aborted", async () => {
  const started = performance.now();
  await abortableSleep(30, new AbortController().signal);
  assert.ok(performance.now() - started >= 25);

  const controller = new AbortController();
  const sleeping = abortableSleep(60 * MINUTE, controller.signal);
  controller.abort();
  await sleeping;
  await abortableSleep(60 * MINUTE, controller.signal);
});

Deno.test("installShutdownSignals() aborts on the first SIGTERM and exits 143 on the second", async () => {
  const controller = new AbortController();
  const exits: number[] = [];
  const remove = installShutdownSignals(controller, { exit: (code) => exits.push(code) });
  try {
    Deno.kill(Deno.pid, "SIGTERM");
    for (let i = 0; i < 100 && !controller.signal.aborted; i++) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    assert.equal(controller.signal.aborted, true);
    assert.deepEqual(exits, []);
    Deno.kill(Deno.pid, "SIGTERM");
    for (let i = 0; i < 100 && exits.length === 0; i++) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    assert.deepEqual(exits, [143]);
  } finally {
    remove();
  }
});

/** Starts the sandboxed service and returns a reader that waits for a line. */
function startSandbox(actionMs: number) {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-P",
      "--no-prompt",
      BINARY_V8_ARG,
      "--config",
      new URL("../../deno.json", import.meta.url).pathname,
      new URL("./_service_sandbox.ts", import.meta.url).pathname,
      String(actionMs),
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let stdout = "";
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  const pump = (async () => {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      stdout += value;
    }
  })();
  const stderr = new Response(child.stderr).text();
  return {
    child,
    output: () => stdout,
    async waitForLine(line: string): Promise<void> {
      const deadline = Date.now() + 15_000;
      while (!stdout.split("\n").includes(line) && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      assert.ok(stdout.split("\n").includes(line), `no line "${line}" in:\n${stdout}`);
    },
    /** Kills the child if it still runs and waits for it (for `finally`). */
    async stop(): Promise<void> {
      try {
        child.kill("SIGKILL");
      } catch {
        // already exited
      }
      await child.status;
      await pump;
      await stderr;
    },
    async finish(): Promise<{ code: number; stdout: string; stderr: string }> {
      const status = await child.status;
      await pump;
      return { code: status.code, stdout, stderr: await stderr };
    },
  };
}

Deno.test("a service under deno run -P finishes the action in progress on SIGTERM and exits 0", async () => {
  const sandbox = startSandbox(400);
  try {
    await sandbox.waitForLine("start 2");
    sandbox.child.kill("SIGTERM");
    const { code, stdout, stderr } = await sandbox.finish();
    assert.equal(code, 0, stderr);
    assert.equal(
      stdout,
      "start 1\nstate written 1\nstart 2\nstate written 2\nstopped after 1 cycle(s)\n",
    );
  } finally {
    await sandbox.stop();
  }
});

Deno.test("a service under deno run -P exits at once on a second signal", async () => {
  const sandbox = startSandbox(10_000);
  try {
    await sandbox.waitForLine("start 1");
    const started = performance.now();
    sandbox.child.kill("SIGINT");
    await new Promise((resolve) => setTimeout(resolve, 100));
    sandbox.child.kill("SIGINT");
    const { code, stdout, stderr } = await sandbox.finish();
    assert.equal(code, 130, stderr);
    assert.equal(stdout, "start 1\n");
    assert.ok(performance.now() - started < 5_000, "it waited for the action");
  } finally {
    await sandbox.stop();
  }
});

Deno.test("reportTo() updates metrics and health and counts undelivered notifications", async () => {
  const metrics = new ServiceMetrics();
  const health = new HealthState(["brain-a.example"], { sleepMinutes: 5 });
  const notified: CycleReport[] = [];
  const onReport = reportTo({
    metrics,
    health,
    notify: (report) => {
      notified.push(report);
      return Promise.resolve({
        syslog: { ok: false, error: "Cannot send syslog to UDP x:514: refused" },
        email: { ok: true, sent: 1 },
      });
    },
  });
  const report = cycleReport();
  await onReport(report);
  assert.deepEqual(notified, [report]);
  assert.equal(metrics.cycles.get({ brain: "brain-a.example", result: "ok" }), 1);
  assert.equal(metrics.notificationFailures.get({ channel: "syslog" }), 1);
  assert.equal(metrics.notificationFailures.get({ channel: "email" }), 0);
  assert.equal(health.readiness(report.startedAt).ready, true);
});
