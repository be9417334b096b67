/**
 * One cycle (architecture.md, "One cycle, per brain"): per brain, concurrently, read →
 * decide → guard → act; the static list once; then the summary and the exit code. Also
 * the plan printers used by `var plan`, `var run` and the demo.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import pLimit from "p-limit";
import type { ResponseClient } from "./client.ts";
import type { BrainConfig, Config } from "../config_types.ts";
import { act } from "./act.ts";
import { KINDS } from "./model.ts";
import type { Kind } from "./model.ts";
import { type KindPlan, type Plan, plan, type PlanEntry, type PlanOptions } from "./plan.ts";
import type { ActionRecord, BrainReport, Category, CycleReport } from "./report.ts";
import { select } from "./select.ts";
import type { Snapshot } from "./snapshot.ts";
import { repairDrift } from "./drift.ts";
import { reconcileStaticIps } from "./static_ips.ts";
import { isoSeconds } from "./state_tags.ts";
import type { VectraApi } from "./vectra/api.ts";
import { errorText } from "./error_text.ts";

/** A configured brain with its API client. */
export interface BrainRuntime {
  readonly brain: BrainConfig;
  readonly api: VectraApi;
}

/** Options for {@linkcode runCycle}. */
export interface CycleOptions {
  /** Decide and report only (`--dry-run`, `--alert`). */
  readonly dryRun: boolean;
  /** Groom blocked hosts (`--groom`). */
  readonly groom: boolean;
  /** The cycle's start time. */
  readonly now: Date;
  /** True when the blocking window allows actions now. */
  readonly insideWindow: boolean;
  /** Carry out blocks and unblocks beyond the blast-radius limits. */
  readonly confirmBlastRadius: boolean;
  /** Once aborted, no new action starts. */
  readonly signal?: AbortSignal;
  /**
   * Entities acted on at once per brain, and API calls at once per brain.
   * @default {8}
   */
  readonly concurrency?: number;
  /**
   * Brains handled at once.
   * @default {4}
   */
  readonly brainConcurrency?: number;
  /**
   * The clock for notes and durations.
   * @default {() => new Date()}
   */
  readonly clock?: () => Date;
  /**
   * Compare what each client enforces with the recorded state and repair drift.
   * @default {config.verifyEveryCycles > 0}
   */
  readonly verifyDrift?: boolean;
}

/** One brain's read step, or why it failed. */
type Selected =
  | { readonly ok: true; readonly snapshot: Snapshot; readonly startedAt: Date }
  | { readonly ok: false; readonly error: unknown; readonly startedAt: Date };

/**
 * The plan of brain `index`'s read, or its read error thrown. The read leaves `selected`
 * here, and no caller's frame ever holds it: once planned, the plan holds what it needs of
 * the snapshot and the rest can go while the brain is acted on.
 */
function planSelected(
  selected: (Selected | null)[],
  index: number,
  config: Config,
  options: PlanOptions,
): Plan {
  const read = selected[index] as Selected;
  selected[index] = null;
  if (!read.ok) throw read.error;
  return plan(read.snapshot, config, options);
}

/** A snapshot for a brain that could not be read: every kind failed. */
function unreadSnapshot(brain: string, error: unknown): Snapshot {
  const text = errorText(error);
  return {
    brain,
    version: "2.5",
    host: { status: "failed", kind: "host", error: text },
    account: { status: "failed", kind: "account", error: text },
    detection: { status: "failed", kind: "detection", error: text },
    warnings: [],
  };
}

/** A cycle's report with the plans it carried out. */
export interface CycleResult extends CycleReport {
  /** One plan per brain that could be read, in brain order. */
  readonly plans: readonly Plan[];
}

const logger = getLogger(["var", "cycle"]);

/**
 * Runs one cycle over every brain and the static list, and returns what happened. Never
 * throws for a Vectra, client or file error: those are reported, and set the exit code
 * (0 fine, 2 an action failed or a limit tripped, 3 a brain or kind could not be read).
 *
 * @example
 * ```ts
 * const report = await runCycle(config, brains, clients, {
 *   dryRun: false, groom: false, now: new Date(), insideWindow: true, confirmBlastRadius: false,
 * });
 * Deno.exitCode = report.exitCode;
 * ```
 */
