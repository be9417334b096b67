/**
 * The fake brain's JSON: hosts, accounts, detections, entities, groups and notes shaped
 * like vectra-api.md §5 for each API version. Private to `demo/`.
 *
 * @module
 */

import type { FakeApiVersion } from "./_brain_params.ts";
import {
  type BrainStore,
  type FakeKind,
  type FakeNote,
  lowerCategory,
  PRIORITY_THRESHOLD,
} from "./_brain_store.ts";
import type { SeedAccount, SeedDetection, SeedGroup, SeedHost } from "./seed.ts";

/** What rendering needs besides the record. */
export interface RenderContext {
  /** The request's origin, e.g. `http://127.0.0.1:4711`. */
  readonly origin: string;
  /** The API root path, e.g. `/api/v3.4`. */
  readonly base: string;
  readonly version: FakeApiVersion;
  readonly store: BrainStore;
}

type Json = Record<string, unknown>;

const PATHS: Record<FakeKind, string> = {
  host: "hosts",
  account: "accounts",
  detection: "detections",
};

/** The absolute URL of an object. */
export function objectUrl(ctx: RenderContext, kind: FakeKind, id: number): string {
  return `${ctx.origin}${ctx.base}/${PATHS[kind]}/${id}`;
}

function isV3(ctx: RenderContext): boolean {
  return ctx.version !== "2.5";
}

/** HTML-escapes a note as objects return it. */
export function escapeHtml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;").replace(/'/g, "&#x27;");
}

/** A note object (§5.7). */
export function renderNote(note: FakeNote): Json {
  return {
    id: note.id,
    date_created: note.dateCreated,
    date_modified: note.dateModified,
    created_by: note.createdBy,
    modified_by: note.modifiedBy,
    note: note.note,
  };
}

function noteFields(ctx: RenderContext, kind: FakeKind, id: number): Json {
  const notes = ctx.store.notes(kind, id);
  const latest = notes.at(-1);
  return {
    note: latest === undefined ? null : escapeHtml(latest.note),
    note_modified_by: latest === undefined ? null : latest.modifiedBy ?? latest.createdBy,
    note_modified_timestamp: latest === undefined
      ? null
      : latest.dateModified ?? latest.dateCreated,
    notes: notes.map((n) => ({ ...renderNote(n), note: escapeHtml(n.note) })),
  };
}

function severity(threat: number, certainty: number): string {
  if (threat >= 50 && certainty >= 50) return "critical";
  if (threat >= 50) return "high";
  if (certainty >= 50) return "medium";
  return "low";
}

function urgencySeverity(urgency: number): string {
  if (urgency >= 80) return "Critical";
  if (urgency >= 50) return "High";
  if (urgency >= 30) return "Medium";
  return "Low";
}

function groupRef(group: SeedGroup): Json {
  return { id: group.id, name: group.name, description: group.description, type: group.type };
}

/** A host object (§5.1). v3 omits the deprecated `key_asset`/`targets_key_asset` aliases. */
export function renderHost(ctx: RenderContext, host: SeedHost): Json {
  const out: Json = {
    id: host.id,
    name: host.name,
    state: host.state,
    threat: host.threat,
    certainty: host.certainty,
    severity: severity(host.threat, host.certainty),
    last_source: host.ip,
    ip: host.ip,
    previous_ips: [],
  };
  if (!isV3(ctx)) {
    out.key_asset = host.isKeyAsset;
    out.targets_key_asset = host.targetsKeyAsset;
  }
  Object.assign(out, {
    is_key_asset: host.isKeyAsset,
    is_targeting_key_asset: host.targetsKeyAsset,
    probable_owner: host.probableOwner,
    last_seen: host.lastSeen,
    last_detection_timestamp: host.lastDetectionTimestamp,
    tags: [...host.tags],
    ...noteFields(ctx, "host", host.id),
    host_artifact_set: host.artifacts.map((a) => ({
      type: a.type,
      value: a.value,
      source: null,
      siem: false,
    })),
    ldap: host.ldap,
    detection_set: ctx.store.detectionsOfHost(host.id).map((id) => objectUrl(ctx, "detection", id)),
    groups: ctx.store.groupsOfHost(host.id).map(groupRef),
    privilege_level: null,
    privilege_category: null,
    sensor: "fake0001",
    sensor_name: "Fake Sensor",
    url: objectUrl(ctx, "host", host.id),
  });
  return out;
}

/** An account object (§5.2); `account_type` is a string on v2 and a list on v3. */
export function renderAccount(ctx: RenderContext, account: SeedAccount): Json {
  return {
    id: account.id,
    name: account.name,
    display_name: account.displayName,
    account_type: isV3(ctx) ? [account.accountType] : account.accountType,
    state: account.state,
    threat: account.threat,
    certainty: account.certainty,
    severity: severity(account.threat, account.certainty),
    privilege_level: account.privilegeLevel,
    privilege_category: account.privilegeCategory,
    probable_home: null,
    ldap: account.ldap,
    tags: [...account.tags],
    ...noteFields(ctx, "account", account.id),
    last_detection_timestamp: account.lastDetectionTimestamp,
    detection_set: ctx.store.detectionsOfAccount(account.id).map((id) =>
      objectUrl(ctx, "detection", id)
    ),
    url: objectUrl(ctx, "account", account.id),
  };
}

/**
 * A detection object (§5.3). v2.5: upper-case `category` and `detection_category`, with
 * `t_score`, `c_score`, `targets_key_asset`. v3.3: lower-case, with those fields and a
 * `type`. v3.4: lower-case `detection_category` and `type` only.
 */
