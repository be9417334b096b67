/**
 * The fewest requests the Vectra API allows for one cycle of the benchmark's policy
 * (`_workload.ts`), computed from the brain's current data and the API's rules
 * (vectra-api.md §3–§4), independently of how var reads. Private to `bench/`.
 *
 * Only documented forms count, unless var proved an undocumented one working on the
 * brain measured ({@linkcode ListForms}; the bench says which it counted):
 * - every list query costs `max(1, ceil(n / 5000))` pages (page_size ≤ 5000);
 * - the tag criteria of a kind (the block tag, the marker, the client's two `VAR Pending:`
 *   intents) cost one `tags=` query each; one combined any-of query where proven;
 * - a score list whose threshold is implied by one already read costs nothing more;
 * - a group lookup costs one request per (name, type); no-block members are needed as ids
 *   only, block-group hosts and detection sources as objects, in one lookup: one
 *   `GET /hosts/{id}` each or one read of the whole host list, the cheaper (`id=` lists,
 *   not documented for `/hosts`, where proven); sources may instead come from the host list
 *   at their minimum score;
 * - account-group members cost one `GET /accounts?uid=` each (no batch form exists);
 * - the detections of hosts at a score cost one `host_id=` query per host or one read of
 *   the active untriaged detections, the cheaper (`host_id=` lists where proven);
 * - every entity action costs its state write and one note: on v2.5 one tag added or
 *   removed (`POST`/`DELETE /tagging/<kind>`; what many entities share is one request per
 *   wave, not counted), on v3 a tag read and a whole-list write, which leave no analyst's
 *   tag lost only if read right before the write.
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

/** Undocumented list forms var proved working on the brain measured (the minimum counts them). */
export interface ListForms {
  /** A comma in `tags=` read as any-of. */
  readonly tags: boolean;
  /** `id=` lists on `/hosts` and `/accounts`. */
  readonly id: boolean;
  /** `host_id=` lists on `/detections`. */
  readonly hostId: boolean;
}

/** Only documented forms. */
export const DOCUMENTED: ListForms = { tags: false, id: false, hostId: false };

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

/** Requests of a `tags=` read of these tags: one any-of query where proven, else one each. */
function tagReads(
  entities: readonly { readonly tags: readonly string[] }[],
  tags: readonly string[],
  anyOf: boolean,
): { objects: number; requests: number } {
  const wanted = new Set(tags);
  const objects = entities.filter((e) => anyTag(e.tags, wanted)).length;
  if (anyOf) return { objects, requests: pages(objects) };
  const requests = tags.reduce(
    (sum, tag) => sum + pages(entities.filter((e) => e.tags.includes(tag)).length),
    0,
  );
  return { objects, requests };
}

/** The minimum reads of one cycle of the benchmark policy on this data. */
export function minimumReads(
  data: BrainData,
  options: { oauth?: boolean; forms?: ListForms } = {},
): Minimum {
  const forms = options.forms ?? DOCUMENTED;
  const lines: MinimumLine[] = [];
  const add = (what: string, objects: number, requests: number) =>
    lines.push({ what, objects, requests });
  if (options.oauth) add("OAuth2 token (a new process has none)", 1, 1);
  const tagsForm = forms.tags ? "one any-of tags= query" : "one tags= query per tag";
  /** Hosts by id: `id=` lists where proven, else one request each or the whole list. */
  const hostLookup = (ids: readonly number[]) =>
    ids.length === 0
      ? 0
      : forms.id
      ? idLookups(ids)
      : Math.min(ids.length, pages(data.hosts.length));

  // Hosts.
  const hostTags = tagReads(
    data.hosts,
    ["vectra_host_block", "VAR Host Blocked", ...PENDING],
    forms.tags,
  );
  add(`hosts: ${tagsForm} (block tag, marker, intents)`, hostTags.objects, hostTags.requests);
  const scored90 = data.hosts.filter((h) => h.threat >= 90 && h.certainty >= 90);
  add("hosts: threat >= 90 and certainty >= 90", scored90.length, pages(scored90.length));
  add("host groups NoBlock, Block", 2, 2);
  const typed = data.detections.filter((d) => d.type === TYPED_DETECTION && d.state === "active");
  add(`detections: ${TYPED_DETECTION}, active`, typed.length, pages(typed.length));
  const sources = [...new Set(typed.flatMap((d) => d.hostId === null ? [] : [d.hostId]))];
  const scored85 = data.hosts.filter((h) => h.threat >= 85 && h.certainty >= 85).length;
  const block = data.hostGroups.block;
  const together = hostLookup([...new Set([...block, ...sources])]);
  const apart = hostLookup(block) + pages(scored85);
  add(
    `hosts by id: Block members and detection sources (${
      forms.id ? "id= lists" : "one GET /hosts/{id} each or the whole list"
    }; or the sources from the list at >= 85 and 85), the cheaper`,
    block.length + sources.length,
    Math.min(together, apart),
  );

  // Accounts.
  const accountTags = tagReads(
    data.accounts,
    ["vectra_account_block", "VAR Account Blocked", ...PENDING],
    forms.tags,
  );
  add(`accounts: ${tagsForm}`, accountTags.objects, accountTags.requests);
  const scoredAccounts = data.accounts.filter((a) => a.threat >= 90 && a.certainty >= 90).length;
  add("accounts: threat >= 90 and certainty >= 90", scoredAccounts, pages(scoredAccounts));
  add("account groups NoBlock, Block", 2, 2);
  const uids = new Set([...data.accountGroups.noBlock, ...data.accountGroups.block]);
  add("accounts: one uid= lookup per group member", uids.size, uids.size);

  // Detections.
  const detectionTags = tagReads(
    data.detections,
    ["block", "VAR Detection Blocked", ...PENDING],
    forms.tags,
  );
  add(`detections: ${tagsForm}`, detectionTags.objects, detectionTags.requests);
  // Hosts at 95/95 are a subset of the hosts at 90/90 already read.
  const scored95 = scored90.filter((h) => h.threat >= 95 && h.certainty >= 95).map((h) => h.id);
  add("hosts: threat >= 95 and certainty >= 95 (within the 90/90 list)", scored95.length, 0);
  const set95 = new Set(scored95);
  const open = data.detections.filter((d) => d.state === "active" && !d.isTriaged);
  const ofScored = open.filter((d) => d.hostId !== null && set95.has(d.hostId)).length;
  add(
    `detections of those hosts, active, untriaged (${
      forms.hostId ? "host_id= lists" : "one host_id= query each or all of them, the cheaper"
    })`,
    ofScored,
    scored95.length === 0
      ? 0
      : forms.hostId
      ? Math.max(idLookups(scored95), pages(ofScored))
      : Math.min(scored95.length, pages(open.length)),
  );

  return { lines, reads: lines.reduce((sum, l) => sum + l.requests, 0) };
}

/**
 * Requests each entity action needs at least: on v2.5 one tag added or removed and a note;
 * on v3 a tag read, a tag write and a note.
 */
export function writesPerAction(api: "2.5" | "3.4"): number {
  return api === "2.5" ? 2 : 3;
}
