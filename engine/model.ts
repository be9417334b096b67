/**
 * The entities var decides about: hosts, accounts and detections as read from a Vectra
 * brain, and the static destination IP list. Every client receives these objects.
 *
 * The parse functions (`parseHost`, `parseAccount`, `parseDetection`) turn API JSON of
 * either API version into these shapes, or throw a {@linkcode MalformedEntityError}.
 *
 * @module
 */

import { z } from "zod";
import { isInternalAddress, singleHostAddress } from "./ip.ts";
import { splitTags } from "./state_tags.ts";
import type { ApiVersion, BlockedElements, Kind } from "./kinds.ts";

export { KINDS } from "./kinds.ts";
export type { BlockedElements, Kind } from "./kinds.ts";

/** What every entity carries, whatever its kind. */
export interface EntityBase {
  /** The entity id on its brain. */
  readonly id: number;
  /** The display name: host name, account name, or detection type for detections. */
  readonly name: string;
  /** Every tag as read from Vectra, in order. */
  readonly tags: readonly string[];
  /** The tags var does not own (analyst tags, block tags, routing tags), in order. */
  readonly keptTags: readonly string[];
  /** The `VAR ID:<client tag name>:<element id>` tags, parsed. */
  readonly blockedElements: BlockedElements;
  /** True iff the kind's marker tag (`VAR Host Blocked`, ...) is present. */
  readonly isBlocked: boolean;
  /** The most recent note, or null. */
  readonly note: string | null;
  /** When the block began (`VAR Blocked At:` tag), epoch milliseconds, or null if not recorded. */
  readonly blockedAt: number | null;
  /** True iff the entity carries `VAR Block Expired`: its automatic block expired. */
  readonly blockExpired: boolean;
}

/** A Vectra host. */
export interface Host extends EntityBase {
  readonly kind: "host";
  /** The current IP (`last_source`); what firewalls and NACs block. Null when unknown. */
  readonly ip: string | null;
  readonly probableOwner: string | null;
  readonly threat: number;
  readonly certainty: number;
  /** v3 urgency score when read from `/entities`, else null. */
  readonly urgencyScore: number | null;
  readonly isKeyAsset: boolean;
  readonly targetsKeyAsset: boolean;
  /** Distinct artifact types. */
  readonly artifactTypes: readonly string[];
  /** Distinct MAC addresses from the `mac` artifacts, sorted. */
  readonly macAddresses: readonly string[];
  readonly vmwareVmName: string | null;
  readonly vmwareVmUuid: string | null;
  readonly awsVmUuid: string | null;
  /** ISO-8601 UTC (`...Z`). */
  readonly lastSeen: string;
  /** `lastSeen` as epoch seconds, parsed as UTC. */
  readonly lastSeenTsUtc: number;
  /** Resolved full name: windows_defender_name, dns, rdns, ldap dns_hostname, then name. */
  readonly fullName: string;
}

/** LDAP context of an account, read from the account's `ldap` object. */
export interface AccountLdap {
  readonly description?: string;
  readonly location?: string;
  readonly samAccountName?: string;
  readonly title?: string;
  readonly upn?: string;
  readonly commonName?: string;
  readonly email?: string;
}

/** A Vectra account. */
export interface Account extends EntityBase {
  readonly kind: "account";
  /** `display_name` when non-empty, else `name`. */
  readonly displayName: string;
  /** `account_type`, always as a list. */
  readonly accountType: readonly string[];
  readonly threat: number;
  readonly certainty: number;
  readonly severity: string | null;
  /** v3 urgency score when read from `/entities`, else null. */
  readonly urgencyScore: number | null;
  /** Empty when the account has no LDAP context. */
  readonly ldap: AccountLdap;
  readonly privilegeLevel: number | null;
  readonly privilegeCategory: string | null;
  readonly probableHome: string | null;
  /** Text between the first and second `:` of the last `Context:` tag, else "". */
  readonly context: string;
  /** `display_name` without its `O365:`-style prefix. */
  readonly normalizedName: string;
  /** `normalizedName` before the first `@`. */
  readonly fakeSam: string;
}

