/**
 * The decide step (engine.md §4.2–4.4 with the corrections of §4.6): pure set algebra
 * from a {@linkcode Snapshot} and the policy to a {@linkcode Plan}, every entry with its
 * reasons. No I/O, no clock.
 *
 * @module
 */

import type { Config, ScoreThreshold } from "../config_types.ts";
import type { Operation } from "./client.ts";
import type { Account, Detection, Entity, Host, Kind } from "./model.ts";
import type { Category } from "./report.ts";
import type {
  DetectionSnapshot,
  EntitySnapshot,
  FailedKind,
  OffKind,
  Snapshot,
} from "./snapshot.ts";
import { isoSeconds, parsePendingTag } from "./state_tags.ts";
import { isRoutedTo, routingOf } from "./routing.ts";
import { singleHostAddress } from "./ip.ts";
import { type NeverBlockEntry, protection } from "./never_block.ts";

/** What the plan needs to know about a configured client. */
export interface PlanClient {
  /** Module name, e.g. `test_client`. */
  readonly name: string;
  /** Tag name, e.g. `Test Client`. */
  readonly tagName: string;
  /** Routing key matched against `client:<key>` tags. */
  readonly routingKey: string;
  readonly supports: ReadonlySet<Operation>;
}

/** The policy settings the plan reads. */
export type PlanConfig =
  & Pick<Config, "explicitUnblock" | "host" | "account" | "detection" | "limits">
  & Partial<Pick<Config, "neverBlock" | "blockExpireHours">>;

/** What one client does for one entry. */
export type StepMode = "block" | "unblock" | "groom" | "clear";

/** One (entity, client) pair of an entry. */
export interface ClientStep {
  /** Client module name. */
  readonly client: string;
  /** Client tag name. */
  readonly tagName: string;
  /** `clear` only removes a stale intent tag; no client call. */
  readonly mode: StepMode;
  /** Block and groom: the elements recorded for this client now. Unblock: the elements sent. */
  readonly elements: readonly string[];
  /** Unblock: elements another still-blocked entity records for this client; dropped from tags only. */
  readonly dropOnly: readonly string[];
  /** Unblock: call block first to learn the element ids (undoes an interrupted block). */
  readonly learnFirst: boolean;
  /** Why the step exists beyond the entry's reasons, e.g. `completes an interrupted block`. */
  readonly note: string | null;
  /**
   * A `clear` of an unblock's intent whose client holds no element any more: the unblock's
   * state write had removed them, so the unblock was carried out and clearing the intent
   * completes it, with its note.
   */
  readonly completesUnblock?: boolean;
}

/** One entity to block, unblock or groom, with its reasons and per-client steps. */
export interface PlanEntry {
  readonly kind: Kind;
  readonly entity: Entity;
  readonly operation: "block" | "unblock" | "groom";
  readonly reasons: readonly string[];
  readonly steps: readonly ClientStep[];
  /** The kind's configured block tag to remove (decisions #4), or null. */
  readonly removeTag: string | null;
  /**
   * An unblock because the entity no longer matches: the kind's configured block tag. If
   * the entity's tags, read again right before the first write, carry it, the list read
   * changed during the cycle and the unblock is not carried out. Otherwise null.
   */
  readonly keepIfTagged: string | null;
  /** Why the entry is not carried out (a blast-radius limit), or null. */
  readonly held: string | null;
  /** An unblock because the automatic block expired: the entity is marked `VAR Block Expired`. */
  readonly expires?: boolean;
}

/** A state tag written without any client call (`*_BLOCK_EXPIRE_HOURS`). */
export interface TagMark {
  readonly entity: Entity;
  /**
   * `stamp`: record the block time of a block that has none (made before expiry was
   * configured, or by the original); `rearm`: remove `VAR Block Expired` once the automatic
   * criteria stopped matching.
   */
  readonly mark: "stamp" | "rearm";
  readonly reason: string;
}

/** When a block held only by automatic criteria expires. */
export interface BlockExpiry {
  readonly entity: Entity;
  /** When the block began (null: a block this cycle makes or stamps). */
  readonly blockedAt: Date | null;
  readonly expiresAt: Date;
}

/** An entity that matches a block criterion but is excluded, and why. */
export interface SkippedEntity {
  readonly entity: Entity;
  readonly reasons: readonly string[];
  /**
   * Set when the entity's own data makes it unsafe to block (a host address that is not
   * one single host address, a detection with no destination that is): the reason.
   */
  readonly refusal?: string;
}

