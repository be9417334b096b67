/**
 * What a cycle reports: one record per action, one summary per brain and per cycle.
 * Produced by `engine/cycle.ts`; consumed by logging, notifications, metrics and health.
 *
 * @module
 */

import type { Kind } from "./model.ts";

/** What was (or would have been) done. */
export type ActionOperation = "block" | "unblock" | "groom" | "static-block" | "static-unblock";

/**
 * How the action ended: `ok` confirmed by the client and recorded; `failed` the client or
 * the state write failed (nothing recorded, retried next cycle); `planned` not carried out
 * (dry run, outside the window, or blast-radius limit); `warning` done with a caveat (e.g.
 * nothing to block).
 */
export type ActionOutcome = "ok" | "failed" | "planned" | "warning";

/** Message category, as the original groups them for email and syslog. */
export type Category = "Info" | "Warning" | "Error";

/** One (entity, client) action, or one static entry on one client. */
export interface ActionRecord {
  /** The brain's host; null for static entries (brain-independent). */
  readonly brain: string | null;
  /** The entity kind, or `static`. */
  readonly kind: Kind | "static";
  /** Entity id; null for static entries. */
  readonly entityId: number | null;
  /** Entity name (host name, account name, detection type) or the static entry. */
  readonly entityName: string;
  /** Client module name. */
  readonly client: string;
  readonly operation: ActionOperation;
  /** Element ids blocked or unblocked (or that would be). */
  readonly elements: readonly string[];
  readonly outcome: ActionOutcome;
  /** Why the engine decided this, e.g. `tag vectra_host_block`. */
  readonly reasons: readonly string[];
  /** The error, when failed. Never contains a secret. */
  readonly error?: string;
  /** The human-readable line (the original's message template where one exists). */
  readonly message: string;
  readonly category: Category;
}

/** How one brain's cycle ended. */
export interface BrainReport {
  readonly brain: string;
  /** `ok`; `partial` some actions failed or a kind could not be read; `failed` nothing could be read. */
  readonly result: "ok" | "partial" | "failed";
  /** Kinds skipped this cycle because a query failed, with the error. */
  readonly skippedKinds: readonly { readonly kind: Kind; readonly error: string }[];
  /** Entities currently blocked per kind after the cycle (for metrics). */
  readonly blockedCounts: Readonly<Record<Kind, number>>;
  /**
   * Entities per kind that matched the policy but were refused because their own data is
   * unsafe to block (a host address that is not one single host address).
   */
  readonly refusedCounts: Readonly<Record<Kind, number>>;
  /** Blast-radius limits that tripped, as messages. */
  readonly limitsTripped: readonly string[];
  readonly startedAt: Date;
  readonly durationMs: number;
}

/** A whole cycle: every brain and the static list. */
export interface CycleReport {
  readonly brains: readonly BrainReport[];
  readonly actions: readonly ActionRecord[];
  /** Messages not tied to an action (errors reading Vectra, warnings about config). */
  readonly messages: readonly { readonly category: Category; readonly text: string }[];
  /** True when the cycle was allowed to act (inside the window, not a dry run). */
  readonly acted: boolean;
  /** 0 all fine; 2 some action failed or a limit tripped; 3 Vectra could not be read. */
  readonly exitCode: 0 | 2 | 3;
  readonly startedAt: Date;
  readonly durationMs: number;
}