export function renderDetection(ctx: RenderContext, d: SeedDetection): Json {
  const host = d.hostId === null ? undefined : ctx.store.hosts.get(d.hostId);
  const account = d.accountId === null ? undefined : ctx.store.accounts.get(d.accountId);
  const category = isV3(ctx) ? lowerCategory(d.category) : d.category;
  const out: Json = {
    id: d.id,
    detection_type: d.type,
    detection: d.type,
  };
  if (ctx.version !== "3.4") out.category = category;
  out.detection_category = category;
  if (isV3(ctx)) out.type = d.hostId !== null ? "host" : "account";
  Object.assign(out, {
    state: d.state,
    is_triaged: d.isTriaged,
    triage_rule_id: d.triageRuleId,
    threat: d.threat,
    certainty: d.certainty,
  });
  if (ctx.version !== "3.4") {
    out.t_score = d.threat;
    out.c_score = d.certainty;
    out.targets_key_asset = d.targetsKeyAsset;
  }
  const summary: Json = {};
  if (d.dstIps.length > 0) summary.dst_ips = [...d.dstIps];
  if (d.targetDomains.length > 0) summary.target_domains = [...d.targetDomains];
  Object.assign(summary, {
    num_sessions: 10 + (d.id % 97),
    bytes_sent: 1000 * (1 + (d.id % 53)),
    bytes_received: 800 * (1 + (d.id % 41)),
  });
  Object.assign(out, {
    is_targeting_key_asset: d.targetsKeyAsset,
    src_ip: d.srcIp,
    src_host: host === undefined ? null : {
      id: host.id,
      ip: host.ip,
      name: host.name,
      url: objectUrl(ctx, "host", host.id),
      is_key_asset: host.isKeyAsset,
      threat: host.threat,
      certainty: host.certainty,
      groups: ctx.store.groupsOfHost(host.id).map(groupRef),
    },
    src_account: account === undefined ? null : {
      id: account.id,
      name: account.name,
      url: objectUrl(ctx, "account", account.id),
      threat: account.threat,
      certainty: account.certainty,
      privilege_level: account.privilegeLevel,
      privilege_category: account.privilegeCategory,
    },
    summary,
    tags: [...d.tags],
    ...noteFields(ctx, "detection", d.id),
    first_timestamp: d.firstTimestamp,
    last_timestamp: d.lastTimestamp,
    url: objectUrl(ctx, "detection", d.id),
  });
  return out;
}

/** A v3 entity (§5.4) of a host or an account; v3.3 adds `entity_type` and `entity_importance`. */
export function renderEntity(
  ctx: RenderContext,
  type: "host" | "account",
  rec: SeedHost | SeedAccount,
): Json {
  const detections = type === "host"
    ? ctx.store.detectionsOfHost(rec.id)
    : ctx.store.detectionsOfAccount(rec.id);
  const out: Json = {
    id: rec.id,
    name: rec.name,
    breadth_contrib: 0,
    importance: 1,
    type,
    is_prioritized: rec.urgency >= PRIORITY_THRESHOLD,
    severity: urgencySeverity(rec.urgency),
    urgency_score: rec.urgency,
    velocity_contrib: 0,
    attack_rating: Math.round(rec.urgency / 10),
    attack_profile: null,
    state: rec.state,
    tags: [...rec.tags],
    notes: ctx.store.notes(type, rec.id).map((n) => ({
      ...renderNote(n),
      note: escapeHtml(n.note),
    })),
    sensors: ["fake0001"],
    detection_set: detections.map((id) => objectUrl(ctx, "detection", id)),
    last_detection_timestamp: rec.lastDetectionTimestamp,
    last_modified_timestamp: ctx.store.modified(type, rec.id) ?? rec.lastDetectionTimestamp,
    privilege_level: "privilegeLevel" in rec ? rec.privilegeLevel : null,
    privilege_category: "privilegeCategory" in rec ? rec.privilegeCategory : null,
    host_type: type === "host" ? [] : null,
    account_type: "accountType" in rec ? [rec.accountType] : null,
    url: objectUrl(ctx, type, rec.id),
  };
  if (ctx.version === "3.3") {
    out.entity_type = type === "host" ? ["host"] : [(rec as SeedAccount).accountType];
    out.entity_importance = 1;
  }
  return out;
}

/** A group (§5.5); members only when `withMembers`. */
export function renderGroup(ctx: RenderContext, group: SeedGroup, withMembers: boolean): Json {
  const out: Json = {
    id: group.id,
    name: group.name,
    description: group.description,
    type: group.type,
    importance: group.importance,
    last_modified: "2026-11-01T06:27:57Z",
    last_modified_by: "api client",
    cognito_managed: false,
    rules: [],
  };
  if (isV3(ctx)) {
    out.is_regex = false;
    out.regex = null;
  }
  if (withMembers) {
    if (group.type === "host") {
      out.members = group.hostIds.flatMap((id) => {
        const host = ctx.store.hosts.get(id);
        return host === undefined ? [] : [{
          id: host.id,
          name: host.name,
          is_key_asset: host.isKeyAsset,
          url: objectUrl(ctx, "host", host.id),
        }];
      });
    } else if (group.type === "account") {
      out.members = group.values.map((uid) => ({ uid }));
    } else {
      out.members = [...group.values];
    }
  }
  return out;
}

/** Keeps only `fields` (if given) and drops `excludeFields`. */
export function pickFields(
  object: Json,
  fields: readonly string[] | null,
  excludeFields: readonly string[] | null,
): Json {
  let out = object;
  if (fields !== null) {
    out = {};
    for (const field of fields) if (field in object) out[field] = object[field];
  }
  if (excludeFields !== null) {
    out = { ...out };
    for (const field of excludeFields) delete out[field];
  }
  return out;
}