/** A Vectra detection. */
export interface Detection extends EntityBase {
  readonly kind: "detection";
  /** Source host id, or null for account detections. */
  readonly hostId: number | null;
  /** Source account id, or null. */
  readonly accountId: number | null;
  /** `category` (v2) or `detection_category` (v3.4); as returned. */
  readonly category: string;
  readonly detectionType: string;
  /** `src_ip`, or null. */
  readonly src: string | null;
  /** Distinct public destination IPs from `summary.dst_ips`, normalised. */
  readonly dstIps: readonly string[];
  /**
   * Why each entry of `summary.dst_ips` that is not one single host address was refused
   * (`address 0.0.0.0/0 is not a single host address`); internal addresses are left out
   * without a reason (decisions.md #1).
   */
  readonly refusedDstIps: readonly string[];
  /** Distinct `summary.target_domains`. */
  readonly dstDomains: readonly string[];
  /** `active`, `inactive` or `fixed`. */
  readonly state: string;
  readonly threat: number;
  readonly certainty: number;
  readonly targetsKeyAsset: boolean;
  /** `triage_rule_id`, or null. */
  readonly triage: number | string | null;
  readonly isTriaged: boolean;
}

/** Any entity. */
export type Entity = Host | Account | Detection;

/** Maps a kind to its entity type. */
export interface EntityOfKind {
  host: Host;
  account: Account;
  detection: Detection;
}

/** A batch of static destination entries (addresses or CIDR networks, normalised). */
export interface StaticIps {
  readonly dstIps: readonly string[];
}

/** A host or account group as returned by `GET /groups`, members resolved to ids/uids. */
export interface Group {
  readonly id: number;
  readonly name: string;
  readonly type: "host" | "account";
  /** Host member ids (host groups). */
  readonly hostIds: readonly number[];
  /** Account member uids (account groups). */
  readonly accountUids: readonly string[];
}

/** An API object that cannot be turned into an entity; names the entity id and field. */
export class MalformedEntityError extends Error {
  /** The entity's kind. */
  readonly kind: Kind;
  /** The entity id, when it could be read. */
  readonly entityId: number | null;
  /** The field at fault. */
  readonly field: string;

  constructor(
    kind: Kind,
    entityId: number | null,
    field: string,
    detail: string,
    options?: ErrorOptions,
  ) {
    super(
      `Cannot read ${kind} ${entityId ?? "(no id)"}: field "${field}" ${detail}`,
      options,
    );
    this.name = "MalformedEntityError";
    this.kind = kind;
    this.entityId = entityId;
    this.field = field;
  }
}

// ---------------------------------------------------------------------------------------
// Parsing API JSON into entities (engine.md §2). Tolerant of absent optional fields; a
// missing `id` or `tags`, or a field of the wrong type, is a MalformedEntityError.
// ---------------------------------------------------------------------------------------

/** Options of the parse functions. */
export interface ParseOptions {
  /**
   * The time used for a host's `last_seen` when the brain does not give one.
   * @default {new Date()}
   */
  now?: Date;
}

const score = z.number().min(0).nullish();
const flag = z.boolean().nullish();
const text = z.string().nullish();
const tagList = z.array(z.string());
const objectWithId = z.looseObject({ id: z.number().int().nullish() }).nullish();

const HostJson = z.looseObject({
  name: text,
  last_source: text,
  probable_owner: z.unknown().optional(),
  threat: score,
  certainty: score,
  urgency_score: score,
  key_asset: flag,
  is_key_asset: flag,
  targets_key_asset: flag,
  is_targeting_key_asset: flag,
  host_artifact_set: z.array(z.looseObject({ type: z.string(), value: z.unknown().optional() }))
    .nullish(),
  ldap: z.looseObject({ dns_hostname: z.union([z.array(z.unknown()), z.string()]).nullish() })
    .nullish(),
  tags: tagList,
  note: text,
  last_seen: text,
});