export async function runCycle(
  config: Config,
  brains: readonly BrainRuntime[],
  clients: readonly ResponseClient[],
  options: CycleOptions,
): Promise<CycleResult> {
  try {
    return await cycle(config, brains, clients, options);
  } finally {
    await endCycle(clients);
  }
}

/** Closes what each client opened during the cycle (a management session); never throws. */
async function endCycle(clients: readonly ResponseClient[]): Promise<void> {
  await Promise.all(clients.map(async (client) => {
    try {
      await client.endCycle?.();
    } catch (error) {
      logger.warn("Cannot end the cycle on client {client}: {error}", {
        client: client.name,
        error: errorText(error),
      });
    }
  }));
}

async function cycle(
  config: Config,
  brains: readonly BrainRuntime[],
  clients: readonly ResponseClient[],
  options: CycleOptions,
): Promise<CycleResult> {
  const { concurrency = 8, brainConcurrency = 4, clock = () => new Date(), now } = options;
  const started = clock();
  const acted = !options.dryRun && options.insideWindow;
  const unblocksAllowed = !options.dryRun &&
    (options.insideWindow || config.window.unblockOutside);
  const refusal = options.dryRun ? "dry run" : "outside the response window";
  const limit = pLimit(Math.max(1, brainConcurrency));
  const actions: ActionRecord[] = [];
  const messages: { category: Category; text: string }[] = [];
  const plans: (Plan | null)[] = [];
  let readFailed = false;

  const selected: (Selected | null)[] = await Promise.all(
    brains.map((runtime) =>
      limit(async (): Promise<Selected> => {
        const startedAt = clock();
        try {
          const snapshot = await select(runtime.api, config, {
            clientTags: clients.map((c) => c.tagName),
            concurrency,
          });
          const readings = runtime.api.takeListReadingReport?.();
          if (readings) {
            logger.info("Brain {brain} reads a comma in a list filter as follows. {readings}", {
              brain: runtime.api.brain,
              readings,
            });
          }
          return { ok: true, snapshot, startedAt };
        } catch (error) {
          return { ok: false, error, startedAt };
        }
      })
    ),
  );

  if (options.verifyDrift ?? config.verifyEveryCycles > 0) {
    const snapshots = selected.map((s, index) =>
      s?.ok ? s.snapshot : unreadSnapshot(brains[index]?.api.brain ?? "?", s?.error)
    );
    actions.push(
      ...await repairDrift(clients, snapshots, {
        refusal: acted ? null : refusal,
        apis: brains.map((b) => b.api),
        concurrency,
      }),
    );
  }

  const reports = await Promise.all(
    brains.map((runtime, index) =>
      limit(async (): Promise<BrainReport> => {
        const brainStarted = (selected[index] as Selected).startedAt;
        const host = runtime.api.brain;
        try {
          const planned = planSelected(selected, index, config, {
            clients,
            groom: options.groom,
            confirmBlastRadius: options.confirmBlastRadius,
            now,
          });
          const p = runtime.api.remembersUids
            ? await recheckNoBlockAccounts(planned, runtime.api, config)
            : planned;
          plans[index] = p;
          const report = await act(p, runtime.api, clients, {
            concurrency,
            clock,
            ...(options.signal ? { signal: options.signal } : {}),
            guard: (entry) => {
              if (entry.operation === "unblock") return unblocksAllowed ? null : refusal;
              return acted ? null : refusal;
            },
            blockTimes: new Set(KINDS.filter((k) => config.blockExpireHours[k] !== null)),
            markRefusal: acted ? null : refusal,
          });
          actions.push(...report.records);
          messages.push(...p.messages, ...report.messages);
          for (const m of p.messages) logMessage(host, m);
          const skippedKinds = KINDS.flatMap((kind) => {
            const k = p[kind];
            return k.status === "failed" ? [{ kind, error: k.error ?? "unknown error" }] : [];
          });
          for (const s of skippedKinds) {
            messages.push({ category: "Error", text: s.error });
            logMessage(host, { category: "Error", text: s.error });
          }
          const enabled = KINDS.filter((k) => p[k].status !== "off");
          if (skippedKinds.length > 0) readFailed = true;
          const anyFailed = report.records.some((r) => r.outcome === "failed");
          const limitsTripped = KINDS.flatMap((k) => p[k].limitsTripped);
          const result: BrainReport["result"] = enabled.length > 0 &&
              skippedKinds.length === enabled.length
            ? "failed"
            : skippedKinds.length > 0 || anyFailed
            ? "partial"
            : "ok";
          return {
            brain: host,
            result,
            skippedKinds,
            blockedCounts: blockedCounts(p, report.records),
            refusedCounts: refusedCounts(p),
            limitsTripped,
            startedAt: brainStarted,
            durationMs: clock().getTime() - brainStarted.getTime(),
          };
        } catch (error) {
          readFailed = true;
          plans[index] = null;
          const text = `Cannot run the cycle for brain ${host}: ${errorText(error)}`;
          messages.push({ category: "Error", text });
          logger.error("{message}", { message: text });
          return {
            brain: host,
            result: "failed",
            skippedKinds: KINDS.map((kind) => ({ kind, error: text })),
            blockedCounts: { host: 0, account: 0, detection: 0 },
            refusedCounts: { host: 0, account: 0, detection: 0 },
            limitsTripped: [],
            startedAt: brainStarted,
            durationMs: clock().getTime() - brainStarted.getTime(),
          };
        }
      })
    ),
  );

  let staticFailed = false;
  if (config.blockTypes.has("static")) {
    const result = await reconcileStaticIps(config.staticIpsFile, clients, {
      neverBlock: config.neverBlock,
      dryRun: !acted,
      dryRunReason: refusal,
    });
    actions.push(...result.records);
    messages.push(...result.messages);
    staticFailed = result.failed;
  }

  const uniqueMessages = dedupe(messages);
  const actionFailed = actions.some((a) => a.outcome === "failed");
  const limitTripped = reports.some((r) => r.limitsTripped.length > 0);
  const exitCode = readFailed ? 3 : actionFailed || limitTripped || staticFailed ? 2 : 0;
  const durationMs = clock().getTime() - started.getTime();
  const counts = countOutcomes(actions);
  logger.info(
    "Cycle finished: {ok} done, {failed} failed, {planned} planned, {warning} warnings; " +
      "exit code {exitCode}{mode}",
    {
      ...counts,
      exitCode,
      mode: acted ? "" : ` (${refusal}: nothing changed)`,
      brains: reports.map((r) => `${r.brain}: ${r.result}`),
      durationMs,
    },
  );
  if (actions.length === 0 && acted) logger.info("No actions taken.");
  return {
    brains: reports,
    actions,
    messages: uniqueMessages,
    acted,
    exitCode,
    startedAt: now,
    durationMs,
    plans: plans.filter((p): p is Plan => p !== null && p !== undefined),
  };
}

