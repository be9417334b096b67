/**
 * The read step (engine.md §4.1, §4.6): exactly the queries the configured policy needs,
 * run concurrently and bounded, into a {@linkcode Snapshot}. A kind any of whose queries
 * fails is marked failed for the cycle (fail closed); the other kinds go on.
 *
 * @module
 */

import pLimit from "p-limit";
import type { Config, ScoreThreshold } from "../config_types.ts";
import type { Account, Detection, Group, Host, Kind } from "./model.ts";
import type {
  DetectionSnapshot,
  EntitySnapshot,
  FailedKind,
  OffKind,
  Snapshot,
  TypedMatch,
  UrgentMatch,
} from "./snapshot.ts";
import { BLOCK_EXPIRED_TAG, MARKER_TAGS, type PendingOperation, pendingTag } from "./state_tags.ts";
import type { ScoreQuery, VectraApi } from "./vectra/api.ts";
import { IdBatch } from "./id_batch.ts";
import { errorText } from "./error_text.ts";

export type {
  DetectionSnapshot,
  EntitySnapshot,
  FailedKind,
  OffKind,
  Snapshot,
} from "./snapshot.ts";

/** The settings the read step needs. */
export type SelectConfig =
  & Pick<Config, "blockTypes" | "explicitUnblock" | "host" | "account" | "detection">
  & Partial<Pick<Config, "blockExpireHours">>;

/** Options for {@linkcode select}. */
export interface SelectOptions {
  /** Tag names of the configured clients, whose `VAR Pending:` intents are read back. */
  readonly clientTags?: readonly string[];
  /**
   * How many API calls run at once for this brain.
   * @default {8}
   */
  readonly concurrency?: number;
  /**
   * Most detection-type sources of a kind looked up by id; above it the kind's score list
   * at the criterion's minimum is read instead and intersected with the sources (the same
   * entities the plan keeps, in fewer requests).
   * @default {600}
   */
  readonly sourceIdLimit?: number;
}

/**
 * Like `Promise.all`, but waits for every promise to settle before rejecting with the
 * first error, so no request of a failed kind is still running when the kind is reported.
 */
async function settleAll<T extends readonly unknown[] | []>(
  values: T,
): Promise<{ -readonly [P in keyof T]: Awaited<T[P]> }> {
  const results = await Promise.allSettled(values as readonly unknown[]);
  const out: unknown[] = [];
  for (const r of results) {
    if (r.status === "rejected") throw r.reason;
    out.push(r.value);
  }
  return out as {
    -readonly [P in keyof T]: Awaited<T[P]>;
  };
}

/** Sources looked up by id before a score list is cheaper (about one id= request). */
const SOURCE_ID_LIMIT = 600;

/** A configured group that does not exist (decisions #12). */
class MissingGroupError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "MissingGroupError";
  }
}

/** True when a threshold can match a score 0–99 (100 switches it off). */
function thresholdActive(t: ScoreThreshold | null): t is ScoreThreshold {
  if (t === null) return false;
  if (t.op === "and") return t.threat <= 99 && t.certainty <= 99;
  return t.threat <= 99 || t.certainty <= 99;
}

/** True when an urgency threshold can match a score 0–100 (101 switches it off). */
function urgencyActive(u: number | null): u is number {
  return u !== null && u <= 100;
}

const GROUP_KEYS: Readonly<Record<"host" | "account", { block: string; noBlock: string }>> = {
  host: { block: "BLOCK_HOST_GROUP_NAME", noBlock: "NO_BLOCK_HOST_GROUP_NAME" },
  account: { block: "BLOCK_ACCOUNT_GROUP_NAME", noBlock: "NO_BLOCK_ACCOUNT_GROUP_NAME" },
};

/**
 * Reads one brain: per enabled kind, every query the policy needs, with memoised shared
 * queries (the no-block host group serves hosts and detections). Never throws for a
 * query error: the kind is returned as failed with the error.
 *
 * @example
 * ```ts
 * const snapshot = await select(api, config, { clientTags: ["Test Client"] });
 * if (snapshot.host.status === "failed") console.error(snapshot.host.error);
 * ```
 */
