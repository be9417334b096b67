/**
 * Drift repair (issue 6): compares what a client enforces (its `list()` read-back) with
 * what the Vectra state records for it across every brain, and repairs both ways: a
 * recorded block missing on the device is applied again; an object var created that no
 * entity records is removed. Only objects var created are ever touched (a client's
 * `list()` returns nothing else), and nothing is removed for a kind that any brain could
 * not read this cycle, or that has an interrupted action pending for the client. Before
 * an orphan is removed, every brain is asked again, by its exact `VAR ID` tag, whether an
 * entity records it: a list that changed while the cycle read it never costs a block.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import pLimit from "p-limit";
import type { EnforcedElement, ResponseClient } from "./client.ts";
import type { Account, Detection, Entity, Host, Kind } from "./model.ts";
import type { ActionRecord } from "./report.ts";
import type { Snapshot } from "./snapshot.ts";
import { elementTag, parsePendingTag } from "./state_tags.ts";
import type { VectraApi } from "./vectra/api.ts";
import { listTagged } from "./vectra/tagged.ts";
import { errorText } from "./error_text.ts";

const logger = getLogger(["var", "drift"]);

/** A recorded element the device no longer enforces. */
export interface MissingElement {
  readonly brain: string;
  readonly kind: Kind;
  readonly entity: Host | Account | Detection;
  readonly element: string;
}

/** What drift repair should do for one client. */
export interface DriftPlan {
  /** Module name of the client. */
  readonly client: string;
  /** Recorded but not enforced: block again (grouped per entity by the caller). */
  readonly missing: readonly MissingElement[];
  /** Enforced but recorded by no entity: remove. */
  readonly orphans: readonly EnforcedElement[];
  /** Kinds whose orphans were not judged, with the reason. */
  readonly unjudged: readonly { readonly kind: Kind; readonly reason: string }[];
}

/** The client facts drift planning needs. */
export interface DriftClient {
  readonly name: string;
  readonly tagName: string;
}

type BlockedEntity = Host | Account | Detection;

function blockedOf(snapshot: Snapshot, kind: Kind): readonly BlockedEntity[] | string {
  const part = snapshot[kind];
  if (part.status === "failed") return `${snapshot.brain} could not be read: ${part.error}`;
  if (part.status === "off") return [];
  return [...part.blocked, ...part.pending];
}

function hasPendingFor(entity: BlockedEntity, tagName: string): boolean {
  return entity.tags.some((tag) => parsePendingTag(tag)?.client === tagName);
}

/**
 * Plans drift repair for one client from every brain's snapshot and the client's
 * read-back. Static entries are left to the static list reconciliation.
 */
export function planDrift(
  client: DriftClient,
  enforced: readonly EnforcedElement[],
  snapshots: readonly Snapshot[],
): DriftPlan {
  const kinds: Kind[] = ["host", "account", "detection"];
  const missing: MissingElement[] = [];
  const orphans: EnforcedElement[] = [];
  const unjudged: { kind: Kind; reason: string }[] = [];
  for (const kind of kinds) {
    // An element some device lacks counts as missing, so it is applied again.
    const enforcedIds = new Set(
      enforced.filter((item) => item.kind === kind && !item.partial).map((item) => item.element),
    );
    const recorded = new Set<string>();
    let failure: string | null = null;
    let pending = false;
    for (const snapshot of snapshots) {
      const blocked = blockedOf(snapshot, kind);
      if (typeof blocked === "string") {
        failure ??= blocked;
        continue;
      }
      const seen = new Set<number>();
      for (const entity of blocked) {
        if (seen.has(entity.id)) continue;
        seen.add(entity.id);
        if (hasPendingFor(entity, client.tagName)) pending = true;
        for (const element of entity.blockedElements.get(client.tagName) ?? []) {
          recorded.add(element);
          if (!enforcedIds.has(element) && entity.isBlocked) {
            missing.push({ brain: snapshot.brain, kind, entity, element });
          }
        }
      }
    }
    if (failure !== null) {
      unjudged.push({ kind, reason: failure });
      continue;
    }
    if (pending) {
      unjudged.push({ kind, reason: `an interrupted action is pending for ${client.tagName}` });
      continue;
    }
    for (const item of enforced) {
      if (item.kind === kind && !recorded.has(item.element)) orphans.push(item);
    }
  }
  return { client: client.name, missing, orphans, unjudged };
}

