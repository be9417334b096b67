/**
 * The health endpoint of `--loop` (issue 5): `/health` (the process is alive), `/ready`
 * (every brain's last cycle succeeded recently) and `/metrics` (Prometheus text format).
 * It exposes no secret and no entity data beyond counts.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import { Hono } from "hono";
import { METRICS_CONTENT_TYPE } from "./metrics.ts";
import type { CycleReport } from "./report.ts";

const logger = getLogger(["var", "health"]);

/** What the health state remembers of one brain. */
interface BrainHealth {
  result: "ok" | "partial" | "failed";
  /** End of the most recent cycle. */
  lastEnd: Date;
  /** Duration of the most recent cycle, in milliseconds. */
  lastDurationMs: number;
  /** End of the most recent successful cycle, or null. */
  lastSuccessEnd: Date | null;
  /** Kinds skipped in the most recent cycle. */
  skippedKinds: string[];
}

/** Whether the service is ready, and why not. */
export interface Readiness {
  readonly ready: boolean;
  /** One line per brain that is not ready (brain host, what is wrong). */
  readonly reasons: readonly string[];
}

/** Options for {@linkcode HealthState}. */
export interface HealthStateOptions {
  /** `SLEEP_MINUTES`: a brain is stale after 2 × this plus its last cycle time. */
  sleepMinutes: number;
}

/**
 * The readiness of every configured brain, updated from each cycle report.
 *
 * A brain is ready when its most recent cycle ended `ok` and at most
 * 2 × `SLEEP_MINUTES` + (its last cycle's duration) ago.
 */
export class HealthState {
  #brains: readonly string[];
  #sleepMs: number;
  #health = new Map<string, BrainHealth>();

  /** Tracks `brains` (hosts, as the cycle reports name them). */
  constructor(brains: readonly string[], options: HealthStateOptions) {
    this.#brains = brains;
    this.#sleepMs = options.sleepMinutes * 60_000;
  }

  /** Takes in the outcome of a finished cycle. */
  recordCycle(report: CycleReport): void {
    for (const brain of report.brains) {
      const end = new Date(brain.startedAt.getTime() + brain.durationMs);
      const previous = this.#health.get(brain.brain);
      this.#health.set(brain.brain, {
        result: brain.result,
        lastEnd: end,
        lastDurationMs: brain.durationMs,
        lastSuccessEnd: brain.result === "ok" ? end : previous?.lastSuccessEnd ?? null,
        skippedKinds: brain.skippedKinds.map((skipped) => skipped.kind),
      });
    }
  }

  /** Whether every brain is ready at `now`, with the reasons when not. */
  readiness(now: Date): Readiness {
    const reasons: string[] = [];
    for (const brain of this.#brains) {
      const health = this.#health.get(brain);
      if (health === undefined) {
        reasons.push(`${brain}: no cycle has finished yet`);
        continue;
      }
      if (health.result !== "ok") {
        const skipped = health.skippedKinds.length > 0
          ? ` (could not read ${health.skippedKinds.join(", ")})`
          : "";
        reasons.push(
          `${brain}: last cycle ended ${health.result} at ${health.lastEnd.toISOString()}${skipped}`,
        );
        continue;
      }
      const allowedMs = 2 * this.#sleepMs + health.lastDurationMs;
      const ageMs = now.getTime() - health.lastEnd.getTime();
      if (ageMs > allowedMs) {
        reasons.push(
          `${brain}: last successful cycle ended at ${health.lastEnd.toISOString()}, ${
            Math.round(ageMs / 1000)
          } s ago; expected within ${Math.round(allowedMs / 1000)} s`,
        );
      }
    }
    return { ready: reasons.length === 0, reasons };
  }
}

/** Options for {@linkcode createHealthApp}. */
export interface HealthAppOptions {
  /** The clock. @default {() => new Date()} */
  now?: () => Date;
}

/** Creates the Hono app serving `/health`, `/ready` and `/metrics`. */
export function createHealthApp(
  state: HealthState,
  metrics: { render(): string },
  options: HealthAppOptions = {},
): Hono {
  const { now = () => new Date() } = options;
  const app = new Hono();
  app.get("/health", (c) => c.text("ok\n"));
  app.get("/ready", (c) => {
    const readiness = state.readiness(now());
    if (readiness.ready) return c.text("ready\n");
    return c.text(`not ready\n${readiness.reasons.join("\n")}\n`, 503);
  });
  app.get("/metrics", (c) => {
    c.header("Content-Type", METRICS_CONTENT_TYPE);
    return c.body(metrics.render());
  });
  app.notFound((c) => c.text("not found; try /health, /ready or /metrics\n", 404));
  return app;
}

/** Where the health endpoint listens (`HEALTH_LISTEN`). */
export interface HealthListen {
  readonly hostname: string;
  readonly port: number;
}

/**
 * Serves `app` on `listen` and logs `Health endpoint listening on http://host:port` with the
 * actual port (port 0 picks a free one). Shut it down with `server.shutdown()`.
 */
export function serveHealth(listen: HealthListen, app: Hono): Deno.HttpServer<Deno.NetAddr> {
  return Deno.serve({
    hostname: listen.hostname,
    port: listen.port,
    onListen(addr) {
      const host = addr.hostname.includes(":") ? `[${addr.hostname}]` : addr.hostname;
      const url = `http://${host}:${addr.port}`;
      logger.info("Health endpoint listening on {url}", { url });
    },
  }, app.fetch);
}
