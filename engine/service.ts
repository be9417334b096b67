/**
 * Single runs and `--loop` (engine.md §7.3, §7.4; issue 5): runs cycles every
 * `SLEEP_MINUTES` measured start to start, never overlapping, decides the blocking window
 * for each, and stops cleanly on SIGINT/SIGTERM.
 *
 * The cycle, the clock and the sleep are passed in, so the schedule is tested with
 * controlled time; {@linkcode installShutdownSignals} is the only part that touches signals.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import type { WindowConfig } from "../config_types.ts";
import type { HealthState } from "./health.ts";
import type { ServiceMetrics } from "./metrics.ts";
import type { CycleNotifications } from "./notify.ts";
import type { CycleReport } from "./report.ts";
import { isInsideWindow } from "./window.ts";

const logger = getLogger(["var", "service"]);

/**
 * Runs one cycle. `insideWindow` false means the cycle reads, plans and reports but acts on
 * nothing (unblocks excepted when `UNBLOCK_OUTSIDE_WINDOW`). Once `signal` is aborted no new
 * action may start; the action in progress finishes and its state is written.
 */
export type CycleFunction = (
  now: Date,
  signal: AbortSignal,
  insideWindow: boolean,
) => Promise<CycleReport>;

/** Waits `ms` milliseconds, or less when `signal` is aborted (resolving, not rejecting). */
export type SleepFunction = (ms: number, signal: AbortSignal) => Promise<void>;

/** Options for {@linkcode runService}. */
export interface ServiceOptions {
  /** Runs one cycle. */
  cycle: CycleFunction;
  /** The blocking window. */
  window: WindowConfig;
  /** `SLEEP_MINUTES`: the time from one cycle's start to the next one's. */
  sleepMinutes: number;
  /**
   * Run cycles until stopped (`--loop`); false runs exactly one.
   * @default {false}
   */
  loop?: boolean;
  /** Stops the service: no new action, no new cycle. See {@linkcode installShutdownSignals}. */
  signal?: AbortSignal;
  /**
   * The clock.
   * @default {() => new Date()}
   */
  now?: () => Date;
  /**
   * Sleeps between cycles.
   * @default {abortableSleep}
   */
  sleep?: SleepFunction;
  /**
   * Receives each finished cycle's report (metrics, health, notifications). An error it
   * throws is logged and does not stop the loop.
   */
  onReport?: (report: CycleReport) => void | Promise<void>;
  /**
   * Stops the loop after this many cycles (tests, benchmarks).
   * @default {Infinity}
   */
  maxCycles?: number;
}

/** How the service ended. */
export interface ServiceResult {
  /** 0 after a clean stop of `--loop`; a single run's cycle exit code (0, 2 or 3). */
  readonly exitCode: number;
  /** Cycles started. */
  readonly cycles: number;
  /** True when the stop signal ended the service. */
  readonly stopped: boolean;
}

/** Sleeps `ms` milliseconds with a timer that is cleared when `signal` aborts. */
export function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted || ms <= 0) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
  });
}

/**
 * Runs one cycle, or with `loop` a cycle every `sleepMinutes` from start to start: a cycle
 * longer than the interval is followed at once by the next, never overlapping. Each cycle
 * is told whether its start time is inside the blocking window.
 *
 * A cycle that throws is logged; in `--loop` the next cycle runs on schedule, in a single
 * run the error is rethrown. Once `signal` is aborted the cycle in progress finishes, its
 * report is delivered, and the service ends with exit code 0 (`--loop`).
 */
