/**
 * Drift repair (issue 6): compares what a client enforces (its `list()` read-back) with
 * what the Vectra state records for it across every brain, and repairs both ways: a
 * recorded block missing on the device is applied again; an object var created that no
 * entity records is removed. Only objects var created are ever touched (a client's
 * `list()` returns nothing else), and nothing is removed for a kind that any brain could
 * not read this cycle, or that has an interrupted action pending for the client.
 *
 * @module
 */

import type { EnforcedElement } from "../clients/interface.ts";
import type { Account, Detection, Host, Kind } from "./model.ts";
import type { Snapshot } from "./snapshot.ts";
import { parsePendingTag } from "./state_tags.ts";

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
    const enforcedIds = new Set(
      enforced.filter((item) => item.kind === kind).map((item) => item.element),
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