/** The plan for one kind. */
export interface KindPlan {
  readonly kind: Kind;
  /** `failed`: the kind could not be read, nothing is decided; `off`: not in BLOCK_TYPES. */
  readonly status: "ok" | "failed" | "off";
  /** The read error, when failed. */
  readonly error: string | null;
  readonly entries: readonly PlanEntry[];
  readonly skipped: readonly SkippedEntity[];
  /** Entities carrying the marker tag before the cycle. */
  readonly blockedBefore: number;
  /** Blast-radius limits that tripped, as messages. */
  readonly limitsTripped: readonly string[];
  /** Block times to record and expired marks to remove (no client call). */
  readonly marks: readonly TagMark[];
  /** Blocks held only by automatic criteria, with when they expire (when the kind's expire). */
  readonly expiries: readonly BlockExpiry[];
}

/** A message of the decide step that is not tied to one action. */
export interface PlanMessage {
  readonly category: Category;
  readonly text: string;
}

/** One brain's plan. */
export interface Plan {
  readonly brain: string;
  readonly host: KindPlan;
  readonly account: KindPlan;
  readonly detection: KindPlan;
  readonly messages: readonly PlanMessage[];
}

/** Options for {@linkcode plan}. */
export interface PlanOptions {
  /** The configured clients, in `THIRD_PARTY_CLIENTS` order. */
  readonly clients: readonly PlanClient[];
  /**
   * Groom blocked hosts (`--groom`).
   * @default {false}
   */
  readonly groom?: boolean;
  /**
   * Carry out blocks and unblocks beyond the blast-radius limits (`--confirm-blast-radius`).
   * @default {false}
   */
  readonly confirmBlastRadius?: boolean;
  /**
   * The cycle's time, against which block expiry (`*_BLOCK_EXPIRE_HOURS`) is measured.
   * Without it no block expires.
   */
  readonly now?: Date;
}

const BLOCK_OP: Readonly<Record<Kind, Operation>> = {
  host: "blockHost",
  account: "blockAccount",
  detection: "blockDetection",
};

const UNBLOCK_OP: Readonly<Record<Kind, Operation>> = {
  host: "unblockHost",
  account: "unblockAccount",
  detection: "unblockDetection",
};

const PLURAL: Readonly<Record<Kind, string>> = {
  host: "hosts",
  account: "accounts",
  detection: "detections",
};

/** The operation name a kind's block uses on a client (e.g. `blockHost`). */
export function blockOperation(kind: Kind): Operation {
  return BLOCK_OP[kind];
}

/** The operation name a kind's unblock uses on a client (e.g. `unblockHost`). */
export function unblockOperation(kind: Kind): Operation {
  return UNBLOCK_OP[kind];
}

/**
 * Describes how scores compare with a threshold, or returns null when they do not match:
 * `threat 80 >= 50 and certainty 90 >= 50`. Inclusive (`>=`) everywhere (decisions #2).
 */
export function scoreReason(
  threat: number,
  certainty: number,
  threshold: ScoreThreshold,
): string | null {
  const threatOk = threat >= threshold.threat;
  const certaintyOk = certainty >= threshold.certainty;
  const t = `threat ${threat} >= ${threshold.threat}`;
  const c = `certainty ${certainty} >= ${threshold.certainty}`;
  if (threshold.op === "and") return threatOk && certaintyOk ? `${t} and ${c}` : null;
  if (threatOk && certaintyOk) return `${t} or ${c}`;
  if (threatOk) return t;
  if (certaintyOk) return c;
  return null;
}

/** An entity matching the policy, with every reason found. */
interface Match {
  entity: Entity;
  reasons: string[];
  /** True when a person asked for the block (the block tag, the block group). */
  manual: boolean;
}

/** How a kind's blocks expire. */
interface ExpiryPolicy {
  /** Hours a block held only by automatic criteria lasts. */
  readonly hours: number;
  /** The config key, for reasons. */
  readonly key: string;
  readonly now: Date;
  /** Entities carrying `VAR Block Expired`. */
  readonly marked: ReadonlyMap<number, Entity>;
}

/** The kind-independent input of the set algebra. */
interface KindInput {
  readonly kind: Kind;
  readonly matches: Map<number, Match>;
  readonly noBlock: Map<number, Entity>;
  readonly noBlockReason: string;
  readonly blocked: Map<number, Entity>;
  readonly pending: Map<number, Entity>;
  readonly blockTag: string | null;
  readonly unblockTag: string | null;
  readonly groom: boolean;
  /** Why an entity must not be blocked whatever the policy says, or null. */
  readonly refusal: (entity: Entity) => string | null;
  /**
   * Why an entity, blocked or not, is protected by `NEVER_BLOCK_ADDRESSES` (it is then
   * unblocked), or null.
   */
  readonly protect: (entity: Entity) => string | null;
  /** How blocks held only by automatic criteria expire, or null when they never do. */
  readonly expiry: ExpiryPolicy | null;
}