export async function select(
  api: VectraApi,
  config: SelectConfig,
  options: SelectOptions = {},
): Promise<Snapshot> {
  const { clientTags = [], concurrency = 8, sourceIdLimit = SOURCE_ID_LIMIT } = options;
  api.startCycle?.();
  const limit = pLimit(Math.max(1, concurrency));
  const memo = new Map<string, Promise<unknown>>();
  const warnings: string[] = [];
  const brain = api.brain;

  function once<T>(key: string, run: () => Promise<T>): Promise<T> {
    const existing = memo.get(key) as Promise<T> | undefined;
    if (existing) return existing;
    const promise = limit(run);
    memo.set(key, promise);
    return promise;
  }

  const listHosts = (q: ScoreQuery) => once(`hosts ${JSON.stringify(q)}`, () => api.listHosts(q));
  const listAccounts = (q: ScoreQuery) =>
    once(`accounts ${JSON.stringify(q)}`, () => api.listAccounts(q));
  const typeDetections = (type: string) =>
    once(
      `detections type ${type}`,
      () => api.listDetections({ detectionType: type, state: "active" }),
    );

  async function group(type: "host" | "account", name: string, key: string): Promise<Group[]> {
    const groups = await once(`group ${type} ${name}`, () => api.groupsByName(name, type));
    const exact = groups.filter((g) => g.name === name && g.type === type);
    if (exact.length === 0) {
      throw new MissingGroupError(
        `${type} group "${name}" (${key}) does not exist on brain ${brain}; create the ` +
          `group in Vectra, or set ${key} empty to switch the criterion off`,
      );
    }
    return exact;
  }

  /** A lookup of objects by id, shared by the parts of one kind's read. */
  type Ask<E> = (ids: readonly number[]) => Promise<E[]>;

  async function hostGroupMembers(name: string, key: string, ask: Ask<Host>): Promise<Host[]> {
    const ids = await hostGroupIds(name, key);
    return ids.length === 0 ? [] : await ask(ids);
  }

  async function hostGroupIds(name: string, key: string): Promise<number[]> {
    return [...new Set((await group("host", name, key)).flatMap((g) => g.hostIds))];
  }

  async function accountGroupMembers(name: string, key: string): Promise<Account[]> {
    const uids = [...new Set((await group("account", name, key)).flatMap((g) => g.accountUids))];
    if (uids.length === 0) return [];
    return await once(`accounts by uids ${uids.join(",")}`, () => api.accountsByUids(uids));
  }

  async function scored<E>(
    t: ScoreThreshold,
    list: (q: ScoreQuery) => Promise<E[]>,
    idOf: (e: E) => number,
  ): Promise<E[]> {
    if (t.op === "and") return await list({ threatGte: t.threat, certaintyGte: t.certainty });
    const [a, b] = await settleAll([
      t.threat <= 99 ? list({ threatGte: t.threat }) : Promise.resolve([]),
      t.certainty <= 99 ? list({ certaintyGte: t.certainty }) : Promise.resolve([]),
    ]);
    const byId = new Map<number, E>();
    for (const e of [...a, ...b]) byId.set(idOf(e), e);
    return [...byId.values()];
  }

  /** The pending intent tags of every configured client. */
  const pendingTags = clientTags.flatMap((c) =>
    (["block", "unblock"] as PendingOperation[]).map((op) => pendingTag(c, op))
  );

  /**
   * One any-of `tags=` query for all tag criteria of a kind, split on var's side; with an
   * expiry for the kind, the `VAR Block Expired` mark is one of them.
   */
  async function tagUnion<E extends { id: number; tags: readonly string[] }>(
    list: (tags: readonly string[]) => Promise<E[]>,
    blockTag: string | null,
    kind: Kind,
  ): Promise<{ tagged: E[]; blocked: E[]; pending: E[]; expired?: E[] }> {
    const marker = MARKER_TAGS[kind];
    const expires = (config.blockExpireHours?.[kind] ?? null) !== null;
    const tags = [
      ...new Set([
        ...(blockTag ? [blockTag] : []),
        marker,
        ...pendingTags,
        ...(expires ? [BLOCK_EXPIRED_TAG] : []),
      ]),
    ];
    const all = await list(tags);
    return {
      tagged: blockTag ? all.filter((e) => e.tags.includes(blockTag)) : [],
      blocked: all.filter((e) => e.tags.includes(marker)),
      pending: all.filter((e) => pendingTags.some((t) => e.tags.includes(t))),
      ...(expires ? { expired: all.filter((e) => e.tags.includes(BLOCK_EXPIRED_TAG)) } : {}),
    };
  }

  async function readHosts(): Promise<EntitySnapshot<Host>> {
    const policy = config.host;
    const keys = GROUP_KEYS.host;
    const useUrgency = api.version !== "2.5" && policy.urgency !== null;
    // Every part that needs hosts by id asks one batch: one lookup for the kind.
    const { noBlockGroup, blockGroup, urgency } = policy;
    const byId = new IdBatch<Host>((ids) => api.hostsByIds(ids));
    const reads = settleAll([
      noBlockGroup ? byId.join((ask) => hostGroupMembers(noBlockGroup, keys.noBlock, ask)) : [],
      tagUnion((anyTags) => listHosts({ anyTags }), policy.blockTag, "host"),
      !useUrgency && thresholdActive(policy.threatCertainty)
        ? scored(policy.threatCertainty, listHosts, (h) => h.id)
        : [],
      useUrgency && urgencyActive(urgency)
        ? byId.join((ask) => urgentOf("host", urgency, ask))
        : [],
      blockGroup ? byId.join((ask) => hostGroupMembers(blockGroup, keys.block, ask)) : [],
      byId.join((ask) =>
        typedSources("host", policy.detectionTypes, policy.detectionTypesMinScore, ask)
      ),
    ]);
    byId.close();
    const [noBlock, { tagged, blocked, pending, expired }, scoredHosts, urgent, grouped, typed] =
      await reads;
    return {
      status: "ok",
      kind: "host",
      tagged,
      scored: scoredHosts,
      urgent,
      grouped,
      typed,
      noBlock,
      blocked,
      pending,
      ...(expired ? { expired } : {}),
    };
  }

  /** The entities at or above an urgency (v3), looked up through the kind's batch. */
  async function urgentOf<E extends Host | Account>(
    kind: "host" | "account",
    min: number,
    ask: Ask<E>,
  ): Promise<UrgentMatch<E>[]> {
    const urgent = await once(`urgent ${kind} ${min}`, () => api.urgentEntities(kind, min));
    if (urgent.length === 0) return [];
    const entities = await ask(urgent.map((u) => u.id));
    const score = new Map(urgent.map((u) => [u.id, u.urgencyScore]));
    return entities.map((entity) => ({ entity, urgencyScore: score.get(entity.id) ?? 0 }));
  }

  /** Sources of active detections of the types, looked up through the kind's batch. */
  async function typedSources<E extends Host | Account>(
    kind: E["kind"],
    types: readonly string[],
    min: ScoreThreshold,
    ask: Ask<E>,
  ): Promise<TypedMatch<E>[]> {
    // The plan keeps only sources at or above the minimum: a minimum that matches
    // nothing needs no read at all.
    if (types.length === 0 || !thresholdActive(min)) return [];
    const detections = (await settleAll(types.map(typeDetections))).flat();
    const sourceOf = (d: Detection) => kind === "host" ? d.hostId : d.accountId;
    const ids = [...new Set(detections.map(sourceOf).filter((id): id is number => id !== null))];
    if (ids.length === 0) return [];
    // More sources than one id= request holds: the score list at the minimum is one
    // request per 5,000 qualifying entities instead of one per ~600 sources.
    const wanted = new Set(ids);
    const list = (kind === "host" ? listHosts : listAccounts) as (q: ScoreQuery) => Promise<E[]>;
    const entities: E[] = ids.length > sourceIdLimit
      ? (await scored(min, list, (e) => e.id)).filter((e) => wanted.has(e.id))
      : await ask(ids);
    const byId = new Map(entities.map((e) => [e.id, e]));
    const matches: TypedMatch<E>[] = [];
    for (const d of detections) {
      const id = sourceOf(d);
      const entity = id === null ? undefined : byId.get(id);
      if (entity && d.state === "active") {
        matches.push({ entity, detectionType: d.detectionType, detectionId: d.id });
      }
    }
    return matches;
  }

  async function readAccounts(): Promise<EntitySnapshot<Account>> {
    const policy = config.account;
    const keys = GROUP_KEYS.account;
    const useUrgency = api.version !== "2.5" && policy.urgency !== null;
    // Group members are looked up by uid; every part that needs accounts by id asks one batch.
    const { urgency } = policy;
    const byId = new IdBatch<Account>((ids) => api.accountsByIds(ids));
    const reads = settleAll([
      policy.noBlockGroup ? accountGroupMembers(policy.noBlockGroup, keys.noBlock) : [],
      tagUnion((anyTags) => listAccounts({ anyTags }), policy.blockTag, "account"),
      !useUrgency && thresholdActive(policy.threatCertainty)
        ? scored(policy.threatCertainty, listAccounts, (a) => a.id)
        : [],
      useUrgency && urgencyActive(urgency)
        ? byId.join((ask) => urgentOf("account", urgency, ask))
        : [],
      policy.blockGroup ? accountGroupMembers(policy.blockGroup, keys.block) : [],
      byId.join((ask) =>
        typedSources("account", policy.detectionTypes, policy.detectionTypesMinScore, ask)
      ),
    ]);
    byId.close();
    const [noBlock, { tagged, blocked, pending, expired }, scoredAccounts, urgent, grouped, typed] =
      await reads;
    return {
      status: "ok",
      kind: "account",
      tagged,
      scored: scoredAccounts,
      urgent,
      grouped,
      typed,
      noBlock,
      blocked,
      pending,
      ...(expired ? { expired } : {}),
    };
  }

  async function readDetections(): Promise<DetectionSnapshot> {
    const policy = config.detection;
    const noBlockName = config.host.noBlockGroup;
    const [{ tagged, blocked, pending, expired }, typed, scoredHosts, noBlockHostIds] =
      await settleAll([
        tagUnion(
          (anyTags) =>
            once(`detections tags ${anyTags.join(",")}`, () => api.listDetections({ anyTags })),
          policy.blockTag,
          "detection",
        ),
        settleAll(policy.detectionTypes.map(typeDetections)).then((l) => l.flat()),
        thresholdActive(policy.hostThreatCertainty)
          ? scored(policy.hostThreatCertainty, listHosts, (h) => h.id)
          : [],
        noBlockName ? hostGroupIds(noBlockName, GROUP_KEYS.host.noBlock) : [],
      ]);
    const hostIds = scoredHosts.map((h) => h.id);
    const scoredHostDetections = hostIds.length === 0 ? [] : await once(
      `detections of hosts ${hostIds.join(",")}`,
      () => api.listDetections({ hostIds, state: "active", isTriaged: false }),
    );
    return {
      status: "ok",
      kind: "detection",
      tagged,
      typed,
      scoredHosts,
      scoredHostDetections,
      noBlockHostIds,
      blocked,
      pending,
      ...(expired ? { expired } : {}),
    };
  }

  function read<S>(kind: Kind, run: () => Promise<S>): Promise<S | FailedKind | OffKind> {
    if (!config.blockTypes.has(kind)) return Promise.resolve({ status: "off", kind });
    return run().catch((error: unknown): FailedKind => ({
      status: "failed",
      kind,
      error: `Cannot read ${kind}s from brain ${brain}: ${
        errorText(error)
      }; nothing of kind ${kind} is blocked or unblocked this cycle`,
    }));
  }

  const [host, account, detection] = await settleAll([
    read("host", readHosts),
    read("account", readAccounts),
    read("detection", readDetections),
  ]);
  return { brain, version: api.version, host, account, detection, warnings };
}
