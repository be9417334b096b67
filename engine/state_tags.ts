/**
 * The blocked-state tags var shares with the original Python framework: the marker tag
 * per kind and the `VAR ID:<client tag name>:<element id>` element tags. Byte for byte
 * as the original writes them (engine.md §3).
 *
 * @module
 */

import type { BlockedElements, Kind } from "./kinds.ts";

/** The "blocked" marker tag per kind. */
export const MARKER_TAGS: Readonly<Record<Kind, string>> = {
  host: "VAR Host Blocked",
  account: "VAR Account Blocked",
  detection: "VAR Detection Blocked",
};

/** The unblock tag the original hides on every rewrite (its hard-coded default names). */
export const ORIGINAL_HIDDEN_UNBLOCK_TAGS: Readonly<Record<Kind, string>> = {
  host: "vectra_host_unblock",
  account: "vectra_account_unblock",
  detection: "vectra_detection_unblock",
};

/** The prefix of every element tag. */
export const ELEMENT_TAG_PREFIX = "VAR ID:";

/** The prefix of var's crash-consistency intent tags (`VAR Pending:<client>:<op>`). */
export const PENDING_TAG_PREFIX = "VAR Pending:";

/** The prefix of the tag recording when an entity was blocked (`VAR Blocked At:<UTC time>`). */
export const BLOCKED_AT_TAG_PREFIX = "VAR Blocked At:";

/**
 * The tag var leaves on an entity whose automatic block expired (`*_BLOCK_EXPIRE_HOURS`):
 * automatic criteria do not block it again until they have stopped matching.
 */
export const BLOCK_EXPIRED_TAG = "VAR Block Expired";

/** A time as UTC ISO-8601 in whole seconds: `2026-12-07T10:31:40Z`. */
export function isoSeconds(at: Date): string {
  return at.toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** Builds `VAR Blocked At:2026-12-07T10:31:40Z` (UTC, whole seconds). */
export function blockedAtTag(at: Date): string {
  return `${BLOCKED_AT_TAG_PREFIX}${isoSeconds(at)}`;
}

/** Reads a `VAR Blocked At:` tag as epoch milliseconds; null for any other or a bad time. */
export function parseBlockedAtTag(tag: string): number | null {
  if (!tag.startsWith(BLOCKED_AT_TAG_PREFIX)) return null;
  const text = tag.slice(BLOCKED_AT_TAG_PREFIX.length);
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/.test(text)) return null;
  const ms = Date.parse(text);
  return Number.isNaN(ms) ? null : ms;
}

/** One parsed `VAR ID` tag. */
export interface ElementTag {
  /** The client's tag name, e.g. `PAN Client` (may contain spaces, or a leading space). */
  readonly client: string;
  /** The element id, which may itself contain `:` (MACs, IPv6). */
  readonly element: string;
}

/** Builds `VAR ID:<client>:<element>`. */
export function elementTag(client: string, element: string): string {
  return `${ELEMENT_TAG_PREFIX}${client}:${element}`;
}

/**
 * Parses a `VAR ID:` tag: the client is the text between the first and second `:`, the
 * element everything after the second `:`. Returns null for any other tag.
 */
export function parseElementTag(tag: string): ElementTag | null {
  if (!tag.startsWith(ELEMENT_TAG_PREFIX)) return null;
  const rest = tag.slice(ELEMENT_TAG_PREFIX.length);
  const colon = rest.indexOf(":");
  if (colon < 0) return null;
  return { client: rest.slice(0, colon), element: rest.slice(colon + 1) };
}

/**
 * True for the tags var owns for a kind: marker, element tags, pending intents, the block
 * time and the expired mark.
 */
export function isStateTag(kind: Kind, tag: string): boolean {
  return tag === MARKER_TAGS[kind] || tag.startsWith(ELEMENT_TAG_PREFIX) ||
    tag.startsWith(PENDING_TAG_PREFIX) || tag.startsWith(BLOCKED_AT_TAG_PREFIX) ||
    tag === BLOCK_EXPIRED_TAG;
}

/** An entity's tags split into what var owns and what it keeps. */
export interface SplitTags {
  /** Tags var does not own, in original order. */
  readonly keptTags: string[];
  /** Client tag name to element ids, in tag order, without duplicates. */
  readonly blockedElements: BlockedElements;
  /** True iff the marker tag is present. */
  readonly isBlocked: boolean;
  /** When the block began (`VAR Blocked At:`), epoch milliseconds, or null if not recorded. */
  readonly blockedAt: number | null;
  /** True iff the `VAR Block Expired` tag is present. */
  readonly blockExpired: boolean;
}

/**
 * Splits an entity's tags into kept tags and recorded state. Unlike the original, the
 * unblock tag is a kept tag: var never drops a tag it does not own.
 */
export function splitTags(kind: Kind, tags: readonly string[]): SplitTags {
  const keptTags: string[] = [];
  const blocked = new Map<string, string[]>();
  let isBlocked = false;
  let blockedAt: number | null = null;
  let blockExpired = false;
  for (const tag of tags) {
    if (tag === MARKER_TAGS[kind]) {
      isBlocked = true;
      continue;
    }
    if (tag.startsWith(BLOCKED_AT_TAG_PREFIX)) {
      // Several times (a stale one left by a rewrite): the earliest is when the block began.
      const at = parseBlockedAtTag(tag);
      if (at !== null) blockedAt = blockedAt === null ? at : Math.min(blockedAt, at);
      continue;
    }
    if (tag === BLOCK_EXPIRED_TAG) {
      blockExpired = true;
      continue;
    }
    const parsed = parseElementTag(tag);
    if (parsed) {
      const ids = blocked.get(parsed.client) ?? [];
      if (!ids.includes(parsed.element)) ids.push(parsed.element);
      blocked.set(parsed.client, ids);
      continue;
    }
    if (tag.startsWith(PENDING_TAG_PREFIX)) continue;
    keptTags.push(tag);
  }
  return { keptTags, blockedElements: blocked, isBlocked, blockedAt, blockExpired };
}

/** What a pending intent tag announces. */
export type PendingOperation = "block" | "unblock";

/** One parsed `VAR Pending:<client tag name>:<op>` tag. */
export interface PendingTag {
  /** The client's tag name, e.g. `Test Client`. */
  readonly client: string;
  readonly operation: PendingOperation;
}

/** Builds `VAR Pending:<client>:<operation>`. */
export function pendingTag(client: string, operation: PendingOperation): string {
  return `${PENDING_TAG_PREFIX}${client}:${operation}`;
}

/**
 * Parses a `VAR Pending:` tag: the operation is the text after the last `:`, the client
 * everything between the prefix and that `:`. Returns null for any other tag.
 */
export function parsePendingTag(tag: string): PendingTag | null {
  if (!tag.startsWith(PENDING_TAG_PREFIX)) return null;
  const rest = tag.slice(PENDING_TAG_PREFIX.length);
  const colon = rest.lastIndexOf(":");
  if (colon < 0) return null;
  const operation = rest.slice(colon + 1);
  if (operation !== "block" && operation !== "unblock") return null;
  return { client: rest.slice(0, colon), operation };
}