/** A host without one single usable address is never blocked (nor groomed). */
function hostRefusal(entity: Entity): string | null {
  if (entity.kind !== "host") return null;
  const address = singleHostAddress(entity.ip);
  return address.ok ? null : address.reason;
}

/** A detection whose destinations were all refused is never blocked. */
function detectionRefusal(entity: Entity): string | null {
  if (entity.kind !== "detection") return null;
  if (entity.dstIps.length > 0 || entity.refusedDstIps.length === 0) return null;
  return entity.refusedDstIps.join("; ");
}

/** Mutable step while planning. */
interface StepDraft {
  client: string;
  tagName: string;
  mode: StepMode;
  elements: string[];
  dropOnly: string[];
  learnFirst: boolean;
  note: string | null;
  completesUnblock?: boolean;
}

/** Mutable entry while planning. */
interface EntryDraft {
  entity: Entity;
  operation: "block" | "unblock" | "groom";
  reasons: string[];
  steps: StepDraft[];
  removeTag: string | null;
  keepIfTagged?: string | null;
  expires?: boolean;
}

/**
 * Decides, for one brain, what to block, unblock and groom per kind, with reasons. A kind
 * that could not be read is decided nothing (fail closed).
 *
 * @example
 * ```ts
 * const p = plan(snapshot, config, { clients: [testClient] });
 * for (const entry of p.host.entries) console.log(entry.operation, entry.entity.name, entry.reasons);
 * ```
 */
export function plan(snapshot: Snapshot, config: PlanConfig, options: PlanOptions): Plan {
  const { clients, groom = false, confirmBlastRadius = false, now } = options;
  const messages: PlanMessage[] = snapshot.warnings.map((text) => ({
    category: "Warning",
    text,
  }));
  const unknownKeys = new Set<string>();
  const context: Context = { config, clients, messages, unknownKeys, snapshot, now };

  const neverBlock = config.neverBlock ?? [];
  const host = planKind(
    snapshot.host,
    context,
    (s) => entityInput(s, config.host, groom, neverBlock),
  );
  const account = planKind(
    snapshot.account,
    context,
    (s) => entityInput(s, config.account, false, neverBlock),
  );
  const detection = planKind(snapshot.detection, context, (s) => detectionInput(s, config));

  const kinds = [host, account, detection].map((k) =>
    k.status === "ok" ? applyLimits(k, config, snapshot.brain, confirmBlastRadius) : k
  );
  for (const k of kinds) {
    for (const text of k.limitsTripped) messages.push({ category: "Error", text });
  }
  if (groom && snapshot.host.status === "ok") {
    const cannot = clients.filter((c) => !c.supports.has("groomHost"));
    if (cannot.length > 0) {
      messages.push({
        category: "Warning",
        text: `Cannot groom hosts on brain ${snapshot.brain} with ${
          cannot.map((c) => c.name).join(", ")
        }: ${cannot.length === 1 ? "it does" : "they do"} not support grooming; ` +
          "hosts whose IP changed stay blocked at the old IP there",
      });
    }
  }
  if (unknownKeys.size > 0) {
    const known = clients.map((c) => c.routingKey.toLowerCase()).join(", ");
    messages.push({
      category: "Warning",
      text: `Cannot route by tag on brain ${snapshot.brain}: routing key(s) ${
        [...unknownKeys].map((k) => `"${k}"`).join(", ")
      } match no configured client; configured keys are ${known}`,
    });
  }
  return {
    brain: snapshot.brain,
    host: kinds[0] as KindPlan,
    account: kinds[1] as KindPlan,
    detection: kinds[2] as KindPlan,
    messages,
  };
}

/** Shared state of one plan() call. */
interface Context {
  readonly config: PlanConfig;
  readonly clients: readonly PlanClient[];
  readonly messages: PlanMessage[];
  readonly unknownKeys: Set<string>;
  readonly snapshot: Snapshot;
  readonly now: Date | undefined;
}

function emptyKindPlan(kind: Kind, status: "failed" | "off", error: string | null): KindPlan {
  return {
    kind,
    status,
    error,
    entries: [],
    skipped: [],
    blockedBefore: 0,
    limitsTripped: [],
    marks: [],
    expiries: [],
  };
}

function planKind<S extends { status: "ok"; expired?: readonly Entity[] }>(
  read: S | FailedKind | OffKind,
  context: Context,
  toInput: (s: S) => Omit<KindInput, "expiry">,
): KindPlan {
  if (read.status === "failed") return emptyKindPlan(read.kind, "failed", read.error);
  if (read.status === "off") return emptyKindPlan(read.kind, "off", null);
  const input = toInput(read as S);
  return decide({ ...input, expiry: expiryPolicy(input.kind, read as S, context) }, context);
}