const AccountJson = z.looseObject({
  name: text,
  display_name: text,
  account_type: z.union([z.string(), z.array(z.string())]).nullish(),
  threat: score,
  certainty: score,
  urgency_score: score,
  severity: text,
  ldap: z.record(z.string(), z.unknown()).nullish(),
  privilege_level: z.number().nullish(),
  privilege_category: text,
  probable_home: z.unknown().optional(),
  tags: tagList,
  note: text,
});

const DetectionJson = z.looseObject({
  category: text,
  detection_category: text,
  detection_type: text,
  detection: text,
  src_ip: text,
  src_host: objectWithId,
  src_account: objectWithId,
  summary: z.looseObject({
    dst_ips: z.unknown().optional(),
    target_domains: z.unknown().optional(),
  }).nullish(),
  state: text,
  threat: score,
  certainty: score,
  t_score: score,
  c_score: score,
  targets_key_asset: flag,
  is_targeting_key_asset: flag,
  triage_rule_id: z.union([z.number(), z.string()]).nullish(),
  is_triaged: flag,
  tags: tagList,
  note: text,
});

const GroupJson = z.looseObject({
  name: z.string(),
  type: z.string(),
  members: z.array(z.unknown()),
});

/** Reads the integer `id` of an API object, or throws naming the kind. */
function readId(kind: Kind, json: unknown): number {
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    throw new MalformedEntityError(kind, null, "(object)", "is not a JSON object");
  }
  const id = (json as Record<string, unknown>)["id"];
  if (id === undefined || id === null) {
    throw new MalformedEntityError(kind, null, "id", "is missing");
  }
  if (typeof id !== "number" || !Number.isSafeInteger(id)) {
    throw new MalformedEntityError(kind, null, "id", `is not an integer: ${JSON.stringify(id)}`);
  }
  return id;
}

/** Validates `json` against `schema`, naming the entity and the first faulty field. */
function validate<T>(
  kind: Kind,
  id: number,
  schema: z.ZodType<T>,
  json: unknown,
  requireTags = true,
): T {
  const record = json as Record<string, unknown>;
  if (requireTags && !("tags" in record)) {
    throw new MalformedEntityError(kind, id, "tags", "is missing");
  }
  const result = schema.safeParse(json);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const field = issue?.path.map(String).join(".") || "(object)";
  const value = issue?.path.reduce<unknown>(
    (at, key) =>
      typeof at === "object" && at !== null ? (at as Record<PropertyKey, unknown>)[key] : undefined,
    json,
  );
  const detail = value === undefined
    ? "is missing"
    : `has an unexpected value: ${truncate(JSON.stringify(value))}`;
  throw new MalformedEntityError(kind, id, field, detail, { cause: result.error });
}

/** Shortens a value for an error message. */
function truncate(value: string | undefined, max = 80): string {
  if (value === undefined) return "undefined";
  return value.length > max ? `${value.slice(0, max)}…` : value;
}

/** The first of the values, or null. */
function firstOf<T>(...values: (T | null | undefined)[]): T | null {
  for (const value of values) if (value !== undefined && value !== null) return value;
  return null;
}

/** Distinct strings, in first-seen order. */
function distinct(values: Iterable<string>): string[] {
  return [...new Set(values)];
}

const HTML_ENTITIES: Readonly<Record<string, string>> = {
  "&amp;": "&",
  "&lt;": "<",
  "&gt;": ">",
  "&quot;": '"',
  "&#x27;": "'",
  "&#39;": "'",
};

