/**
 * Writing the blocked state on Vectra (engine.md §3.4, §3.7): the new tag list of an
 * entity from its fresh tags plus the confirmed changes, and the audit notes. Compatible
 * with the original: it reads what var writes, and var reads what it wrote.
 *
 * @module
 */

import type { Kind } from "./model.ts";
import {
  BLOCK_EXPIRED_TAG,
  blockedAtTag,
  elementTag,
  MARKER_TAGS,
  parsePendingTag,
  PENDING_TAG_PREFIX,
  type PendingOperation,
  pendingTag,
  splitTags,
} from "./state_tags.ts";

/** A change to an entity's recorded state, applied to its fresh tags. */
export interface TagChange {
  /** Client tag name → the elements now recorded for it (replaces that client's list). */
  readonly set?: ReadonlyMap<string, readonly string[]>;
  /** Client tag name → elements no longer recorded. */
  readonly remove?: ReadonlyMap<string, readonly string[]>;
  /** Intents to record: client tag name and operation. */
  readonly addPending?: readonly { client: string; operation: PendingOperation }[];
  /** Client tag names whose intent tags are removed. */
  readonly clearPending?: readonly string[];
  /** A kept tag to remove (the configured block tag, decisions #4), or null. */
  readonly removeTag?: string | null;
  /**
   * The time of this write, given when block times are recorded (a `*_BLOCK_EXPIRE_HOURS`
   * is set): a block that has no `VAR Blocked At` tag, or that begins now, gets this time.
   */
  readonly at?: Date;
  /** Mark the entity `VAR Block Expired` (its automatic block expired). */
  readonly expire?: boolean;
  /** Remove `VAR Block Expired`: automatic criteria may block the entity again. */
  readonly rearm?: boolean;
}

/**
 * Computes an entity's new tag list: every tag var does not own, in order and without
 * duplicates (minus `removeTag`); the marker iff at least one `VAR ID` tag remains; the
 * `VAR ID` tags of every client (configured or not) with the change applied; the block
 * time while blocked (kept from a block already under way, else `at` when given); the
 * expired mark unless a block was confirmed or `rearm`; then the intent tags.
 *
 * @example
 * ```ts
 * applyTagChange("host", ["vectra_host_block"], { set: new Map([["PAN Client", ["10.0.0.5"]]]) });
 * // ["vectra_host_block", "VAR Host Blocked", "VAR ID:PAN Client:10.0.0.5"]
 * ```
 */
export function applyTagChange(
  kind: Kind,
  freshTags: readonly string[],
  change: TagChange,
): string[] {
  const split = splitTags(kind, freshTags);
  const kept = unique(split.keptTags).filter((t) => t !== change.removeTag);
  const elements = new Map<string, string[]>();
  for (const [client, ids] of split.blockedElements) elements.set(client, [...ids]);
  for (const [client, ids] of change.set ?? []) elements.set(client, unique(ids));
  for (const [client, ids] of change.remove ?? []) {
    const left = (elements.get(client) ?? []).filter((id) => !ids.includes(id));
    elements.set(client, left);
  }
  const elementTags: string[] = [];
  for (const [client, ids] of elements) {
    for (const id of ids) elementTags.push(elementTag(client, id));
  }
  const cleared = new Set(change.clearPending ?? []);
  const pending: string[] = [];
  for (const tag of freshTags) {
    const intent = parsePendingTag(tag);
    if (intent && cleared.has(intent.client)) continue;
    if (tag.startsWith(PENDING_TAG_PREFIX)) pending.push(tag);
  }
  for (const p of change.addPending ?? []) pending.push(pendingTag(p.client, p.operation));
  const blocked = elementTags.length > 0;
  const marker = blocked ? [MARKER_TAGS[kind]] : [];
  const wasBlocked = split.isBlocked && [...split.blockedElements.values()].some((e) => e.length);
  // A time left from an earlier block (a rewrite that kept it) does not date a new one.
  const since = !blocked
    ? null
    : wasBlocked && split.blockedAt !== null
    ? new Date(split.blockedAt)
    : change.at ?? null;
  const confirmedBlock = [...(change.set ?? new Map()).values()].some((ids) => ids.length > 0);
  const expired = (split.blockExpired || change.expire === true) && !change.rearm &&
    !confirmedBlock;
  return unique([
    ...kept,
    ...marker,
    ...elementTags,
    ...(since ? [blockedAtTag(since)] : []),
    ...(expired ? [BLOCK_EXPIRED_TAG] : []),
    ...pending,
  ]);
}

/** True when two tag lists hold the same tags (order ignored). */
export function sameTags(a: readonly string[], b: readonly string[]): boolean {
  const sa = new Set(a);
  const sb = new Set(b);
  return sa.size === sb.size && [...sa].every((t) => sb.has(t));
}

function unique(values: readonly string[]): string[] {
  return [...new Set(values)];
}

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/** Formats a local time as the original's notes do: `05 Mar 2024 at 14:03:11`. */
export function noteTime(date: Date): string {
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${pad(date.getDate())} ${MONTHS[date.getMonth()]} ${date.getFullYear()} at ` +
    `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
}

/** What a note records. */
export interface NoteInput {
  /** `Blocked` or `Unblocked`; groom notes use `Blocked` with a groom reason. */
  readonly event: "Blocked" | "Unblocked";
  readonly at: Date;
  /** Client tag names that confirmed the action. */
  readonly clients: readonly string[];
  readonly reasons: readonly string[];
  /** The block tag removed with this unblock (decisions #4), or null. */
  readonly removedTag?: string | null;
}

/**
 * Builds the audit note of one entity action, keeping the original's prefix:
 * `VAR: Blocked on 05 Mar 2024 at 14:03:11 by PAN Client (tag vectra_host_block)`.
 */
export function buildNote(input: NoteInput): string {
  const by = input.clients.map((c) => c.trim()).join(", ");
  const reasons = input.reasons.length > 0 ? ` (${input.reasons.join("; ")})` : "";
  const removed = input.removedTag ? `; removed tag ${input.removedTag}` : "";
  return `VAR: ${input.event} on ${noteTime(input.at)} by ${by}${reasons}${removed}`;
}