/** Adds a reason; `manual` when a person asked for it (a tag, a group), not scores or types. */
function addMatch(
  matches: Map<number, Match>,
  entity: Entity,
  reason: string,
  manual = false,
): void {
  const existing = matches.get(entity.id);
  if (existing) {
    existing.entity = entity;
    existing.manual = existing.manual || manual;
    if (!existing.reasons.includes(reason)) existing.reasons.push(reason);
    return;
  }
  matches.set(entity.id, { entity, reasons: [reason], manual });
}

const EXPIRE_KEYS: Readonly<Record<Kind, string>> = {
  host: "HOST_BLOCK_EXPIRE_HOURS",
  account: "ACCOUNT_BLOCK_EXPIRE_HOURS",
  detection: "DETECTION_BLOCK_EXPIRE_HOURS",
};

/** The kind's expiry, or null when its blocks never expire (or the plan has no time). */
function expiryPolicy(
  kind: Kind,
  s: { readonly expired?: readonly Entity[] },
  context: Context,
): ExpiryPolicy | null {
  const hours = context.config.blockExpireHours?.[kind] ?? null;
  if (hours === null || context.now === undefined) return null;
  return { hours, key: EXPIRE_KEYS[kind], now: context.now, marked: byId(s.expired ?? []) };
}

function byId<E extends Entity>(entities: readonly E[]): Map<number, E> {
  return new Map(entities.map((e) => [e.id, e]));
}

function scoredInput<E extends Host | Account>(
  s: EntitySnapshot<E>,
  policy: Config["host"] | Config["account"],
): Map<number, Match> {
  const matches = new Map<number, Match>();
  if (policy.blockTag) {
    for (const e of s.tagged) {
      if (e.keptTags.includes(policy.blockTag)) {
        addMatch(matches, e, `tag ${policy.blockTag}`, true);
      }
    }
  }
  if (policy.threatCertainty) {
    for (const e of s.scored) {
      const reason = scoreReason(e.threat, e.certainty, policy.threatCertainty);
      if (reason) addMatch(matches, e, reason);
    }
  }
  if (policy.urgency !== null) {
    for (const u of s.urgent) {
      if (u.urgencyScore >= policy.urgency) {
        addMatch(matches, u.entity, `urgency ${u.urgencyScore} >= ${policy.urgency}`);
      }
    }
  }
  if (policy.blockGroup) {
    for (const e of s.grouped) addMatch(matches, e, `member of group ${policy.blockGroup}`, true);
  }
  for (const t of s.typed) {
    if (!policy.detectionTypes.includes(t.detectionType)) continue;
    const reason = scoreReason(t.entity.threat, t.entity.certainty, policy.detectionTypesMinScore);
    if (reason) addMatch(matches, t.entity, `detection type ${t.detectionType} (${reason})`);
  }
  return matches;
}

/** The decide step's input for hosts or accounts: both follow the same algebra. */
function entityInput<E extends Host | Account>(
  s: EntitySnapshot<E>,
  policy: PlanConfig["host"] | PlanConfig["account"],
  groom: boolean,
  neverBlock: readonly NeverBlockEntry[],
): Omit<KindInput, "expiry"> {
  const protect = (entity: Entity) =>
    entity.kind === "host" && entity.ip !== null ? protection(neverBlock, entity.ip) : null;
  return {
    kind: s.kind,
    matches: scoredInput(s, policy),
    noBlock: policy.noBlockGroup ? byId<Entity>(s.noBlock) : new Map(),
    noBlockReason: `member of no-block group ${policy.noBlockGroup ?? ""}`,
    blocked: byId<Entity>(s.blocked.filter((e) => e.isBlocked)),
    pending: byId<Entity>(s.pending),
    blockTag: policy.blockTag,
    unblockTag: policy.unblockTag,
    groom,
    refusal: (entity) => protect(entity) ?? hostRefusal(entity),
    protect,
  };
}

function isInfo(d: Detection): boolean {
  return d.category.trim().toLowerCase() === "info";
}