/** Options for {@linkcode repairDrift}. */
export interface RepairDriftOptions {
  /** Why nothing may change (dry run, outside the window), or null to repair. */
  readonly refusal: string | null;
  /**
   * Every brain of the cycle: each orphan is confirmed on all of them (an exact-tag query)
   * before it is removed or reported.
   */
  readonly apis: readonly VectraApi[];
  /**
   * Orphans confirmed per client per cycle; when a client holds more, none of them is
   * removed this cycle (so many at once points at a read problem, not at drift).
   * @default {50}
   */
  readonly maxOrphanChecks?: number;
  /**
   * Confirmation queries in flight at once.
   * @default {4}
   */
  readonly concurrency?: number;
}

const BLOCK_OPERATION = {
  host: "blockHost",
  account: "blockAccount",
  detection: "blockDetection",
} as const;

function describeError(error: unknown): string {
  return errorText(error);
}

async function blockAgain(client: ResponseClient, entity: Entity): Promise<string[]> {
  switch (entity.kind) {
    case "host":
      return await client.blockHost!(entity);
    case "account":
      return await client.blockAccount!(entity);
    case "detection":
      return await client.blockDetection!(entity);
  }
}

/** One orphan looked up on every brain. */
interface Check {
  readonly orphan: EnforcedElement;
  /** `host 7 on brain.example` when an entity records it, else null. */
  readonly recordedBy: string | null;
  /** False when its tag cannot be asked for exactly. */
  readonly queryable: boolean;
}

/** The orphans still to act on, and the records of those kept. */
interface Confirmation {
  readonly orphans: readonly EnforcedElement[];
  readonly kept: readonly ActionRecord[];
}

/**
 * Asks every brain, by the exact `VAR ID` tag, whether an entity records each orphan. An
 * orphan some entity records, or whose tag cannot be queried exactly (a comma), is kept.
 * When a query fails, no orphan of that kind is removed; beyond `max` orphans, none is.
 */