/** Undoes the HTML escaping the API applies to an object's `note` field. */
function unescapeNote(note: string | null | undefined): string | null {
  if (note === null || note === undefined) return null;
  return note.replace(/&(amp|lt|gt|quot|#x27|#39);/g, (entity) => HTML_ENTITIES[entity] ?? entity);
}

/** The common part of every entity, from its tags and note. */
function base(
  kind: Kind,
  id: number,
  name: string,
  tags: string[],
  note: string | null | undefined,
) {
  const split = splitTags(kind, tags);
  return {
    id,
    name,
    tags,
    keptTags: split.keptTags,
    blockedElements: split.blockedElements,
    isBlocked: split.isBlocked,
    blockedAt: split.blockedAt,
    blockExpired: split.blockExpired,
    note: unescapeNote(note),
  };
}

const TIMESTAMP =
  /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(\.\d+)?(Z|[+-]\d{2}:?\d{2})?$/;

/** Parses an ISO-8601 timestamp as UTC when it has no offset; epoch milliseconds or null. */
export function parseUtcTimestamp(value: string): number | null {
  const match = TIMESTAMP.exec(value.trim());
  if (!match) return null;
  const [, y, mo, d, h, mi, s, fraction, zone] = match;
  let ms = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s));
  if (fraction) ms += Math.floor(Number(`0${fraction}`) * 1000);
  if (zone && zone !== "Z") {
    const sign = zone.startsWith("-") ? -1 : 1;
    const digits = zone.slice(1).replace(":", "");
    ms -= sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2))) * 60_000;
  }
  return Number.isFinite(ms) ? ms : null;
}

/** A host's artifacts, by type, values as strings. */
function artifactsByType(
  artifacts: readonly { type: string; value?: unknown }[],
): Map<string, string[]> {
  const byType = new Map<string, string[]>();
  for (const artifact of artifacts) {
    const values = byType.get(artifact.type) ?? [];
    if (typeof artifact.value === "string" && artifact.value !== "") values.push(artifact.value);
    byType.set(artifact.type, values);
  }
  return byType;
}

/** The lexicographically first value, for deterministic full-name resolution. */
function smallest(values: readonly string[] | undefined): string | null {
  if (!values || values.length === 0) return null;
  return [...values].sort()[0] ?? null;
}

/**
 * Parses a host object of `GET /hosts` or `GET /hosts/{id}` (engine.md §2.1).
 *
 * @example
 * ```ts
 * const host = parseHost(await response.json(), "2.5", { now: new Date() });
 * ```
 */
export function parseHost(json: unknown, version: ApiVersion, options: ParseOptions = {}): Host {
  const id = readId("host", json);
  const data = validate("host", id, HostJson, json);
  const v3 = version !== "2.5";
  const artifacts = data.host_artifact_set ?? [];
  const byType = artifactsByType(artifacts);
  const name = data.name ?? "";
  const dnsHostname = data.ldap?.dns_hostname;
  const ldapName = typeof dnsHostname === "string"
    ? dnsHostname
    : Array.isArray(dnsHostname) && typeof dnsHostname[0] === "string"
    ? dnsHostname[0]
    : null;
  const fullName = firstOf(
    smallest(byType.get("windows_defender_name")),
    smallest(byType.get("dns")),
    smallest(byType.get("rdns")),
    ldapName || null,
    name,
  ) ?? name;
  let lastSeen: string;
  let lastSeenMs: number;
  if (data.last_seen) {
    const parsed = parseUtcTimestamp(data.last_seen);
    if (parsed === null) {
      throw new MalformedEntityError(
        "host",
        id,
        "last_seen",
        `is not an ISO-8601 timestamp: ${truncate(JSON.stringify(data.last_seen))}`,
      );
    }
    lastSeenMs = parsed;
    lastSeen = /^\S+Z$/.test(data.last_seen) ? data.last_seen : new Date(parsed).toISOString();
  } else {
    const now = options.now ?? new Date();
    lastSeenMs = now.getTime();
    lastSeen = now.toISOString().replace(/\.\d{3}Z$/, "Z");
  }
  const keyAsset = v3
    ? firstOf(data.is_key_asset, data.key_asset)
    : firstOf(data.key_asset, data.is_key_asset);
  const targets = v3
    ? firstOf(data.is_targeting_key_asset, data.targets_key_asset)
    : firstOf(data.targets_key_asset, data.is_targeting_key_asset);
  return {
    kind: "host",
    ...base("host", id, name, data.tags, data.note),
    ip: data.last_source || null,
    probableOwner: typeof data.probable_owner === "string" ? data.probable_owner : null,
    threat: data.threat ?? 0,
    certainty: data.certainty ?? 0,
    urgencyScore: data.urgency_score ?? null,
    isKeyAsset: keyAsset ?? false,
    targetsKeyAsset: targets ?? false,
    artifactTypes: distinct(artifacts.map((artifact) => artifact.type)),
    macAddresses: distinct(byType.get("mac") ?? []).sort(),
    vmwareVmName: byType.get("vmachine_info")?.[0] ?? null,
    vmwareVmUuid: byType.get("vm_uuid")?.[0] ?? null,
    awsVmUuid: byType.get("aws_vm_uuid")?.[0] ?? null,
    lastSeen,
    lastSeenTsUtc: Math.floor(lastSeenMs / 1000),
    fullName,
  };
}