function detectionInput(
  snapshot: DetectionSnapshot,
  config: PlanConfig,
): Omit<KindInput, "expiry"> {
  const neverBlock = config.neverBlock ?? [];
  const s = withoutProtected(snapshot, neverBlock);
  const policy = config.detection;
  const matches = new Map<number, Match>();
  if (policy.blockTag) {
    for (const d of s.tagged) {
      if (d.keptTags.includes(policy.blockTag)) {
        addMatch(matches, d, `tag ${policy.blockTag}`, true);
      }
    }
  }
  for (const d of s.typed) {
    if (d.state !== "active" || !policy.detectionTypes.includes(d.detectionType)) continue;
    addMatch(matches, d, `detection type ${d.detectionType}`);
  }
  if (policy.hostThreatCertainty) {
    const hostReasons = new Map<number, string>();
    for (const h of s.scoredHosts) {
      const reason = scoreReason(h.threat, h.certainty, policy.hostThreatCertainty);
      if (reason) hostReasons.set(h.id, `source host ${h.id} ${h.name}: ${reason}`);
    }
    for (const d of s.scoredHostDetections) {
      if (d.hostId === null || d.state !== "active" || d.isTriaged || isInfo(d)) continue;
      const reason = hostReasons.get(d.hostId);
      if (reason) addMatch(matches, d, reason);
    }
  }
  const noBlockHosts = new Set(s.noBlockHostIds);
  const noBlock = new Map<number, Entity>();
  const all = [...s.tagged, ...s.typed, ...s.scoredHostDetections, ...s.blocked, ...s.pending];
  for (const d of all) {
    if (d.hostId !== null && noBlockHosts.has(d.hostId)) noBlock.set(d.id, d);
  }
  return {
    kind: "detection",
    matches,
    noBlock,
    noBlockReason: `source host member of no-block group ${config.host.noBlockGroup ?? ""}`,
    blocked: byId<Entity>(s.blocked.filter((e) => e.isBlocked)),
    pending: byId<Entity>(s.pending),
    blockTag: policy.blockTag,
    unblockTag: policy.unblockTag,
    groom: false,
    refusal: detectionRefusal,
    // A blocked detection holding a protected destination is unblocked (the next cycle
    // blocks its other destinations again).
    protect: (entity) => {
      if (entity.kind !== "detection") return null;
      const elements = [...entity.blockedElements.values()].flat();
      return elements.map((e) => protection(neverBlock, e)).find((r) => r !== null) ?? null;
    },
  };
}

/** The detections with their protected destinations moved to the refused ones, with why. */
function withoutProtected(
  s: DetectionSnapshot,
  neverBlock: readonly NeverBlockEntry[],
): DetectionSnapshot {
  if (neverBlock.length === 0) return s;
  const strip = (d: Detection): Detection => {
    const reasons = d.dstIps.map((ip) => protection(neverBlock, ip));
    if (reasons.every((r) => r === null)) return d;
    return {
      ...d,
      dstIps: d.dstIps.filter((_ip, i) => reasons[i] === null),
      refusedDstIps: [...d.refusedDstIps, ...reasons.filter((r): r is string => r !== null)],
    };
  };
  return {
    ...s,
    tagged: s.tagged.map(strip),
    typed: s.typed.map(strip),
    scoredHostDetections: s.scoredHostDetections.map(strip),
    blocked: s.blocked.map(strip),
    pending: s.pending.map(strip),
  };
}

function label(entity: Entity): string {
  return `${entity.kind} ${entity.id} ${entity.name}`;
}

