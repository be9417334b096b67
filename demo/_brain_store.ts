/**
 * The fake brain's state: hosts, accounts, detections, groups and notes, indexed by id,
 * tag, source host/account and detection type, and the list queries over them. Private
 * to `demo/`.
 *
 * @module
 */

import type { SeedAccount, SeedData, SeedDetection, SeedGroup, SeedHost } from "./seed.ts";

/** The kinds of taggable objects. */
export type FakeKind = "host" | "account" | "detection";

/**
 * How the brain reads a comma in the value of a list filter (`tags`, `id`, `host_id`),
 * which no public Vectra document settles:
 * - `anyof`: a list, any item of which matches;
 * - `literal`: one value, comma included (matches nothing in practice);
 * - `first`: only the first item is honoured;
 * - `ignored`: the parameter is unknown and ignored, whatever its value (every object).
 */
export type CommaReading = "anyof" | "literal" | "first" | "ignored";

/** Every {@linkcode CommaReading}, for tests that loop over them. */
export const COMMA_READINGS: readonly CommaReading[] = ["anyof", "literal", "first", "ignored"];

/**
 * List filters no Vectra documentation lists (vectra-api.md §4.2–4.4): a brain started
 * `documentedOnly` ignores them, as a brain that does not know them would.
 */
const UNDOCUMENTED_FILTERS = new Set(["id"]);

/** The list filters a {@linkcode CommaReading} applies to. */
const LIST_FILTERS = new Set(["tags", "id", "host_id"]);

/**
 * The items a list filter value stands for under a reading, or null when the filter is
 * ignored. Under `literal` a value with a comma is one item that no id can equal.
 */
function listItems(reading: CommaReading, raw: string): string[] | null {
  switch (reading) {
    case "anyof":
      return raw.split(",");
    case "literal":
      return [raw];
    case "first":
      return [raw.split(",")[0] ?? ""];
    case "ignored":
      return null;
  }
}

/** One note as the fake stores it (rendered as vectra-api.md §5.7). */
export interface FakeNote {
  readonly id: number;
  /** ISO-8601 UTC with microseconds. */
  readonly dateCreated: string;
  readonly dateModified: string | null;
  readonly createdBy: string;
  readonly modifiedBy: string | null;
  readonly note: string;
}

/** An entity of `/entities`: a host or an account. */
export interface EntityRef {
  readonly type: "host" | "account";
  readonly id: number;
}

/** A query the fake refuses: answered with `status` and `body`. */
export class QueryError extends Error {
  /** HTTP status, 400 or 501. */
  readonly status: number;
  /** The JSON body. */
  readonly body: Record<string, unknown>;

  constructor(status: number, body: Record<string, unknown>) {
    super(JSON.stringify(body));
    this.name = "QueryError";
    this.status = status;
    this.body = body;
  }
}

type Rec = SeedHost | SeedAccount | SeedDetection;
type Predicate<T> = (rec: T) => boolean;

/** ISO-8601 UTC with microseconds, as note timestamps look. */
export function isoMicros(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, ".$1000Z");
}

/** ISO-8601 UTC without fractions, as object timestamps look. */
export function isoSeconds(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");
}

function badValue(name: string, value: string, expected: string): QueryError {
  return new QueryError(400, {
    detail: `Invalid value "${value}" for query parameter "${name}": ${expected}.`,
  });
}

function parseIntParam(name: string, value: string): number {
  if (!/^-?\d+$/.test(value.trim())) throw badValue(name, value, "enter a whole number");
  return Number(value.trim());
}

function parseIdList(name: string, value: string): number[] {
  return idItems(name, value.split(","));
}

/**
 * The ids of list items; an item that is not a whole number after a comma was read
 * literally (`1,2`) equals no id, one without a comma is refused as the API does.
 */
function idItems(name: string, items: readonly string[]): number[] {
  return items.filter((v) => v.trim() !== "").flatMap((v) =>
    v.includes(",") ? [] : [parseIntParam(name, v)]
  );
}

function parseBool(name: string, value: string): boolean {
  const v = value.trim().toLowerCase();
  if (v === "true" || v === "1") return true;
  if (v === "false" || v === "0") return false;
  throw badValue(name, value, "use true or false");
}