/**
 * Before any account is blocked by a client that remembers account-group uids across
 * cycles, the no-block account group is read again and every member looked up afresh
 * (a uid may have come to name another account since it was remembered); the block of a
 * member is dropped. When that read fails, no account is blocked this cycle.
 */
export async function recheckNoBlockAccounts(
  p: Plan,
  api: VectraApi,
  config: Pick<Config, "account">,
): Promise<Plan> {
  const group = config.account.noBlockGroup;
  const isBlock = (e: PlanEntry) => e.operation === "block";
  if (group === null || group === "" || !p.account.entries.some(isBlock)) return p;
  let protectedIds: ReadonlySet<number> | null = null;
  let failure = "";
  try {
    const groups = await api.groupsByName(group, "account");
    if (groups.length === 0) failure = `the group "${group}" does not exist`;
    const uids = [...new Set(groups.flatMap((g) => g.accountUids))];
    const members = uids.length === 0 ? [] : await api.accountsByUids(uids, { fresh: true });
    if (failure === "") protectedIds = new Set(members.map((a) => a.id));
  } catch (error) {
    failure = errorText(error);
  }
  const drop = (e: PlanEntry) =>
    isBlock(e) && (protectedIds === null || protectedIds.has(e.entity.id));
  const dropped = p.account.entries.filter(drop);
  if (dropped.length === 0) return p;
  const reason = protectedIds === null
    ? `no-block group ${group} could not be looked up again before blocking: ${failure}`
    : `member of no-block group ${group} (looked up again before blocking)`;
  const text = protectedIds === null
    ? `Blocking no account on brain ${api.brain} this cycle: the ${reason}`
    : `Not blocking ${dropped.length} account(s) on brain ${api.brain}: ${reason}`;
  return {
    ...p,
    account: {
      ...p.account,
      entries: p.account.entries.filter((e) => !drop(e)),
      skipped: [
        ...p.account.skipped,
        ...dropped.map((e) => ({ entity: e.entity, reasons: [...e.reasons, reason] })),
      ],
    },
    messages: [...p.messages, { category: protectedIds === null ? "Error" : "Warning", text }],
  };
}