/** The set algebra for one kind. */
function decide(input: KindInput, context: Context): KindPlan {
  const { kind, matches, noBlock, blocked, pending } = input;
  const { clients, messages, unknownKeys, config } = context;
  const blockOp = BLOCK_OP[kind];
  const unblockOp = UNBLOCK_OP[kind];
  const knownKeys = new Set(clients.map((c) => c.routingKey.toLowerCase()));
  const blockEntries = new Map<number, EntryDraft>();
  const unblockEntries = new Map<number, EntryDraft>();
  const groomEntries: EntryDraft[] = [];
  const skipped: SkippedEntity[] = [];
  const marks: TagMark[] = [];
  const expiries: BlockExpiry[] = [];
  /** Clients that should hold a block for an entity after this cycle. */
  const desired = new Map<number, Set<string>>();
  const blockers = clients.filter((c) => c.supports.has(blockOp));
  for (const c of clients) {
    if (!c.supports.has(blockOp)) {
      messages.push({
        category: "Warning",
        text: `${c.name} does not support ${PLURAL[kind]}; it blocks no ${kind}`,
      });
    }
  }

  // TO_BLOCK: (M \ NB) minus the unblock-tagged in explicit mode, per missing client.
  for (const [id, match] of matches) {
    const entity = match.entity;
    if (noBlock.has(id)) {
      skipped.push({ entity, reasons: [...match.reasons, input.noBlockReason] });
      continue;
    }
    if (config.explicitUnblock && input.unblockTag && entity.keptTags.includes(input.unblockTag)) {
      skipped.push({ entity, reasons: [...match.reasons, `unblock tag ${input.unblockTag}`] });
      continue;
    }
    const refusal = input.refusal(entity);
    if (refusal !== null) {
      skipped.push({ entity, reasons: [...match.reasons, refusal], refusal });
      messages.push({ category: "Warning", text: `Not blocking ${label(entity)}: ${refusal}` });
      continue;
    }
    const expired = input.expiry && !match.manual ? expiredReason(entity, input.expiry) : null;
    if (expired !== null) {
      skipped.push({ entity, reasons: [...match.reasons, expired] });
      continue;
    }
    const routing = routingOf(entity.keptTags);
    for (const tag of routing.malformed) {
      messages.push({
        category: "Warning",
        text: `Ignoring routing tag "${tag}" on ${label(entity)}: it has no ":"; use client:<key>`,
      });
    }
    for (const key of routing.keys) if (!knownKeys.has(key)) unknownKeys.add(key);
    const routed = blockers.filter((c) => isRoutedTo(routing, c.routingKey));
    desired.set(id, new Set(routed.map((c) => c.name)));
    if (routed.length === 0 && blockers.length > 0) {
      skipped.push({
        entity,
        reasons: [
          ...match.reasons,
          `routing tags ${routing.keys.map((k) => `client:${k}`).join(", ")} name no client`,
        ],
      });
      continue;
    }
    const missing = routed.filter((c) =>
      (entity.blockedElements.get(c.tagName)?.length ?? 0) === 0
    );
    if (missing.length === 0) continue;
    const expiresAt = input.expiry && !match.manual
      ? expiryTime(entity.isBlocked ? entity.blockedAt : null, input.expiry)
      : null;
    blockEntries.set(id, {
      entity,
      operation: "block",
      reasons: [
        ...match.reasons,
        ...(entity.kind === "detection" ? entity.refusedDstIps : []),
        ...(expiresAt && input.expiry ? [expiresText(expiresAt, input.expiry)] : []),
      ],
      steps: missing.map((c) => step(c, "block", [], null)),
      removeTag: null,
    });
  }

  // TO_UNBLOCK: (EXPLICIT ? blocked ∩ unblock tag : B \ M) ∪ (B ∩ NB).
  for (const [id, entity] of blocked) {
    const protectedBy = noBlock.get(id);
    const current = protectedBy ?? entity;
    const guarded = protectedBy ? null : input.protect(current);
    const reasons: string[] = [];
    let removable = false;
    if (protectedBy) {
      reasons.push(input.noBlockReason);
      removable = true;
    } else if (guarded !== null) {
      reasons.push(guarded);
    } else if (config.explicitUnblock) {
      if (input.unblockTag && current.keptTags.includes(input.unblockTag)) {
        reasons.push(`unblock tag ${input.unblockTag}`);
        removable = true;
      }
    } else if (!matches.has(id)) {
      reasons.push("no longer matches");
    }
    const match = matches.get(id);
    let expires = false;
    if (reasons.length === 0 && input.expiry && !match?.manual) {
      const expired = expiredReason(current, input.expiry);
      if (expired !== null) {
        reasons.push(expired);
        expires = true;
      } else if (!blockEntries.has(id)) {
        // (A block of its missing clients records the time and shows the expiry itself.)
        if (current.blockedAt === null) {
          marks.push({
            entity: current,
            mark: "stamp",
            reason: "held only by automatic criteria, with no recorded block time; " +
              `${input.expiry.key} ${input.expiry.hours} counts from now`,
          });
        }
        expiries.push({
          entity: current,
          blockedAt: current.blockedAt === null ? null : new Date(current.blockedAt),
          expiresAt: expiryTime(current.blockedAt, input.expiry),
        });
      }
    }
    if (reasons.length === 0) {
      const keep = desired.get(id) ?? new Set<string>();
      for (const c of clients) {
        if ((current.blockedElements.get(c.tagName)?.length ?? 0) > 0) keep.add(c.name);
      }
      desired.set(id, keep);
      continue;
    }
    const removeTag = removable && input.blockTag && current.keptTags.includes(input.blockTag)
      ? input.blockTag
      : null;
    const steps: StepDraft[] = [];
    for (const [tagName, elements] of current.blockedElements) {
      const client = clients.find((c) => c.tagName === tagName);
      if (!client) {
        messages.push({
          category: "Warning",
          text: `Keeping orphaned elements of ${label(current)}: client "${tagName}" is not ` +
            `configured; its element(s) ${elements.join(", ")} stay recorded`,
        });
        continue;
      }
      if (!client.supports.has(unblockOp)) {
        messages.push({
          category: "Warning",
          text: `Cannot unblock ${label(current)} on ${client.name}: it does not support ` +
            `${PLURAL[kind]}; its element(s) stay recorded`,
        });
        continue;
      }
      steps.push(step(client, "unblock", [...elements], null));
    }
    unblockEntries.set(id, {
      entity: current,
      operation: "unblock",
      reasons,
      steps,
      removeTag,
      keepIfTagged: !protectedBy && guarded === null && (expires || !config.explicitUnblock)
        ? input.blockTag
        : null,
      expires,
    });
  }

  // Expired marks whose automatic criteria no longer match: the entity may be blocked again.
  for (const [id, entity] of input.expiry?.marked ?? []) {
    if (matches.has(id) || blocked.has(id)) continue;
    marks.push({
      entity,
      mark: "rearm",
      reason: "the automatic criteria that held its expired block no longer match",
    });
  }

  // Elements another still-blocked entity records are dropped from tags only.
  const shared = new Map<string, Set<string>>();
  for (const [id, entity] of blocked) {
    if (unblockEntries.has(id)) continue;
    for (const [tagName, elements] of entity.blockedElements) {
      const set = shared.get(tagName) ?? new Set<string>();
      for (const e of elements) set.add(e);
      shared.set(tagName, set);
    }
  }
  for (const entry of unblockEntries.values()) {
    for (const s of entry.steps) {
      const held = shared.get(s.tagName);
      if (!held) continue;
      s.dropOnly = s.elements.filter((e) => held.has(e));
      s.elements = s.elements.filter((e) => !held.has(e));
    }
  }

  // TO_GROOM = B \ W \ TO_UNBLOCK (hosts, --groom).
  if (input.groom) {
    for (const [id, entity] of blocked) {
      if (unblockEntries.has(id) || noBlock.has(id) || input.refusal(entity) !== null) continue;
      const routing = routingOf(entity.keptTags);
      const steps = clients
        .filter((c) => c.supports.has("groomHost") && isRoutedTo(routing, c.routingKey))
        .filter((c) => (entity.blockedElements.get(c.tagName)?.length ?? 0) > 0)
        .map((c) => step(c, "groom", [...(entity.blockedElements.get(c.tagName) ?? [])], null));
      if (steps.length === 0) continue;
      groomEntries.push({
        entity,
        operation: "groom",
        reasons: ["groom"],
        steps,
        removeTag: null,
      });
    }
  }

  // Interrupted actions (issue 6): complete or undo each pending intent.
  for (const [id, entity] of pending) {
    for (const tag of entity.tags) {
      const intent = parsePendingTag(tag);
      if (!intent) continue;
      const client = clients.find((c) => c.tagName === intent.client);
      if (!client) {
        messages.push({
          category: "Warning",
          text: `Cannot resolve the interrupted ${intent.operation} of ${label(entity)}: ` +
            `client "${intent.client}" is not configured; tag "${tag}" stays`,
        });
        continue;
      }
      const recorded = [...(entity.blockedElements.get(client.tagName) ?? [])];
      if (desired.get(id)?.has(client.name) && client.supports.has(blockOp)) {
        const note = intent.operation === "block"
          ? "completes an interrupted block"
          : "re-blocks after an interrupted unblock";
        const entry = blockEntries.get(id) ?? {
          entity: matches.get(id)?.entity ?? entity,
          operation: "block" as const,
          reasons: [...(matches.get(id)?.reasons ?? ["still blocked"])],
          steps: [],
          removeTag: null,
        };
        const existing = entry.steps.find((s) => s.client === client.name);
        if (existing) existing.note = note;
        else entry.steps.push(step(client, "block", recorded, note));
        blockEntries.set(id, entry);
        continue;
      }
      const learnFirst = intent.operation === "block" && client.supports.has(blockOp);
      const note = intent.operation === "block"
        ? "undoes an interrupted block"
        : "completes an interrupted unblock";
      const entry = unblockEntries.get(id) ?? {
        entity,
        operation: "unblock" as const,
        reasons: ["interrupted action"],
        steps: [],
        removeTag: null,
      };
      const existing = entry.steps.find((s) => s.client === client.name);
      if (existing) {
        existing.learnFirst = existing.learnFirst || learnFirst;
        existing.note = note;
      } else if (
        (recorded.length > 0 || learnFirst) && client.supports.has(unblockOp)
      ) {
        entry.steps.push({ ...step(client, "unblock", recorded, note), learnFirst });
      } else if (intent.operation === "unblock" && recorded.length === 0) {
        // Its VAR ID tags go only once the client has unblocked: the state write was cut short.
        entry.steps.push({ ...step(client, "clear", [], note), completesUnblock: true });
      } else {
        entry.steps.push(step(client, "clear", [], "clears a stale intent"));
      }
      unblockEntries.set(id, entry);
    }
  }

  const entries: PlanEntry[] = [
    ...sortById([...blockEntries.values()]),
    ...sortById([...unblockEntries.values()]),
    ...sortById(groomEntries),
  ].map((e) => ({
    kind,
    entity: e.entity,
    operation: e.operation,
    reasons: e.reasons,
    steps: e.steps.map((s) => ({ ...s })),
    removeTag: e.removeTag,
    keepIfTagged: e.keepIfTagged ?? null,
    held: null,
    ...(e.expires ? { expires: true } : {}),
  }));
  return {
    kind,
    status: "ok",
    error: null,
    entries,
    skipped: skipped.sort((a, b) => a.entity.id - b.entity.id),
    blockedBefore: blocked.size,
    limitsTripped: [],
    marks: sortById(marks),
    expiries: sortById(expiries),
  };
}