/** The account LDAP keys: var's name to the API's key inside the `ldap` object. */
const LDAP_KEYS: readonly [keyof AccountLdap, string][] = [
  ["description", "description"],
  ["location", "location"],
  ["samAccountName", "sAMAccountName"],
  ["title", "title"],
  ["upn", "user_principal_name"],
  ["commonName", "common_name"],
  ["email", "email"],
];

/** The text between the first and second `:` of `value`, or null without a `:`. */
function secondField(value: string): string | null {
  const parts = value.split(":");
  return parts.length > 1 ? parts[1] ?? "" : null;
}

/** Parses an account object of `GET /accounts` or `GET /accounts/{id}` (engine.md §2.2). */
export function parseAccount(
  json: unknown,
  _version: ApiVersion,
  _options: ParseOptions = {},
): Account {
  const id = readId("account", json);
  const data = validate("account", id, AccountJson, json);
  const name = data.name ?? "";
  const displayName = data.display_name || name;
  const ldap: Record<string, string> = {};
  for (const [key, source] of LDAP_KEYS) {
    const value = data.ldap?.[source];
    if (typeof value === "string") ldap[key] = value;
    else if (Array.isArray(value) && typeof value[0] === "string") ldap[key] = value[0];
  }
  let context = "";
  for (const tag of data.tags) {
    if (tag.startsWith("Context:")) context = secondField(tag) ?? "";
  }
  const normalizedName = secondField(displayName) ?? displayName;
  const at = normalizedName.indexOf("@");
  const accountType = data.account_type;
  return {
    kind: "account",
    ...base("account", id, name, data.tags, data.note),
    displayName,
    accountType: accountType === null || accountType === undefined
      ? []
      : typeof accountType === "string"
      ? [accountType]
      : accountType,
    threat: data.threat ?? 0,
    certainty: data.certainty ?? 0,
    severity: data.severity ?? null,
    urgencyScore: data.urgency_score ?? null,
    ldap: ldap as AccountLdap,
    privilegeLevel: data.privilege_level ?? null,
    privilegeCategory: data.privilege_category ?? null,
    probableHome: typeof data.probable_home === "string" ? data.probable_home : null,
    context,
    normalizedName,
    fakeSam: at < 0 ? normalizedName : normalizedName.slice(0, at),
  };
}

/**
 * The distinct public destination IPs of a detection summary, normalised, and why each
 * entry that is not one single host address was refused (internal ones are dropped).
 */
function destinations(value: unknown): { ips: string[]; refused: string[] } {
  if (!Array.isArray(value)) return { ips: [], refused: [] };
  const ips: string[] = [];
  const refused: string[] = [];
  for (const entry of value) {
    const checked = singleHostAddress(typeof entry === "string" ? entry : JSON.stringify(entry));
    if (!checked.ok) refused.push(`destination ${checked.reason}`);
    else if (!isInternalAddress(checked.address)) ips.push(checked.address);
  }
  return { ips: distinct(ips), refused: distinct(refused) };
}