/** The v3 form of a v2 category label: `COMMAND & CONTROL` → `command_and_control`. */
export function lowerCategory(label: string): string {
  return label.trim().toLowerCase().replace(/\s*&\s*/g, "_and_").replace(/[^a-z0-9]+/g, "_");
}

function addTo<K, V>(map: Map<K, Set<V>>, key: K, value: V): void {
  let set = map.get(key);
  if (set === undefined) {
    set = new Set();
    map.set(key, set);
  }
  set.add(value);
}

function removeFrom<K, V>(map: Map<K, Set<V>>, key: K, value: V): void {
  const set = map.get(key);
  if (set === undefined) return;
  set.delete(value);
  if (set.size === 0) map.delete(key);
}

const EMPTY: readonly number[] = Object.freeze([]);

/** The fake brain's stateful store. */
export class BrainStore {
  /** Hosts by id. */
  readonly hosts: Map<number, SeedHost> = new Map();
  /** Accounts by id. */
  readonly accounts: Map<number, SeedAccount> = new Map();
  /** Detections by id. */
  readonly detections: Map<number, SeedDetection> = new Map();
  /** Groups by id. */
  readonly groups: Map<number, SeedGroup> = new Map();
  #notes = new Map<string, FakeNote[]>();
  #modified = new Map<string, string>();
  #tagIndex: Record<FakeKind, Map<string, Set<number>>> = {
    host: new Map(),
    account: new Map(),
    detection: new Map(),
  };
  #detectionsByHost = new Map<number, Set<number>>();
  #detectionsByAccount = new Map<number, Set<number>>();
  #detectionsByType = new Map<string, Set<number>>();
  #groupsByHost = new Map<number, Set<number>>();
  #cache = new Map<string, readonly number[]>();
  #nextNoteId = 1001;
  #now: () => number;
  #commaReading: CommaReading = "anyof";
  #documentedOnly = false;

  constructor(data: SeedData, now: () => number) {
    this.#now = now;
    for (const host of data.hosts) this.putHost(host);
    for (const account of data.accounts) this.putAccount(account);
    for (const detection of data.detections) this.putDetection(detection);
    for (const group of data.groups) this.putGroup(group);
  }

  /** How list filter values with a comma are read (see {@linkcode CommaReading}). */
  get commaReading(): CommaReading {
    return this.#commaReading;
  }

  set commaReading(reading: CommaReading) {
    this.#commaReading = reading;
    this.#changed();
  }

  /** True when list filters no documentation lists (`id`) are ignored. */
  get documentedOnly(): boolean {
    return this.#documentedOnly;
  }

  set documentedOnly(on: boolean) {
    this.#documentedOnly = on;
    this.#changed();
  }

  /** The map of a kind. */
  records(kind: FakeKind): Map<number, Rec> {
    return kind === "host" ? this.hosts : kind === "account" ? this.accounts : this.detections;
  }

  /** Adds or replaces a host. */
  putHost(host: SeedHost): void {
    this.#reindexTags("host", this.hosts.get(host.id), host);
    this.hosts.set(host.id, host);
    this.#changed();
  }

  /** Adds or replaces an account. */
  putAccount(account: SeedAccount): void {
    this.#reindexTags("account", this.accounts.get(account.id), account);
    this.accounts.set(account.id, account);
    this.#changed();
  }

  /** Adds or replaces a detection. */
  putDetection(detection: SeedDetection): void {
    const old = this.detections.get(detection.id);
    this.#reindexTags("detection", old, detection);
    if (old !== undefined) {
      if (old.hostId !== null) removeFrom(this.#detectionsByHost, old.hostId, old.id);
      if (old.accountId !== null) removeFrom(this.#detectionsByAccount, old.accountId, old.id);
      removeFrom(this.#detectionsByType, old.type, old.id);
    }
    if (detection.hostId !== null) addTo(this.#detectionsByHost, detection.hostId, detection.id);
    if (detection.accountId !== null) {
      addTo(this.#detectionsByAccount, detection.accountId, detection.id);
    }
    addTo(this.#detectionsByType, detection.type, detection.id);
    this.detections.set(detection.id, detection);
    this.#changed();
  }

  /** Adds or replaces a group. */
  putGroup(group: SeedGroup): void {
    const old = this.groups.get(group.id);
    if (old !== undefined) {
      for (const hostId of old.hostIds) removeFrom(this.#groupsByHost, hostId, old.id);
    }
    for (const hostId of group.hostIds) addTo(this.#groupsByHost, hostId, group.id);
    this.groups.set(group.id, group);
    this.#changed();
  }

  /** Removes an object; true if it existed. */
  remove(kind: FakeKind | "group", id: number): boolean {
    if (kind === "group") {
      const group = this.groups.get(id);
      if (group === undefined) return false;
      for (const hostId of group.hostIds) removeFrom(this.#groupsByHost, hostId, id);
      this.groups.delete(id);
      this.#changed();
      return true;
    }
    const rec = this.records(kind).get(id);
    if (rec === undefined) return false;
    this.#reindexTags(kind, rec, undefined);
    if (kind === "detection") {
      const d = rec as SeedDetection;
      if (d.hostId !== null) removeFrom(this.#detectionsByHost, d.hostId, id);
      if (d.accountId !== null) removeFrom(this.#detectionsByAccount, d.accountId, id);
      removeFrom(this.#detectionsByType, d.type, id);
    }
    this.records(kind).delete(id);
    this.#notes.delete(`${kind}:${id}`);
    this.#changed();
    return true;
  }

  /** Replaces an object's tags; false if it does not exist. */
  setTags(kind: FakeKind, id: number, tags: readonly string[]): boolean {
    const rec = this.records(kind).get(id);
    if (rec === undefined) return false;
    const next = { ...rec, tags: [...tags] };
    if (kind === "host") this.putHost(next as SeedHost);
    else if (kind === "account") this.putAccount(next as SeedAccount);
    else this.putDetection(next as SeedDetection);
    this.touch(kind, id);
    return true;
  }

  /** Marks an object as modified now (the entity's `last_modified_timestamp`). */
  touch(kind: FakeKind, id: number): void {
    this.#modified.set(`${kind}:${id}`, isoSeconds(this.#now()));
  }

  /** When the object was last modified through the API or a helper, or null. */
  modified(kind: FakeKind, id: number): string | null {
    return this.#modified.get(`${kind}:${id}`) ?? null;
  }

  /** Appends a note; null if the object does not exist. */
  addNote(kind: FakeKind, id: number, text: string, author: string): FakeNote | null {
    if (!this.records(kind).has(id)) return null;
    const note: FakeNote = {
      id: this.#nextNoteId++,
      dateCreated: isoMicros(this.#now()),
      dateModified: null,
      createdBy: author,
      modifiedBy: null,
      note: text,
    };
    const key = `${kind}:${id}`;
    const list = this.#notes.get(key) ?? [];
    list.push(note);
    this.#notes.set(key, list);
    this.touch(kind, id);
    return note;
  }

  /** Replaces a note's text; null if absent. */
  editNote(kind: FakeKind, id: number, noteId: number, text: string, author: string) {
    const list = this.#notes.get(`${kind}:${id}`) ?? [];
    const index = list.findIndex((n) => n.id === noteId);
    const old = list[index];
    if (old === undefined) return null;
    const note: FakeNote = {
      ...old,
      note: text,
      dateModified: isoMicros(this.#now()),
      modifiedBy: author,
    };
    list[index] = note;
    this.touch(kind, id);
    return note;
  }

  /** Deletes a note; false if absent. */
  deleteNote(kind: FakeKind, id: number, noteId: number): boolean {
    const list = this.#notes.get(`${kind}:${id}`) ?? [];
    const index = list.findIndex((n) => n.id === noteId);
    if (index < 0) return false;
    list.splice(index, 1);
    this.touch(kind, id);
    return true;
  }

  /** An object's notes, oldest first. */
  notes(kind: FakeKind, id: number): readonly FakeNote[] {
    return this.#notes.get(`${kind}:${id}`) ?? [];
  }

  /** Ids of a host's detections, ascending. */
  detectionsOfHost(hostId: number): number[] {
    return [...(this.#detectionsByHost.get(hostId) ?? [])].sort((a, b) => a - b);
  }

  /** Ids of an account's detections, ascending. */
  detectionsOfAccount(accountId: number): number[] {
    return [...(this.#detectionsByAccount.get(accountId) ?? [])].sort((a, b) => a - b);
  }

  /** Groups a host is a member of. */
  groupsOfHost(hostId: number): SeedGroup[] {
    return [...(this.#groupsByHost.get(hostId) ?? [])]
      .map((id) => this.groups.get(id))
      .filter((g): g is SeedGroup => g !== undefined);
  }

  /** Ids of the objects of a kind matching list query parameters, in result order. */
  listIds(kind: FakeKind, params: URLSearchParams): readonly number[] {
    const key = `${kind}?${cacheKey(params)}`;
    const cached = this.#cache.get(key);
    if (cached !== undefined) return cached;
    const filters: Predicate<Rec>[] = [];
    let candidates: Iterable<number> | null = null;
    const narrow = (ids: Iterable<number>) => {
      if (candidates === null) {
        candidates = ids;
        return;
      }
      const keep = new Set(ids);
      candidates = [...candidates].filter((id) => keep.has(id));
    };
    for (const [name, value] of params) {
      if (value === "" || PAGING.has(name)) continue;
      if (this.#documentedOnly && UNDOCUMENTED_FILTERS.has(name)) continue;
      const items = LIST_FILTERS.has(name) ? listItems(this.#commaReading, value) : [value];
      if (items === null) continue;
      const raw = items.join(",");
      if (name === "tags") {
        narrow(this.#tagged(kind, items));
        continue;
      }
      if (name === "id") {
        narrow(idItems(name, items));
        continue;
      }
      if (kind === "detection" && name === "host_id") {
        narrow(
          idItems(name, items).flatMap((id) => [...(this.#detectionsByHost.get(id) ?? [])]),
        );
        continue;
      }
      if (kind === "detection" && name === "src_account") {
        narrow(
          parseIdList(name, raw).flatMap((id) => [...(this.#detectionsByAccount.get(id) ?? [])]),
        );
        continue;
      }
      if (kind === "detection" && name === "detection_type") {
        narrow(this.#detectionsByType.get(raw) ?? []);
        continue;
      }
      filters.push(recordFilter(kind, name, raw));
    }
    const ordering = params.get("ordering") ?? "";
    const records = this.records(kind);
    const ids: number[] = [];
    const source: Iterable<number> = candidates ?? records.keys();
    for (const id of new Set(source)) {
      const rec = records.get(id);
      if (rec === undefined) continue;
      if (filters.every((f) => f(rec))) ids.push(id);
    }
    const sorted = sortIds(ids, ordering, (id) => records.get(id), kind);
    this.#remember(key, sorted);
    return sorted;
  }

  /** The entities (v3 `/entities`) matching query parameters, in result order. */
  listEntities(params: URLSearchParams): readonly EntityRef[] {
    const type = params.get("type") || params.get("entity_type") || "";
    if (type !== "" && type !== "host" && type !== "account") {
      throw badValue("type", type, "use host or account");
    }
    const refs: { ref: EntityRef; rec: SeedHost | SeedAccount }[] = [];
    const filters: Predicate<SeedHost | SeedAccount>[] = [];
    let tagged: { host: Set<number>; account: Set<number> } | null = null;
    for (const [name, raw] of params) {
      if (raw === "" || PAGING.has(name) || name === "type" || name === "entity_type") continue;
      if (name === "ordering") continue;
      if (name === "tags") {
        const items = listItems(this.#commaReading, raw);
        if (items === null) continue;
        tagged = {
          host: new Set(this.#tagged("host", items)),
          account: new Set(this.#tagged("account", items)),
        };
        continue;
      }
      if (name === "is_prioritized") {
        const want = parseBool(name, raw);
        filters.push((r) => (r.urgency >= PRIORITY_THRESHOLD) === want);
        continue;
      }
      if (name === "name" || name === "state") {
        filters.push(recordFilter("host", name, raw) as Predicate<SeedHost | SeedAccount>);
        continue;
      }
      throw notImplemented(name);
    }
    const add = (kindName: "host" | "account", map: Map<number, SeedHost | SeedAccount>) => {
      for (const rec of map.values()) {
        if (tagged !== null && !tagged[kindName].has(rec.id)) continue;
        if (filters.every((f) => f(rec))) refs.push({ ref: { type: kindName, id: rec.id }, rec });
      }
    };
    if (type !== "account") add("host", this.hosts);
    if (type !== "host") add("account", this.accounts);
    const ordering = params.get("ordering") ?? "";
    const { field, desc } = parseOrdering(ordering);
    const key = field === "" ? null : ENTITY_ORDER[field];
    if (key === undefined) throw notImplemented(`ordering=${ordering}`);
    if (key !== null) {
      refs.sort((a, b) => {
        const c = compare(
          key(a.rec, this.modified(a.ref.type, a.ref.id)),
          key(b.rec, this.modified(b.ref.type, b.ref.id)),
        );
        return (desc ? -c : c) || a.ref.id - b.ref.id;
      });
    }
    return refs.map((r) => r.ref);
  }

  /** Groups matching `name` (case-insensitive substring) and `type`, ascending id. */
  listGroups(params: URLSearchParams): SeedGroup[] {
    const filters: Predicate<SeedGroup>[] = [];
    for (const [name, raw] of params) {
      if (raw === "" || PAGING.has(name) || name === "include_members") continue;
      if (name === "name") {
        const needle = raw.toLowerCase();
        filters.push((g) => g.name.toLowerCase().includes(needle));
      } else if (name === "type") {
        filters.push((g) => g.type === raw);
      } else {
        throw notImplemented(name);
      }
    }
    return [...this.groups.values()].filter((g) => filters.every((f) => f(g)))
      .sort((a, b) => a.id - b.id);
  }

  /** Ids of objects with a tag containing any of the needles (case-insensitive). */
  #tagged(kind: FakeKind, items: readonly string[]): number[] {
    const needles = items.map((t) => t.trim().toLowerCase()).filter((t) => t !== "");
    const out = new Set<number>();
    for (const [tag, ids] of this.#tagIndex[kind]) {
      const lower = tag.toLowerCase();
      if (needles.some((n) => lower.includes(n))) { for (const id of ids) out.add(id); }
    }
    return [...out];
  }

  #reindexTags(kind: FakeKind, old: Rec | undefined, next: Rec | undefined): void {
    const index = this.#tagIndex[kind];
    if (old !== undefined) { for (const tag of old.tags) removeFrom(index, tag, old.id); }
    if (next !== undefined) { for (const tag of next.tags) addTo(index, tag, next.id); }
  }

  #remember(key: string, ids: readonly number[]): void {
    if (this.#cache.size >= 64) this.#cache.clear();
    this.#cache.set(key, ids.length === 0 ? EMPTY : ids);
  }

  #changed(): void {
    if (this.#cache.size > 0) this.#cache.clear();
  }
}

/** Entities with at least this urgency are `is_prioritized`. */
export const PRIORITY_THRESHOLD = 50;

const PAGING = new Set([
  "page",
  "page_size",
  "fields",
  "exclude_fields",
  "ordering",
  "all",
  "include_detection_summaries",
  "include_ldap",
  "include_external",
]);

function cacheKey(params: URLSearchParams): string {
  return [...params].filter(([name]) =>
    name !== "page" && name !== "page_size" && name !== "fields" && name !== "exclude_fields"
  ).map(([n, v]) => `${n}=${v}`).sort().join("&");
}

function notImplemented(name: string): QueryError {
  return new QueryError(501, {
    detail: `The fake brain does not implement the query parameter "${name}"`,
  });
}

function numberFilter(
  name: string,
  raw: string,
  pick: (rec: Rec) => number,
  gte: boolean,
): Predicate<Rec> {
  const value = parseIntParam(name, raw);
  return gte ? (r) => pick(r) >= value : (r) => pick(r) === value;
}

function recordFilter(kind: FakeKind, name: string, raw: string): Predicate<Rec> {
  switch (name) {
    case "threat":
    case "t_score":
      return numberFilter(name, raw, (r) => r.threat, false);
    case "threat_gte":
    case "t_score_gte":
      return numberFilter(name, raw, (r) => r.threat, true);
    case "certainty":
    case "c_score":
      return numberFilter(name, raw, (r) => r.certainty, false);
    case "certainty_gte":
    case "c_score_gte":
      return numberFilter(name, raw, (r) => r.certainty, true);
    case "min_id":
      return numberFilter(name, raw, (r) => r.id, true);
    case "max_id": {
      const max = parseIntParam(name, raw);
      return (r) => r.id <= max;
    }
    case "state":
      return (r) => r.state === raw;
    case "name": {
      const needle = raw.toLowerCase();
      if (kind === "detection") {
        return (r) => (r as SeedDetection).type.toLowerCase().includes(needle);
      }
      return (r) => (r as SeedHost | SeedAccount).name.toLowerCase().includes(needle);
    }
    case "uid":
      return (r) => (r as SeedAccount).uid === raw;
    case "last_source":
      return (r) => (r as SeedHost).ip === raw;
    case "key_asset":
    case "is_key_asset": {
      const want = parseBool(name, raw);
      return (r) => (r as SeedHost).isKeyAsset === want;
    }
    case "targets_key_asset":
    case "is_targeting_key_asset": {
      const want = parseBool(name, raw);
      return (r) => (r as SeedHost | SeedDetection).targetsKeyAsset === want;
    }
    case "is_triaged": {
      const want = parseBool(name, raw);
      return (r) => (r as SeedDetection).isTriaged === want;
    }
    case "detection_category":
    case "category": {
      const needle = lowerCategory(raw);
      return (r) => lowerCategory((r as SeedDetection).category).startsWith(needle);
    }
    case "src_ip":
      return (r) => (r as SeedDetection).srcIp === raw;
    default:
      throw notImplemented(name);
  }
}

function parseOrdering(ordering: string): { field: string; desc: boolean } {
  const trimmed = ordering.trim();
  return trimmed.startsWith("-")
    ? { field: trimmed.slice(1), desc: true }
    : { field: trimmed, desc: false };
}

type SortValue = number | string | null;

function compare(a: SortValue, b: SortValue): number {
  if (a === b) return 0;
  if (a === null) return -1;
  if (b === null) return 1;
  return a < b ? -1 : 1;
}

const RECORD_ORDER: Record<string, (r: Rec) => SortValue> = {
  id: (r) => r.id,
  threat: (r) => r.threat,
  t_score: (r) => r.threat,
  certainty: (r) => r.certainty,
  c_score: (r) => r.certainty,
  name: (r) => "name" in r ? r.name : r.type,
  last_detection_timestamp: (r) =>
    "lastDetectionTimestamp" in r ? r.lastDetectionTimestamp : r.lastTimestamp,
  last_timestamp: (r) => "lastTimestamp" in r ? r.lastTimestamp : null,
  first_timestamp: (r) => "firstTimestamp" in r ? r.firstTimestamp : null,
  detection_type: (r) => "type" in r && typeof r.type === "string" ? r.type : null,
};

const ENTITY_ORDER: Record<
  string,
  ((r: SeedHost | SeedAccount, modified: string | null) => SortValue) | null
> = {
  id: (r) => r.id,
  urgency_score: (r) => r.urgency,
  name: (r) => r.name,
  last_detection_timestamp: (r) => r.lastDetectionTimestamp,
  last_modified_timestamp: (r, modified) => modified ?? r.lastDetectionTimestamp,
};

function sortIds(
  ids: number[],
  ordering: string,
  get: (id: number) => Rec | undefined,
  _kind: FakeKind,
): number[] {
  const { field, desc } = parseOrdering(ordering);
  if (field === "") return ids.sort((a, b) => a - b);
  const key = RECORD_ORDER[field];
  if (key === undefined) throw notImplemented(`ordering=${ordering}`);
  return ids.sort((a, b) => {
    const ra = get(a);
    const rb = get(b);
    const c = ra === undefined || rb === undefined ? 0 : compare(key(ra), key(rb));
    return (desc ? -c : c) || a - b;
  });
}
