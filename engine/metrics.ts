/**
 * Prometheus metrics of the service (issue 5): a small registry of labelled counters and
 * gauges rendered in the text exposition format, and {@linkcode ServiceMetrics}, the set
 * var exports, updated from each {@linkcode CycleReport}.
 *
 * Labels carry brain hosts, client names, kinds and outcomes only: never an entity name,
 * an address or a secret.
 *
 * @module
 */

import type { RequestCounter } from "./http_types.ts";
import { KINDS } from "./model.ts";
import type { CycleReport } from "./report.ts";

/** Label names to values. */
export type Labels = Readonly<Record<string, string>>;

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

function escapeLabelValue(value: string): string {
  return value.replaceAll("\\", "\\\\").replaceAll('"', '\\"').replaceAll("\n", "\\n");
}

function escapeHelp(text: string): string {
  return text.replaceAll("\\", "\\\\").replaceAll("\n", "\\n");
}

function formatValue(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  return String(value);
}

/** One metric family: a name, its help text, its label names and one value per label set. */
abstract class Metric {
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly string[];
  abstract readonly type: "counter" | "gauge";
  #values = new Map<string, { labels: readonly string[]; value: number }>();

  constructor(name: string, help: string, labelNames: readonly string[]) {
    if (!METRIC_NAME.test(name)) {
      throw new RangeError(`Cannot register metric "${name}": not a valid name`);
    }
    for (const label of labelNames) {
      if (!LABEL_NAME.test(label) || label.startsWith("__")) {
        throw new RangeError(
          `Cannot register metric "${name}": "${label}" is not a valid label name`,
        );
      }
    }
    this.name = name;
    this.help = help;
    this.labelNames = labelNames;
  }

  #slot(labels: Labels): { labels: readonly string[]; value: number } {
    const given = Object.keys(labels);
    const missing = this.labelNames.filter((name) => !(name in labels));
    const extra = given.filter((name) => !this.labelNames.includes(name));
    if (missing.length > 0 || extra.length > 0) {
      throw new RangeError(
        `Cannot update metric "${this.name}": labels are "${given.join(",")}"; expected "${
          this.labelNames.join(",")
        }"`,
      );
    }
    const values = this.labelNames.map((name) => labels[name] ?? "");
    const key = JSON.stringify(values);
    let slot = this.#values.get(key);
    if (slot === undefined) {
      slot = { labels: values, value: 0 };
      this.#values.set(key, slot);
    }
    return slot;
  }

  protected add(labels: Labels, delta: number): void {
    this.#slot(labels).value += delta;
  }

  protected put(labels: Labels, value: number): void {
    this.#slot(labels).value = value;
  }

  /** The current value for a label set (0 when never set). */
  get(labels: Labels = {}): number {
    const key = JSON.stringify(this.labelNames.map((name) => labels[name] ?? ""));
    return this.#values.get(key)?.value ?? 0;
  }

  /** The family in the text exposition format, label sets in a stable (sorted) order. */
  render(): string {
    const lines = [
      `# HELP ${this.name} ${escapeHelp(this.help)}`,
      `# TYPE ${this.name} ${this.type}`,
    ];
    const slots = [...this.#values.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    for (const [, slot] of slots) {
      const labels = slot.labels.map((value, i) =>
        `${this.labelNames[i]}="${escapeLabelValue(value)}"`
      );
      const suffix = labels.length > 0 ? `{${labels.join(",")}}` : "";
      lines.push(`${this.name}${suffix} ${formatValue(slot.value)}`);
    }
    return lines.join("\n") + "\n";
  }
}

/** A value that only goes up. */
export class Counter extends Metric {
  readonly type = "counter";

  /** Adds `value` (default 1, never negative) to the label set. */
  inc(labels: Labels = {}, value = 1): void {
    if (!(value >= 0)) {
      throw new RangeError(
        `Cannot increase counter "${this.name}" by "${value}": must be 0 or more`,
      );
    }
    this.add(labels, value);
  }
}

/** A value that is set. */
export class Gauge extends Metric {
  readonly type = "gauge";

  /** Sets the label set's value. */
  set(labels: Labels, value: number): void {
    this.put(labels, value);
  }
}

/** A set of metric families rendered together. */
export class MetricsRegistry {
  #metrics = new Map<string, Metric>();

  #register<M extends Metric>(metric: M): M {
    if (this.#metrics.has(metric.name)) {
      throw new RangeError(`Cannot register metric "${metric.name}": already registered`);
    }
    this.#metrics.set(metric.name, metric);
    return metric;
  }

  /** Registers a counter. */
  counter(name: string, help: string, labelNames: readonly string[] = []): Counter {
    return this.#register(new Counter(name, help, labelNames));
  }

  /** Registers a gauge. */
  gauge(name: string, help: string, labelNames: readonly string[] = []): Gauge {
    return this.#register(new Gauge(name, help, labelNames));
  }

  /** Every family in the Prometheus text exposition format (version 0.0.4). */
  render(): string {
    return [...this.#metrics.values()].map((metric) => metric.render()).join("");
  }
}

/** The content type of {@linkcode MetricsRegistry.render}'s output. */
export const METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/** Where a notification went. */
export type NotificationChannel = "syslog" | "email";

