/**
 * The fewest requests the Vectra API allows for one cycle of the benchmark's policy
 * (`_workload.ts`), computed from the brain's current data and the API's rules
 * (vectra-api.md §3–§4), independently of how var reads. Private to `bench/`.
 *
 * The model, per kind (one client `Test Client`; on v3.4 one token request more):
 * - every list query costs `max(1, ceil(n / 5000))` pages (page_size ≤ 5000);
 * - all tag criteria of a kind share one `tags=` query, since the filter is any-of (the
 *   block tag, the marker, and the client's two `VAR Pending:` intents), re-checked
 *   exactly on the client side;
 * - a score list whose threshold is implied by one already read costs nothing more;
 * - a group lookup costs one request per (name, type); no-block members are needed as ids
 *   only, block-group hosts as objects: one `id=` list per 7,000 URL characters;
 * - account-group members cost one `GET /accounts?uid=` each (no batch form exists);
 * - hosts behind a detection type at a minimum score cost the cheaper of an `id=` lookup
 *   of the sources and the list of hosts at that score;
 * - every entity action costs one tag read, one tag write and one note
 *   (`3 × actions`, engine.md §3.7).
 *
 * @module
 */

import type { SeedAccount, SeedDetection, SeedHost } from "../demo/seed.ts";
import { TYPED_DETECTION } from "./_workload.ts";

/** Largest `page_size`. */
export const PAGE_SIZE = 5000;
/** URL characters of one `id=` list (an 8 KiB request line less path and `fields=`). */
export const ID_LIST_CHARS = 7000;

/** The brain's data at the start of a cycle. */
export interface BrainData {
  readonly hosts: readonly SeedHost[];
  readonly accounts: readonly SeedAccount[];
  readonly detections: readonly SeedDetection[];
  /** Host ids of the `NoBlock` and `Block` host groups. */
  readonly hostGroups: { readonly noBlock: readonly number[]; readonly block: readonly number[] };
  /** Uids of the `NoBlock` and `Block` account groups. */
  readonly accountGroups: {
    readonly noBlock: readonly string[];
    readonly block: readonly string[];
  };
}

/** One line of the minimum: what is read, how many objects, how many requests. */
export interface MinimumLine {
  readonly what: string;
  readonly objects: number;
  readonly requests: number;
}

/** The minimum reads of one cycle, itemised. */
export interface Minimum {
  readonly lines: readonly MinimumLine[];
  readonly reads: number;
}

/** Pages of a list of `n` objects. */
export function pages(n: number): number {
  return Math.max(1, Math.ceil(n / PAGE_SIZE));
}

/** Requests of an `id=` lookup of these ids (none for no ids). */
export function idLookups(ids: readonly number[]): number {
  if (ids.length === 0) return 0;
  let chars = 0;
  for (const id of ids) chars += String(id).length + 3;
  return Math.ceil(chars / ID_LIST_CHARS);
}

const PENDING = ["VAR Pending:Test Client:block", "VAR Pending:Test Client:unblock"];

function anyTag(tags: readonly string[], wanted: ReadonlySet<string>): boolean {
  return tags.some((t) => wanted.has(t));
}

/** The minimum reads of one cycle of the benchmark policy on this data. */
export function minimumReads(data: BrainData, options: { oauth?: boolean } = {}): Minimum {
  const lines: MinimumLine[] = [];
  const add = (what: string, objects: number, requests: number) =>
    lines.push({ what, objects, requests });
  if (options.oauth) add("OAuth2 token (a new process has none)", 1, 1);

  // Hosts.
  const hostTags = new Set(["vectra_host_block", "VAR Host Blocked", ...PENDING]);
  const taggedHosts = data.hosts.filter((h) => anyTag(h.tags, hostTags)).length;
  add("hosts: one tags= query (block tag, marker, intents)", taggedHosts, pages(taggedHosts));
  const scored90 = data.hosts.filter((h) => h.threat >= 90 && h.certainty >= 90);
  add("hosts: threat >= 90 and certainty >= 90", scored90.length, pages(scored90.length));
  add("host groups NoBlock, Block", 2, 2);
  add("hosts: Block members by id", data.hostGroups.block.length, idLookups(data.hostGroups.block));
  const typed = data.detections.filter((d) => d.type === TYPED_DETECTION && d.state === "active");
  add(`detections: ${TYPED_DETECTION}, active`, typed.length, pages(typed.length));
  const sources = [...new Set(typed.flatMap((d) => d.hostId === null ? [] : [d.hostId]))];
  const scored85 = data.hosts.filter((h) => h.threat >= 85 && h.certainty >= 85).length;
  add(
    "hosts: sources at >= 85 and 85 (id= lookup or score list, the cheaper)",
    Math.min(sources.length, scored85),
    Math.min(idLookups(sources), pages(scored85)),
  );

  // Accounts.
  const accountTags = new Set(["vectra_account_block", "VAR Account Blocked", ...PENDING]);
  const taggedAccounts = data.accounts.filter((a) => anyTag(a.tags, accountTags)).length;
  add("accounts: one tags= query", taggedAccounts, pages(taggedAccounts));
  const scoredAccounts = data.accounts.filter((a) => a.threat >= 90 && a.certainty >= 90).length;
  add("accounts: threat >= 90 and certainty >= 90", scoredAccounts, pages(scoredAccounts));
  add("account groups NoBlock, Block", 2, 2);
  const uids = new Set([...data.accountGroups.noBlock, ...data.accountGroups.block]);
  add("accounts: one uid= lookup per group member", uids.size, uids.size);

  // Detections.
  const detectionTags = new Set(["block", "VAR Detection Blocked", ...PENDING]);
  const taggedDetections = data.detections.filter((d) => anyTag(d.tags, detectionTags)).length;
  add("detections: one tags= query", taggedDetections, pages(taggedDetections));
  // Hosts at 95/95 are a subset of the hosts at 90/90 already read.
  const scored95 = scored90.filter((h) => h.threat >= 95 && h.certainty >= 95).map((h) => h.id);
  add("hosts: threat >= 95 and certainty >= 95 (within the 90/90 list)", scored95.length, 0);
  const set95 = new Set(scored95);
  const ofScored =
    data.detections.filter((d) =>
      d.hostId !== null && set95.has(d.hostId) && d.state === "active" && !d.isTriaged
    ).length;
  add(
    "detections of those hosts, active, untriaged",
    ofScored,
    scored95.length === 0 ? 0 : Math.max(idLookups(scored95), pages(ofScored)),
  );

  return { lines, reads: lines.reduce((sum, l) => sum + l.requests, 0) };
}

/** Requests each entity action needs at least: tag read, tag write, note. */
export const WRITES_PER_ACTION = 3;