async function confirmOrphans(
  client: ResponseClient,
  orphans: readonly EnforcedElement[],
  options: { apis: readonly VectraApi[]; max: number; concurrency: number },
): Promise<Confirmation> {
  const keptRecord = (
    orphan: EnforcedElement,
    outcome: "warning" | "failed",
    message: string,
    error?: string,
  ): ActionRecord => ({
    brain: null,
    kind: orphan.kind,
    entityId: null,
    entityName: orphan.element,
    client: client.name,
    operation: "unblock",
    elements: [orphan.element],
    outcome,
    reasons: ["created by var, recorded by no entity (drift repair)"],
    ...(error === undefined ? {} : { error }),
    message,
    category: outcome === "failed" ? "Error" : "Warning",
  });
  if (orphans.length > options.max) {
    return {
      orphans: [],
      kept: orphans.map((orphan) =>
        keptRecord(
          orphan,
          "warning",
          `Not removing ${orphans.length} orphaned elements from ${client.name}, among them ` +
            `${orphan.kind} element ${orphan.element}: more than ${options.max} at once points ` +
            "at a read problem, not at drift; check them by hand",
        )
      ),
    };
  }
  const limit = pLimit(Math.max(1, options.concurrency));
  const kinds = [...new Set(orphans.map((orphan) => orphan.kind))];
  const results = await Promise.all(kinds.map(async (kind): Promise<Confirmation> => {
    const ofKind = orphans.filter((orphan) => orphan.kind === kind);
    if (kind === "static") return { orphans: ofKind, kept: [] };
    const checked = await Promise.allSettled(
      ofKind.map((orphan) =>
        limit(async (): Promise<Check> => {
          // The `tags` filter splits its value at commas: such a tag cannot be asked for.
          if (client.tagName.includes(",") || orphan.element.includes(",")) {
            return { orphan, recordedBy: null, queryable: false };
          }
          const tag = elementTag(client.tagName, orphan.element);
          for (const api of options.apis) {
            const found = await listTagged(api, kind, tag);
            if (found.length > 0) {
              const ids = found.map((e) => e.id).join(", ");
              return { orphan, recordedBy: `${kind} ${ids} on ${api.brain}`, queryable: true };
            }
          }
          return { orphan, recordedBy: null, queryable: true };
        })
      ),
    );
    const failure = checked.find((c): c is PromiseRejectedResult => c.status === "rejected");
    if (failure !== undefined) {
      const error = describeError(failure.reason);
      return {
        orphans: [],
        kept: ofKind.map((orphan) =>
          keptRecord(
            orphan,
            "failed",
            `Cannot remove orphaned ${kind} element ${orphan.element} from ${client.name}: ` +
              `cannot confirm on Vectra that no entity records it: ${error}`,
            error,
          )
        ),
      };
    }
    const confirmed: EnforcedElement[] = [];
    const kept: ActionRecord[] = [];
    for (const c of checked) {
      if (c.status !== "fulfilled") continue;
      const { orphan, recordedBy, queryable } = c.value;
      if (!queryable) {
        kept.push(keptRecord(
          orphan,
          "warning",
          `Not removing orphaned ${kind} element ${orphan.element} from ${client.name}: its ` +
            `"VAR ID" tag holds a comma and cannot be looked up exactly on Vectra; remove it ` +
            "by hand if no entity records it",
        ));
      } else if (recordedBy !== null) {
        kept.push(keptRecord(
          orphan,
          "warning",
          `Not removing ${kind} element ${orphan.element} from ${client.name}: ${recordedBy} ` +
            "still records it (Vectra changed while this cycle read it); the next cycle " +
            "checks again",
        ));
      } else {
        confirmed.push(orphan);
      }
    }
    return { orphans: confirmed, kept };
  }));
  return {
    orphans: results.flatMap((r) => r.orphans),
    kept: results.flatMap((r) => r.kept),
  };
}

/**
 * Reads back what each client enforces, plans drift repair against every brain's
 * snapshot, and repairs it (or reports it as planned when `refusal` is set). Orphans are
 * first confirmed on every brain in `apis` (one exact-tag query per orphan and brain, so a
 * cycle without orphans asks Vectra nothing more). Clients without `list()` are skipped.
 * Never throws: failures become `failed` records.
 */