/** When a block that began at `since` (null: now) expires. */
function expiryTime(since: number | null, expiry: ExpiryPolicy): Date {
  return new Date((since ?? expiry.now.getTime()) + expiry.hours * 3_600_000);
}

/** `automatic block expires 2026-12-08T10:00:00Z (HOST_BLOCK_EXPIRE_HOURS 24)`. */
function expiresText(at: Date, expiry: ExpiryPolicy): string {
  return `automatic block expires ${isoSeconds(at)} (${expiry.key} ${expiry.hours})`;
}

/**
 * Why an entity held only by automatic criteria is not (or no longer) blocked: it carries
 * `VAR Block Expired`, or its recorded block is older than the kind's expiry. Else null.
 */
function expiredReason(entity: Entity, expiry: ExpiryPolicy): string | null {
  if (entity.isBlocked && entity.blockedAt !== null) {
    const expiresAt = expiryTime(entity.blockedAt, expiry);
    if (expiresAt.getTime() <= expiry.now.getTime()) {
      return `automatic block expired ${isoSeconds(expiresAt)}: blocked since ` +
        `${isoSeconds(new Date(entity.blockedAt))}, ${expiry.key} ${expiry.hours}`;
    }
  }
  if (entity.blockExpired) {
    return `automatic block expired (${expiry.key} ${expiry.hours}); blocked again once its ` +
      "automatic criteria have stopped matching and match again, or when a person tags it";
  }
  return null;
}