/** Entities per kind the plan refused to block because their own data is unsafe. */
function refusedCounts(p: Plan): Record<Kind, number> {
  const counts: Record<Kind, number> = { host: 0, account: 0, detection: 0 };
  for (const kind of KINDS) {
    counts[kind] = p[kind].skipped.filter((s) => s.refusal !== undefined).length;
  }
  return counts;
}

/** Logs a message of the decide step at its category's level, with the brain. */
function logMessage(brain: string, message: { category: Category; text: string }): void {
  const fields = { brain, message: message.text };
  if (message.category === "Error") logger.error("{message}", fields);
  else if (message.category === "Warning") logger.warn("{message}", fields);
  else logger.info("{message}", fields);
}

function dedupe(
  messages: readonly { category: Category; text: string }[],
): { category: Category; text: string }[] {
  const seen = new Set<string>();
  return messages.filter((m) => {
    const key = `${m.category}\u0000${m.text}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

function countOutcomes(actions: readonly ActionRecord[]): Record<string, number> {
  const counts: Record<string, number> = { ok: 0, failed: 0, planned: 0, warning: 0 };
  for (const a of actions) counts[a.outcome] = (counts[a.outcome] ?? 0) + 1;
  return counts;
}

/** Blocked entities per kind after the cycle, from the plan and the confirmed actions. */
function blockedCounts(p: Plan, records: readonly ActionRecord[]): Record<Kind, number> {
  const counts: Record<Kind, number> = { host: 0, account: 0, detection: 0 };
  const byEntity = new Map<string, ActionRecord[]>();
  for (const r of records) {
    const key = `${r.kind}:${r.entityId}`;
    const list = byEntity.get(key) ?? [];
    list.push(r);
    byEntity.set(key, list);
  }
  for (const kind of KINDS) {
    const k = p[kind];
    let count = k.blockedBefore;
    for (const entry of k.entries) {
      const mine = byEntity.get(`${kind}:${entry.entity.id}`) ?? [];
      const ok = mine.some((r) => r.outcome === "ok" && r.elements.length > 0);
      if (entry.operation === "block" && !entry.entity.isBlocked && ok) count += 1;
      if (
        entry.operation === "unblock" && entry.entity.isBlocked && mine.length > 0 &&
        mine.every((r) => r.outcome === "ok")
      ) count -= 1;
    }
    counts[kind] = Math.max(0, count);
  }
  return counts;
}

/** Options for {@linkcode formatPlan}. */
export interface FormatOptions {
  /**
   * One JSON object per action, one per line, instead of the table.
   * @default {false}
   */
  readonly json?: boolean;
}

/**
 * Prints a cycle for people (a table: outcome, operation, kind, id, name, client, elements,
 * reasons; then the excluded entities and the messages) or for programs (JSON lines).
 */
export function formatPlan(result: CycleResult, options: FormatOptions = {}): string {
  let text = "";
  for (const line of planLines(result, options)) text += `${line}\n`;
  return text;
}

/**
 * The lines of {@linkcode formatPlan}, one at a time (without their line break), so that a
 * cycle of thousands of actions is written out without being held as one text.
 */
export function* planLines(result: CycleResult, options: FormatOptions = {}): Generator<string> {
  const actions = sortActions(result.actions);
  if (options.json) {
    for (const a of actions) yield JSON.stringify(a);
    return;
  }
  const header = ["OUTCOME", "ACTION", "BRAIN", "KIND", "ID", "NAME", "CLIENT", "ELEMENTS"];
  const cells = (a: ActionRecord) => [
    a.outcome,
    a.operation,
    a.brain ?? "-",
    a.kind,
    a.entityId === null ? "-" : String(a.entityId),
    a.entityName,
    a.client,
    a.elements.join(" ") || "-",
  ];
  if (actions.length === 0) {
    yield "Nothing to do.";
  } else {
    const widths = header.map((h) => h.length);
    for (const a of actions) {
      cells(a).forEach((c, i) => widths[i] = Math.min(40, Math.max(widths[i] ?? 0, c.length)));
    }
    const fmt = (row: string[]) => row.map((c, i) => c.padEnd(widths[i] ?? 0)).join("  ").trimEnd();
    yield fmt(header);
    for (const a of actions) {
      yield fmt(cells(a));
      yield `    because ${a.reasons.join("; ") || "-"}`;
      if (a.error) yield `    error: ${a.error}`;
    }
  }
  const skipped = fromPlans(result, (k) => k.skipped);
  if (skipped.length > 0) {
    yield "";
    yield "Not blocked:";
    for (const s of skipped) {
      yield `  ${s.brain} ${s.entity.kind} ${s.entity.id} ${s.entity.name}: ${
        s.reasons.join("; ")
      }`;
    }
  }
  const expiries = fromPlans(result, (k) => k.expiries);
  if (expiries.length > 0) {
    yield "";
    yield "Automatic blocks held, and when they expire:";
    for (const e of expiries) {
      const since = e.blockedAt === null ? "time recorded now" : `since ${isoSeconds(e.blockedAt)}`;
      yield `  ${e.brain} ${e.entity.kind} ${e.entity.id} ${e.entity.name}: ${since}, expires ` +
        isoSeconds(e.expiresAt);
    }
  }
  if (result.messages.length > 0) {
    yield "";
    yield "Messages:";
    for (const m of result.messages) yield `  ${m.category}: ${m.text}`;
  }
  const mode = result.acted ? "" : " (nothing was changed)";
  yield "";
  yield `Exit code ${result.exitCode}${mode}`;
}

/** One list of every kind's plan (the skipped entities, the expiries), each with its brain. */
function fromPlans<T extends object>(
  result: CycleResult,
  pick: (kind: KindPlan) => readonly T[],
): (T & { brain: string })[] {
  return result.plans.flatMap((p) =>
    KINDS.flatMap((k) => pick(p[k]).map((item) => ({ brain: p.brain, ...item })))
  );
}

const KIND_ORDER = ["host", "account", "detection", "static"];
const OPERATION_ORDER = ["block", "unblock", "groom", "static-block", "static-unblock"];

/** Actions in plan order: brain, kind, operation, entity id, client. */
function sortActions(actions: readonly ActionRecord[]): ActionRecord[] {
  return [...actions].sort((a, b) =>
    (a.brain ?? "").localeCompare(b.brain ?? "") ||
    KIND_ORDER.indexOf(a.kind) - KIND_ORDER.indexOf(b.kind) ||
    OPERATION_ORDER.indexOf(a.operation) - OPERATION_ORDER.indexOf(b.operation) ||
    (a.entityId ?? 0) - (b.entityId ?? 0) ||
    a.entityName.localeCompare(b.entityName) ||
    a.client.localeCompare(b.client)
  );
}