export async function repairDrift(
  clients: readonly ResponseClient[],
  snapshots: readonly Snapshot[],
  options: RepairDriftOptions,
): Promise<ActionRecord[]> {
  const records: ActionRecord[] = [];
  await Promise.all(clients.map(async (client) => {
    if (!client.supports.has("list") || !client.list) return;
    let enforced: EnforcedElement[];
    try {
      enforced = await client.list();
    } catch (error) {
      logger.error("Cannot verify what {client} enforces: {error}", {
        client: client.name,
        error: describeError(error),
      });
      return;
    }
    const drift = planDrift(client, enforced, snapshots);
    for (const { kind, reason } of drift.unjudged) {
      logger.warn("Not looking for orphaned {kind} objects on {client}: {reason}", {
        kind,
        client: client.name,
        reason,
      });
    }
    const byEntity = new Map<string, MissingElement[]>();
    for (const item of drift.missing) {
      const key = `${item.brain}\u0000${item.kind}\u0000${item.entity.id}`;
      byEntity.set(key, [...(byEntity.get(key) ?? []), item]);
    }
    for (const items of byEntity.values()) {
      const first = items[0] as MissingElement;
      const elements = items.map((item) => item.element);
      const base = {
        brain: first.brain,
        kind: first.kind,
        entityId: first.entity.id,
        entityName: first.entity.name,
        client: client.name,
        operation: "block" as const,
        elements,
        reasons: [`recorded as blocked but missing on ${client.name} (drift repair)`],
      };
      if (!client.supports.has(BLOCK_OPERATION[first.kind])) continue;
      if (options.refusal !== null) {
        records.push({
          ...base,
          outcome: "planned",
          category: "Info",
          message:
            `Would re-apply ${first.kind} ${first.entity.id} on ${client.name}: ${options.refusal}`,
        });
        continue;
      }
      try {
        const ids = await blockAgain(client, first.entity);
        const lost = elements.filter((element) => !ids.includes(element));
        records.push({
          ...base,
          outcome: lost.length === 0 ? "ok" : "warning",
          category: lost.length === 0 ? "Info" : "Warning",
          message: lost.length === 0
            ? `Re-applied ${first.kind} ${first.entity.id}, ${first.entity.name} on ${client.name}: ${
              elements.join(", ")
            } had gone missing`
            : `Re-applied ${first.kind} ${first.entity.id} on ${client.name}, but it no longer returns ${
              lost.join(", ")
            }`,
        });
      } catch (error) {
        records.push({
          ...base,
          outcome: "failed",
          category: "Error",
          error: describeError(error),
          message: `Cannot re-apply ${first.kind} ${first.entity.id} on ${client.name}: ${
            describeError(error)
          }`,
        });
      }
    }
    if (drift.orphans.length === 0) return;
    const confirmation = await confirmOrphans(client, drift.orphans, {
      apis: options.apis,
      max: options.maxOrphanChecks ?? 50,
      concurrency: options.concurrency ?? 4,
    });
    records.push(...confirmation.kept);
    const orphans = confirmation.orphans;
    if (orphans.length === 0) return;
    const orphanRecord = (
      element: EnforcedElement,
      outcome: ActionRecord["outcome"],
      message: string,
      error?: string,
    ): ActionRecord => ({
      brain: null,
      kind: element.kind,
      entityId: null,
      entityName: element.element,
      client: client.name,
      operation: "unblock",
      elements: [element.element],
      outcome,
      reasons: ["created by var, recorded by no entity (drift repair)"],
      ...(error === undefined ? {} : { error }),
      message,
      category: outcome === "failed" ? "Error" : outcome === "ok" ? "Warning" : "Info",
    });
    if (!client.supports.has("removeElements") || !client.removeElements) {
      for (const orphan of orphans) {
        records.push(orphanRecord(
          orphan,
          "warning",
          `${client.name} holds ${orphan.kind} element ${orphan.element} that no entity records; remove it by hand`,
        ));
      }
      return;
    }
    if (options.refusal !== null) {
      for (const orphan of orphans) {
        records.push(orphanRecord(
          orphan,
          "planned",
          `Would remove orphaned ${orphan.kind} element ${orphan.element} from ${client.name}: ${options.refusal}`,
        ));
      }
      return;
    }
    try {
      const removed = new Set(await client.removeElements(orphans));
      for (const orphan of orphans) {
        records.push(
          removed.has(orphan.element)
            ? orphanRecord(
              orphan,
              "ok",
              `Removed orphaned ${orphan.kind} element ${orphan.element} from ${client.name}: no entity records it`,
            )
            : orphanRecord(
              orphan,
              "failed",
              `Cannot remove orphaned ${orphan.kind} element ${orphan.element} from ${client.name}: not confirmed`,
              "not confirmed",
            ),
        );
      }
    } catch (error) {
      for (const orphan of orphans) {
        records.push(orphanRecord(
          orphan,
          "failed",
          `Cannot remove orphaned ${orphan.kind} element ${orphan.element} from ${client.name}: ${
            describeError(error)
          }`,
          describeError(error),
        ));
      }
    }
  }));
  for (const record of records) {
    const fields = { ...record, elements: record.elements.join(" ") };
    if (record.outcome === "failed") logger.error("{message}", fields);
    else if (record.outcome === "warning") logger.warn("{message}", fields);
    else logger.info("{message}", fields);
  }
  return records;
}