function step(c: PlanClient, mode: StepMode, elements: string[], note: string | null): StepDraft {
  return {
    client: c.name,
    tagName: c.tagName,
    mode,
    elements,
    dropOnly: [],
    learnFirst: false,
    note,
  };
}

function sortById<T extends { entity: Entity }>(entries: T[]): T[] {
  return entries.sort((a, b) => a.entity.id - b.entity.id);
}

/** Holds a kind's blocks (or unblocks) when they exceed the blast-radius limits (issue 6). */
function applyLimits(
  k: KindPlan,
  config: PlanConfig,
  brain: string,
  confirmed: boolean,
): KindPlan {
  const { maxBlocksPerCycle, maxBlockedTotal, maxUnblocksPerCycle } = config.limits;
  const blocks = k.entries.filter((e) => e.operation === "block");
  const unblocks = k.entries.filter((e) => e.operation === "unblock");
  const newlyBlocked = blocks.filter((e) => !e.entity.isBlocked).length;
  const stillBlocked = k.blockedBefore - unblocks.filter((e) => e.entity.isBlocked).length;
  const projected = stillBlocked + newlyBlocked;
  const tripped: string[] = [];
  const fix = 'raise the limit or run "var run --confirm-blast-radius" once';
  let holdBlocks: string | null = null;
  let holdUnblocks: string | null = null;
  if (!confirmed && blocks.length > maxBlocksPerCycle) {
    holdBlocks = `Blast-radius limit on brain ${brain}: ${blocks.length} ${k.kind} blocks ` +
      `exceed MAX_BLOCKS_PER_CYCLE ${maxBlocksPerCycle}; no ${k.kind} is blocked this cycle; ${fix}`;
  } else if (!confirmed && newlyBlocked > 0 && projected > maxBlockedTotal) {
    holdBlocks = `Blast-radius limit on brain ${brain}: ${projected} blocked ${PLURAL[k.kind]} ` +
      `would exceed MAX_BLOCKED_TOTAL ${maxBlockedTotal} (${stillBlocked} blocked, ` +
      `${newlyBlocked} new); no ${k.kind} is blocked this cycle; ${fix}`;
  }
  if (!confirmed && unblocks.length > maxUnblocksPerCycle) {
    holdUnblocks = `Blast-radius limit on brain ${brain}: ${unblocks.length} ${k.kind} unblocks ` +
      `exceed MAX_UNBLOCKS_PER_CYCLE ${maxUnblocksPerCycle}; no ${k.kind} is unblocked this ` +
      `cycle; ${fix}`;
  }
  if (holdBlocks) tripped.push(holdBlocks);
  if (holdUnblocks) tripped.push(holdUnblocks);
  if (tripped.length === 0) return k;
  return {
    ...k,
    entries: k.entries.map((e) => {
      if (e.operation === "block" && holdBlocks) return { ...e, held: holdBlocks };
      if (e.operation === "unblock" && holdUnblocks) return { ...e, held: holdUnblocks };
      return e;
    }),
    limitsTripped: tripped,
  };
}