/** Parses a detection object of `GET /detections` (engine.md §2.3), v2.5 and v3.4 alike. */
export function parseDetection(
  json: unknown,
  version: ApiVersion,
  _options: ParseOptions = {},
): Detection {
  const id = readId("detection", json);
  const data = validate("detection", id, DetectionJson, json);
  const detectionType = data.detection_type ?? data.detection ?? "";
  const category = version === "2.5"
    ? firstOf(data.category, data.detection_category)
    : firstOf(data.detection_category, data.category);
  const domains = data.summary?.target_domains;
  const dst = destinations(data.summary?.dst_ips);
  return {
    kind: "detection",
    ...base("detection", id, detectionType, data.tags, data.note),
    hostId: data.src_host?.id ?? null,
    accountId: data.src_account?.id ?? null,
    category: category ?? "",
    detectionType,
    src: data.src_ip || null,
    dstIps: dst.ips,
    refusedDstIps: dst.refused,
    dstDomains: Array.isArray(domains)
      ? distinct(domains.filter((domain): domain is string => typeof domain === "string"))
      : [],
    state: data.state ?? "",
    threat: firstOf(data.t_score, data.threat) ?? 0,
    certainty: firstOf(data.c_score, data.certainty) ?? 0,
    targetsKeyAsset: firstOf(data.targets_key_asset, data.is_targeting_key_asset) ?? false,
    triage: data.triage_rule_id ?? null,
    isTriaged: data.is_triaged ?? false,
  };
}

/** The id at the end of an object URL (`https://brain/api/v2.5/hosts/472` → 472). */
function idFromUrl(url: unknown): number | null {
  if (typeof url !== "string") return null;
  const match = /\/(\d+)\/?$/.exec(url);
  return match ? Number(match[1]) : null;
}

/**
 * Parses a host or account group of `GET /groups` (vectra-api.md §5.5). Returns null for
 * group types other than `host` and `account` (ip, domain). A group without a `members`
 * list is malformed: an unknown membership must never read as "no members".
 */
export function parseGroup(json: unknown, _version: ApiVersion): Group | null {
  const record = typeof json === "object" && json !== null ? json as Record<string, unknown> : {};
  const type = record["type"] === "account" ? "account" : "host";
  const id = readId(type, json);
  if (record["type"] !== "host" && record["type"] !== "account") {
    if (typeof record["type"] === "string") return null;
  }
  const data = validate(type, id, GroupJson, json, false);
  const hostIds = new Set<number>();
  const accountUids = new Set<string>();
  data.members.forEach((member, index) => {
    const field = `members.${index}`;
    if (type === "host") {
      const memberId = typeof member === "number"
        ? member
        : typeof member === "object" && member !== null
        ? firstOf(
          (member as Record<string, unknown>)["id"] as number | undefined,
          idFromUrl((member as Record<string, unknown>)["url"]),
        )
        : null;
      if (typeof memberId !== "number" || !Number.isSafeInteger(memberId)) {
        throw new MalformedEntityError(
          type,
          id,
          field,
          `has no host id in group "${data.name}": ${truncate(JSON.stringify(member))}`,
        );
      }
      hostIds.add(memberId);
    } else {
      const uid = typeof member === "string"
        ? member
        : typeof member === "object" && member !== null
        ? (member as Record<string, unknown>)["uid"]
        : undefined;
      if (typeof uid !== "string" || uid === "") {
        throw new MalformedEntityError(
          type,
          id,
          field,
          `has no account uid in group "${data.name}": ${truncate(JSON.stringify(member))}`,
        );
      }
      accountUids.add(uid);
    }
  });
  return { id, name: data.name, type, hostIds: [...hostIds], accountUids: [...accountUids] };
}