export async function runService(options: ServiceOptions): Promise<ServiceResult> {
  const {
    cycle,
    window,
    sleepMinutes,
    loop = false,
    signal = new AbortController().signal,
    now = () => new Date(),
    sleep = abortableSleep,
    onReport,
    maxCycles = Infinity,
  } = options;
  const intervalMs = sleepMinutes * 60_000;
  let cycles = 0;
  let exitCode = 0;
  while (!signal.aborted && cycles < maxCycles) {
    const startedAt = now();
    const insideWindow = isInsideWindow(window, startedAt);
    if (!insideWindow) {
      logger.info("Outside the response window: this cycle plans and reports but acts on nothing");
    }
    cycles++;
    let report: CycleReport | null = null;
    try {
      report = await cycle(startedAt, signal, insideWindow);
    } catch (error) {
      if (!loop) throw error;
      logger.error("Cycle {cycle} failed: {error}", { cycle: cycles, error });
    }
    if (report !== null) {
      exitCode = report.exitCode;
      if (onReport !== undefined) {
        try {
          await onReport(report);
        } catch (error) {
          logger.error("Cannot deliver the report of cycle {cycle}: {error}", {
            cycle: cycles,
            error,
          });
        }
      }
    }
    // Delivered: the report (every action, every plan) is not held through the sleep.
    report = null;
    if (!loop) return { exitCode, cycles, stopped: signal.aborted };
    if (signal.aborted || cycles >= maxCycles) break;
    const waitMs = startedAt.getTime() + intervalMs - now().getTime();
    if (waitMs > 0) {
      await sleep(waitMs, signal);
    } else {
      logger.warn(
        "Cycle {cycle} took longer than SLEEP_MINUTES ({minutes}); starting the next now",
        {
          cycle: cycles,
          minutes: sleepMinutes,
        },
      );
    }
  }
  if (signal.aborted) logger.info("Stopped after {cycles} cycle(s)", { cycles });
  return { exitCode: 0, cycles, stopped: signal.aborted };
}

/** Where {@linkcode reportTo} sends each finished cycle. */
export interface ReportSinks {
  /** Updated from every report. */
  metrics?: ServiceMetrics;
  /** Updated from every report (`/ready`). */
  health?: HealthState;
  /** Sends the notifications, e.g. `(report) => notifyCycle(report, config, secret)`. */
  notify?: (report: CycleReport) => Promise<CycleNotifications>;
}

/**
 * Builds the `onReport` of {@linkcode runService}: updates metrics and health, then sends
 * the notifications and counts the ones that could not be delivered.
 *
 * @example
 * ```ts
 * const onReport = reportTo({
 *   metrics,
 *   health,
 *   notify: (report) => notifyCycle(report, config, secret),
 * });
 * ```
 */
export function reportTo(sinks: ReportSinks): (report: CycleReport) => Promise<void> {
  return async (report) => {
    sinks.metrics?.recordCycle(report);
    sinks.health?.recordCycle(report);
    if (sinks.notify === undefined) return;
    const delivered = await sinks.notify(report);
    if (delivered.syslog?.ok === false) sinks.metrics?.recordNotificationFailure("syslog");
    if (delivered.email?.ok === false) sinks.metrics?.recordNotificationFailure("email");
  };
}

/** Options for {@linkcode installShutdownSignals}. */
export interface ShutdownSignalOptions {
  /**
   * Called on the second signal; must end the process.
   * @default {(code) => Deno.exit(code)}
   */
  exit?: (code: number) => void;
  /**
   * The signals to handle.
   * @default {["SIGINT", "SIGTERM"]}
   */
  signals?: readonly Deno.Signal[];
}

const SIGNAL_EXIT_CODES: Partial<Record<Deno.Signal, number>> = { SIGINT: 130, SIGTERM: 143 };

/**
 * Turns SIGINT/SIGTERM into an abort of `controller`: the first signal lets the action in
 * progress finish and write its state, then the service exits 0; a second signal exits at
 * once (130 for SIGINT, 143 for SIGTERM). Returns a function that removes the listeners.
 */
export function installShutdownSignals(
  controller: AbortController,
  options: ShutdownSignalOptions = {},
): () => void {
  const { exit = (code: number) => Deno.exit(code), signals = ["SIGINT", "SIGTERM"] } = options;
  const listeners = signals.map((name) => {
    const listener = () => {
      if (controller.signal.aborted) {
        logger.warn("Received {signal} again: exiting now", { signal: name });
        exit(SIGNAL_EXIT_CODES[name] ?? 1);
        return;
      }
      logger.info(
        "Received {signal}: finishing the action in progress, then stopping; send it again to stop at once",
        { signal: name },
      );
      controller.abort(new Error(`Stopped by ${name}`));
    };
    Deno.addSignalListener(name, listener);
    return { name, listener };
  });
  return () => {
    for (const { name, listener } of listeners) Deno.removeSignalListener(name, listener);
  };
}