/**
 * The metrics var exports in `--loop` (issue 5). It is also a {@linkcode RequestCounter}:
 * give it to the HTTP transport to count API requests and errors by system.
 */
export class ServiceMetrics implements RequestCounter {
  /** The registry holding every family below. */
  readonly registry: MetricsRegistry = new MetricsRegistry();
  /** Cycles per brain and result. */
  readonly cycles: Counter = this.registry.counter(
    "var_cycles_total",
    "Cycles run, by brain and result (ok, partial, failed).",
    ["brain", "result"],
  );
  /** Duration of each brain's last cycle. */
  readonly cycleDuration: Gauge = this.registry.gauge(
    "var_cycle_duration_seconds",
    "Duration of the brain's most recent cycle, in seconds.",
    ["brain"],
  );
  /** Time spent in cycles, summed. */
  readonly cycleSeconds: Counter = this.registry.counter(
    "var_cycle_seconds_total",
    "Time spent in cycles, in seconds, by brain.",
    ["brain"],
  );
  /** Actions by kind, client, operation and outcome. */
  readonly actions: Counter = this.registry.counter(
    "var_actions_total",
    "Actions by entity kind, client, operation and outcome (ok, failed, planned, warning).",
    ["kind", "client", "operation", "outcome"],
  );
  /** Currently blocked entities. */
  readonly blocked: Gauge = this.registry.gauge(
    "var_blocked_entities",
    "Entities recorded as blocked, by brain and kind, as of the last cycle that could read them.",
    ["brain", "kind"],
  );
  /** API request attempts. */
  readonly apiRequests: Counter = this.registry.counter(
    "var_api_requests_total",
    "API request attempts by system and status class (2xx, 3xx, 4xx, 5xx, network).",
    ["system", "status"],
  );
  /** API request attempts that failed. */
  readonly apiErrors: Counter = this.registry.counter(
    "var_api_errors_total",
    "API request attempts that got no answer, a 5xx, 429, 401 or 403, by system.",
    ["system"],
  );
  /** Last successful cycle per brain. */
  readonly lastSuccess: Gauge = this.registry.gauge(
    "var_last_success_timestamp_seconds",
    "Unix time at which the brain's most recent successful cycle ended.",
    ["brain"],
  );
  /** Blast-radius trips. */
  readonly limitTrips: Counter = this.registry.counter(
    "var_blast_radius_trips_total",
    "Blast-radius limits that stopped actions, by brain.",
    ["brain"],
  );
  /** Entities refused because their own data is unsafe to block. */
  readonly refused: Counter = this.registry.counter(
    "var_refused_entities_total",
    "Entities that matched the policy but were not blocked because their own data is unsafe " +
      "(a host address that is not one single host address), by brain and kind, per cycle.",
    ["brain", "kind"],
  );
  /** Whether the last cycle acted. */
  readonly acted: Gauge = this.registry.gauge(
    "var_last_cycle_acted",
    "1 when the most recent cycle was allowed to act (inside the window, not a dry run), else 0.",
  );
  /** Notifications that could not be delivered. */
  readonly notificationFailures: Counter = this.registry.counter(
    "var_notification_failures_total",
    "Notifications (syslog batches, emails) that could not be delivered, by channel.",
    ["channel"],
  );

  /** Updates every cycle-derived metric from a finished cycle. */
  recordCycle(report: CycleReport): void {
    for (const brain of report.brains) {
      const labels = { brain: brain.brain };
      this.cycles.inc({ brain: brain.brain, result: brain.result });
      this.cycleDuration.set(labels, brain.durationMs / 1000);
      this.cycleSeconds.inc(labels, brain.durationMs / 1000);
      // A kind that could not be read keeps its last known count.
      const unread = new Set(brain.skippedKinds.map((skipped) => skipped.kind));
      for (const kind of KINDS) {
        if (brain.result === "failed" || unread.has(kind)) continue;
        this.blocked.set({ brain: brain.brain, kind }, brain.blockedCounts[kind]);
      }
      if (brain.result === "ok") {
        this.lastSuccess.set(labels, (brain.startedAt.getTime() + brain.durationMs) / 1000);
      }
      this.limitTrips.inc(labels, brain.limitsTripped.length);
      for (const kind of KINDS) {
        const refused = brain.refusedCounts[kind];
        if (refused > 0) this.refused.inc({ brain: brain.brain, kind }, refused);
      }
    }
    for (const action of report.actions) {
      this.actions.inc({
        kind: action.kind,
        client: action.client,
        operation: action.operation,
        outcome: action.outcome,
      });
    }
    this.acted.set({}, report.acted ? 1 : 0);
  }

  /** Counts one API request attempt (the transport's {@linkcode RequestCounter} hook). */
  record(system: string, _method: string, _pathTemplate: string, status: number): void {
    const statusClass = status === 0 ? "network" : `${Math.floor(status / 100)}xx`;
    this.apiRequests.inc({ system, status: statusClass });
    if (status === 0 || status >= 500 || status === 429 || status === 401 || status === 403) {
      this.apiErrors.inc({ system });
    }
  }

  /** Counts a notification that could not be delivered. */
  recordNotificationFailure(channel: NotificationChannel): void {
    this.notificationFailures.inc({ channel });
  }

  /** The metrics in the Prometheus text exposition format. */
  render(): string {
    return this.registry.render();
  }
}
