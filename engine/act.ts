/**
 * The act step (engine.md §5, issue 6): carries out a plan's entries, one (entity, client)
 * pair at a time per client, with bounded concurrency over entities. Before a client is
 * called the intent is recorded on the entity (`VAR Pending:<client>:<op>`; with
 * `bulkIntents` on v2.5, for a wave of up to 100 entities in one bulk request); after it
 * confirms, the `VAR ID` tags are written and the intent removed in one write, then one
 * note per entity action. A failing client affects only its own pair.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import pLimit, { type LimitFunction } from "p-limit";
import type { ResponseClient } from "./client.ts";
import { type Account, type Detection, type Entity, type Host, type Kind, KINDS } from "./model.ts";
import type { ClientStep, Plan, PlanEntry, TagMark } from "./plan.ts";
import type { ActionOperation, ActionOutcome, ActionRecord, Category } from "./report.ts";
import type { VectraApi } from "./vectra/api.ts";
import { listTagged } from "./vectra/tagged.ts";
import { WaveStages } from "./act_stages.ts";
import { editKey, hasBulkTagging, type TagEdit, writeTagEdits } from "./act_bulk_state.ts";
import { applyTagChange, buildNote } from "./state.ts";
import { type PendingOperation, pendingTag } from "./state_tags.ts";
import { errorText } from "./error_text.ts";

/** Options for {@linkcode act}. */
export interface ActOptions {
  /**
   * How many entities are acted on at once (each entity's clients run together).
   * @default {4}
   */
  readonly concurrency?: number;
  /** Once aborted, no new entity is started; the rest is reported as planned. */
  readonly signal?: AbortSignal;
  /**
   * The clock for notes.
   * @default {() => new Date()}
   */
  readonly clock?: () => Date;
  /**
   * Says why an entry must not be carried out (dry run, outside the window), or null to
   * act. Held entries (blast-radius limits) are never carried out.
   * @default {() => null}
   */
  readonly guard?: (entry: PlanEntry) => string | null;
  /**
   * Record the intents of each wave of entities with one bulk tag request per (kind,
   * client, operation) where the API has one (v2.5 `addTagToMany`), before any client of
   * the wave is called, instead of one tag read and write per entity. An intent counts as
   * recorded only once a read of the tag shows it on the entity; the others fall back to
   * the per-entity write.
   * @default {true}
   */
  readonly bulkIntents?: boolean;
  /**
   * The kinds whose blocks expire (`*_BLOCK_EXPIRE_HOURS` set): their blocks get a
   * `VAR Blocked At` tag when recorded.
   * @default {new Set()}
   */
  readonly blockTimes?: ReadonlySet<Kind>;
  /**
   * Why the plan's tag marks (block times to record, expired marks to remove) are not
   * written (dry run), or null to write them.
   * @default {null}
   */
  readonly markRefusal?: string | null;
}

/** What the act step did. */
export interface ActReport {
  /** One record per (entity, client) pair, or per entity when no client was involved. */
  readonly records: readonly ActionRecord[];
  /** Messages not tied to one pair (e.g. a removed block tag). */
  readonly messages: readonly { readonly category: Category; readonly text: string }[];
}

const logger = getLogger(["var", "act"]);

const TITLE: Readonly<Record<Kind, string>> = {
  host: "Host",
  account: "Account",
  detection: "detection",
};

/** The outcome of one client call within an entity action. */
interface StepResult {
  readonly step: ClientStep;
  readonly outcome: ActionOutcome;
  /** Elements recorded for the client after the call (block, groom), or null. */
  readonly set: readonly string[] | null;
  /** Elements no longer recorded (unblock). */
  readonly removed: readonly string[];
  /** Elements the record names (blocked, unblocked or planned). */
  readonly elements: readonly string[];
  readonly error?: string;
  readonly message: string;
}

/**
 * Carries out a plan and returns one {@linkcode ActionRecord} per (entity, client) pair.
 * Entries the guard refuses, and held entries, are reported as `planned`.
 *
 * @example
 * ```ts
 * const report = await act(p, api, clients, { guard: () => dryRun ? "dry run" : null });
 * ```
 */
export async function act(
  plan: Plan,
  api: VectraApi,
  clients: readonly ResponseClient[],
  options: ActOptions = {},
): Promise<ActReport> {
  const {
    concurrency = 4,
    signal,
    clock = () => new Date(),
    guard = () => null,
    bulkIntents = true,
    blockTimes = new Set<Kind>(),
    markRefusal = null,
  } = options;
  const limit = pLimit(Math.max(1, concurrency));
  const records: ActionRecord[] = [];
  const messages: { category: Category; text: string }[] = [];
  const groups = new Map<string, PlanEntry[]>();
  for (const kind of KINDS) {
    for (const entry of plan[kind].entries) {
      const key = `${kind}:${entry.entity.id}`;
      const list = groups.get(key) ?? [];
      list.push(entry);
      groups.set(key, list);
    }
  }
  const preRecorded = new Set<string>();
  const context: EntryContext = {
    api,
    clients,
    clock,
    brain: plan.brain,
    records,
    messages,
    preRecorded,
    stages: null,
    blockTimes,
    edits: null,
    waveAt: null,
  };
  const all = [...groups.values()];
  // Without bulk intents every entity is one wave: the original bounded-concurrency run.
  const bulk = bulkIntents && api.addTagToMany !== undefined;
  // With bulk intents and bulk tagging, the wave's state writes are bulk tag edits too.
  const bulkTagging = bulk && hasBulkTagging(api) ? api : null;
  const size = bulk ? WAVE : Math.max(1, all.length);
  // Unblocks whose fresh tag read, before the wave's intents, found the block tag back.
  const foundTagged = new Set<PlanEntry>();
  for (let i = 0; i < all.length; i += size) {
    const wave = all.slice(i, i + size);
    if (bulk) {
      await recordIntents(
        wave,
        api,
        (entry) => entry.held ?? guard(entry) ?? (signal?.aborted ? "shutting down" : null),
        { preRecorded, foundTagged, limit },
      );
    }
    await actOnWave(wave);
  }
  const marks = KINDS.flatMap((kind) => plan[kind].marks.map((mark) => ({ kind, mark })));
  await Promise.all(
    marks.map(({ kind, mark }) => limit(() => writeMark(kind, mark, context, markRefusal))),
  );
  return { records, messages };

  async function actOnWave(wave: PlanEntry[][]): Promise<void> {
    const stages = new WaveStages(clients);
    const edits: DeferredEdit[] | null = bulkTagging === null ? null : [];
    const waveContext = { ...context, stages, edits, waveAt: clock() };
    let waiting: ((() => Promise<void>) | null)[];
    try {
      waiting = await Promise.all(
        wave.map((entries) => limit(() => carryOut(entries, waveContext))),
      );
    } catch (error) {
      // Nothing of the wave gets recorded: what it staged must not take effect either.
      await stages.discardAll();
      throw error;
    }
    // Every batch is committed, even one whose steps all failed: it may hold what they staged.
    await stages.commitAll();
    await Promise.all(waiting.map((finish) => finish && limit(finish)));
    if (bulkTagging === null || edits === null || edits.length === 0) return;
    const errors = await writeTagEdits(bulkTagging, edits.map((e) => e.edit), limit);
    await Promise.all(
      edits.map((e) => limit(() => e.report(errors.get(editKey(e.edit.kind, e.edit.id)) ?? null))),
    );
  }

  /**
   * Carries out an entity's entries in order. Once a step waits for the wave's commit,
   * returns what is left: finishing that entry, then the rest without staging.
   */
  async function carryOut(
    entries: readonly PlanEntry[],
    entryContext: EntryContext,
  ): Promise<(() => Promise<void>) | null> {
    for (const [index, entry] of entries.entries()) {
      const refusal = entry.held ?? guard(entry) ??
        (signal?.aborted ? "not started: shutting down" : null);
      if (refusal !== null) {
        for (const r of plannedRecords(plan.brain, entry, refusal)) emit(records, r);
        continue;
      }
      if (foundTagged.has(entry)) {
        keepStillTagged(entry, entryContext);
        continue;
      }
      const finish = await actOnEntry(entry, entryContext);
      if (finish === null) continue;
      const rest = entries.slice(index + 1);
      return async () => {
        await finish();
        await carryOut(rest, context);
      };
    }
    return null;
  }
}

/** Entities per wave: their intents are recorded together, then they are acted on. */
const WAVE = 100;

function intentKey(kind: Kind, id: number, client: string, op: PendingOperation): string {
  return `${kind}:${id}:${client}:${op}`;
}

/** Where {@linkcode recordIntents} puts what it learns. */
interface IntentRecording {
  /** Intents the bulk requests recorded (`kind:id:client:op`). */
  readonly preRecorded: Set<string>;
  /** Unblocks whose fresh tag read found the block tag (`keepIfTagged`) back: not acted on. */
  readonly foundTagged: Set<PlanEntry>;
  /** Bounds the fresh tag reads. */
  readonly limit: LimitFunction;
}

/**
 * Records the intents of a wave with one bulk tag request per (kind, client, operation)
 * where the API has one (v2.5), before any client of the wave is called. An unblock that
 * re-checks the block tag (`keepIfTagged`) reads its tags first, one request: found back,
 * it goes into `foundTagged` and is not acted on; else its intents join the bulk requests.
 * Entities with several entries and entries that will not be carried out keep the
 * per-entity path, and so does an entity whose read or bulk request fails (a failed bulk
 * request is logged as a warning): that path reads and writes its tags on its own.
 */
async function recordIntents(
  wave: PlanEntry[][],
  api: VectraApi,
  refusal: (entry: PlanEntry) => string | null,
  { preRecorded, foundTagged, limit }: IntentRecording,
): Promise<void> {
  const addTagToMany = api.addTagToMany;
  if (addTagToMany === undefined) return;
  const single = wave.flatMap((entries) => {
    const entry = entries[0];
    const eligible = entries.length === 1 && entry !== undefined && refusal(entry) === null &&
      entry.steps.some((step) => intentOf(step) !== null);
    return eligible ? [entry] : [];
  });
  const rechecked = await Promise.all(
    single.map((entry) =>
      entry.keepIfTagged === null ? entry : limit(async () => {
        try {
          if (!stillTagged(entry, await api.getTags(entry.kind, entry.entity.id))) return entry;
          foundTagged.add(entry);
        } catch {
          // The per-entity path reads the tags again, and reports a failure there.
        }
        return null;
      })
    ),
  );
  const batches = new Map<string, { kind: Kind; tag: string; ids: number[]; keys: string[] }>();
  for (const entry of rechecked) {
    if (entry === null) continue;
    for (const step of entry.steps) {
      const op = intentOf(step);
      if (op === null) continue;
      const tag = pendingTag(step.tagName, op);
      const batchKey = `${entry.kind}\u0000${tag}`;
      const batch = batches.get(batchKey) ?? { kind: entry.kind, tag, ids: [], keys: [] };
      batch.ids.push(entry.entity.id);
      batch.keys.push(intentKey(entry.kind, entry.entity.id, step.tagName, op));
      batches.set(batchKey, batch);
    }
  }
  await Promise.all([...batches.values()].map(async (batch) => {
    try {
      await addTagToMany(batch.kind, batch.ids, batch.tag);
      // The bulk call's answer is not documented: count an intent as recorded only when
      // Vectra shows it, so no client acts on an entity whose intent is not on record.
      const carrying = new Set((await listTagged(api, batch.kind, batch.tag)).map((e) => e.id));
      const missing = batch.ids.filter((id) => !carrying.has(id));
      batch.ids.forEach((id, i) => {
        const key = batch.keys[i];
        if (carrying.has(id) && key !== undefined) preRecorded.add(key);
      });
      if (missing.length > 0) {
        logger.warn(
          "The bulk tag request did not record {count} intents ({tag}); recording them one by one",
          { count: missing.length, tag: batch.tag },
        );
      }
    } catch (error) {
      logger.warn(
        "Cannot record {count} intents in one request, recording them one by one: {error}",
        {
          count: batch.ids.length,
          error: errorText(error),
        },
      );
    }
  }));
}

/** What carrying out one entry needs. */
interface EntryContext {
  readonly api: VectraApi;
  readonly clients: readonly ResponseClient[];
  readonly clock: () => Date;
  readonly brain: string;
  readonly records: ActionRecord[];
  readonly messages: { category: Category; text: string }[];
  /** Intents already recorded by a bulk request (`kind:id:client:op`). */
  readonly preRecorded: ReadonlySet<string>;
  /** The wave's staged changes; null once they are committed. */
  readonly stages: WaveStages | null;
  /** Kinds whose blocks get a `VAR Blocked At` tag. */
  readonly blockTimes: ReadonlySet<Kind>;
  /**
   * With bulk tagging (v2.5): the wave's state writes of entries whose intents a bulk
   * request recorded, carried out together once the wave's clients are done; else null.
   */
  readonly edits: DeferredEdit[] | null;
  /** The wave's start: the block time its bulk state writes record. */
  readonly waveAt: Date | null;
}

/** A state write deferred to the end of the wave, and what reports it. */
interface DeferredEdit {
  readonly edit: TagEdit;
  readonly report: (writeError: string | null) => Promise<void>;
}

function emit(records: ActionRecord[], record: ActionRecord): void {
  records.push(record);
  const properties = {
    brain: record.brain,
    kind: record.kind,
    entityId: record.entityId,
    entityName: record.entityName,
    client: record.client,
    operation: record.operation,
    elements: record.elements,
    outcome: record.outcome,
    reasons: record.reasons,
    ...(record.error === undefined ? {} : { error: record.error }),
  };
  const fields = { message: record.message, ...properties };
  if (record.outcome === "failed") logger.error(ACTION_LINE, fields);
  else if (record.outcome === "warning") logger.warn(ACTION_LINE, fields);
  else logger.info(ACTION_LINE, fields);
}

/** The log template of one action; every value from Vectra is a property, never template. */
const ACTION_LINE = "{message} ({kind} {entityId} {entityName}, client {client}, " +
  "elements {elements}, outcome {outcome}, reasons {reasons})";

function operationOf(entry: PlanEntry): ActionOperation {
  return entry.operation;
}

function recordOf(
  brain: string,
  entry: PlanEntry,
  client: string,
  fields: {
    outcome: ActionOutcome;
    elements: readonly string[];
    message: string;
    error?: string;
    reasons?: readonly string[];
  },
): ActionRecord {
  const category: Category = fields.outcome === "failed"
    ? "Error"
    : fields.outcome === "warning"
    ? "Warning"
    : "Info";
  return {
    brain,
    kind: entry.kind,
    entityId: entry.entity.id,
    entityName: entry.entity.name,
    client,
    operation: operationOf(entry),
    elements: fields.elements,
    outcome: fields.outcome,
    reasons: fields.reasons ?? entry.reasons,
    ...(fields.error === undefined ? {} : { error: fields.error }),
    message: fields.message,
    category,
  };
}

function plannedRecords(brain: string, entry: PlanEntry, why: string): ActionRecord[] {
  const verb = entry.operation === "block"
    ? "block"
    : entry.operation === "unblock"
    ? "unblock"
    : "groom";
  if (entry.steps.length === 0) {
    return [recordOf(brain, entry, "-", {
      outcome: "planned",
      elements: [],
      message: `Would ${verb} ${describe(entry.entity)}: ${why}`,
    })];
  }
  return entry.steps.map((s) =>
    recordOf(brain, entry, s.client, {
      outcome: "planned",
      elements: s.mode === "unblock" ? [...s.elements, ...s.dropOnly] : s.elements,
      message: `Would ${verb} ${describe(entry.entity)} with client ${s.tagName.trim()}: ${why}`,
      reasons: s.note ? [...entry.reasons, s.note] : entry.reasons,
    })
  );
}

/** `host 12 web01 (10.0.0.5)`, `account 3 O365:x`, `detection 77 Hidden DNS Tunnel`. */
export function describe(entity: Entity): string {
  if (entity.kind === "host") return `host ${entity.id} ${entity.name} (${entity.ip ?? "no IP"})`;
  return `${entity.kind} ${entity.id} ${entity.name}`;
}

/** The original's Info message for a confirmed block or unblock (engine.md §5.5). */
function doneMessage(entity: Entity, op: "block" | "unblock", tagName: string): string {
  const client = tagName;
  if (entity.kind === "host") {
    const verb = op === "block" ? "Blocked" : "Unblocked";
    return `${verb} host ${entity.id}, ${entity.name}, ${entity.ip ?? ""} with client ${client}`;
  }
  if (entity.kind === "account") {
    const verb = op === "block" ? "Blocked" : "Unblocked";
    return `${verb} account ${entity.id}, ${entity.name},  on client ${client}`;
  }
  return op === "block"
    ? `Blocked detection ID ${entity.id} on client ${client}`
    : `Unblock detection ID ${entity.id} on ${client}`;
}

function errorMessage(entity: Entity, op: "block" | "unblock" | "groom", error: string): string {
  if (op === "unblock") {
    const what = entity.kind === "host"
      ? "Host ID"
      : entity.kind === "account"
      ? "Account ID"
      : "detection ID";
    return `Error encountered trying to unblock ${what}${entity.id}: ${error}`;
  }
  const verb = op === "groom" ? "groom" : "block";
  return `Error encountered trying to ${verb} ${TITLE[entity.kind]} ID ${entity.id}: ${error}`;
}

async function callBlock(client: ResponseClient, entity: Entity): Promise<string[]> {
  const ids = entity.kind === "host"
    ? await client.blockHost?.(entity as Host)
    : entity.kind === "account"
    ? await client.blockAccount?.(entity as Account)
    : await client.blockDetection?.(entity as Detection);
  if (ids === undefined) {
    throw new Error(`${client.name} does not support blocking ${entity.kind}s`);
  }
  return ids.map(String);
}

async function callUnblock(
  client: ResponseClient,
  entity: Entity,
  recorded: readonly string[],
): Promise<string[]> {
  const ids = entity.kind === "host"
    ? await client.unblockHost?.(entity as Host, recorded)
    : entity.kind === "account"
    ? await client.unblockAccount?.(entity as Account, recorded)
    : await client.unblockDetection?.(entity as Detection, recorded);
  if (ids === undefined) {
    throw new Error(`${client.name} does not support unblocking ${entity.kind}s`);
  }
  return ids.map(String);
}

/** Runs one step against its client; never throws. */
async function runStep(
  entry: PlanEntry,
  step: ClientStep,
  client: ResponseClient | undefined,
): Promise<StepResult> {
  const entity = entry.entity;
  const base = { step, set: null, removed: [] as string[] };
  if (step.mode === "clear") {
    const [by, who] = [step.tagName.trim(), describe(entity)];
    return {
      ...base,
      outcome: "ok",
      elements: [],
      message: step.completesUnblock
        ? `Completed the interrupted unblock of ${who} with client ${by}: ` +
          "its elements were already released"
        : `Cleared a stale intent of ${by} on ${who}`,
    };
  }
  if (!client) {
    const error = `client "${step.client}" is not configured`;
    return {
      ...base,
      outcome: "failed",
      elements: step.elements,
      error,
      message: errorMessage(entity, step.mode, error),
    };
  }
  try {
    if (step.mode === "block") {
      const ids = await callBlock(client, entity);
      if (ids.length === 0) {
        return {
          ...base,
          outcome: "warning",
          elements: [],
          message: `Did not find any elements to block on ${entity.kind} ID ${entity.id}`,
        };
      }
      return {
        ...base,
        outcome: "ok",
        set: ids,
        elements: ids,
        message: doneMessage(entity, "block", step.tagName),
      };
    }
    if (step.mode === "groom") {
      const result = await client.groomHost?.(entity as Host, step.elements);
      if (!result || !result.changed) {
        return {
          ...base,
          outcome: "ok",
          elements: [],
          message: `Groomed ${describe(entity)}: no change`,
        };
      }
      const set = [
        ...step.elements.filter((e) => !result.unblocked.includes(e)),
        ...result.blocked.map(String),
      ];
      return {
        ...base,
        outcome: "ok",
        set,
        elements: set,
        message: `Groomed host ${entity.id} to be blocked based on IP change: ` +
          `${(entity as Host).ip ?? ""}`,
      };
    }
    // unblock
    let send = [...step.elements];
    if (step.learnFirst) {
      const learned = await callBlock(client, entity);
      send = [...new Set([...send, ...learned.filter((e) => !step.dropOnly.includes(e))])];
    }
    const confirmed = send.length > 0 ? await callUnblock(client, entity, send) : [];
    const removed = [...send.filter((e) => confirmed.includes(e)), ...step.dropOnly];
    const left = send.filter((e) => !confirmed.includes(e));
    if (left.length > 0) {
      return {
        ...base,
        outcome: "warning",
        removed,
        elements: removed,
        message: `Could not unblock ${entity.kind} ${entity.name} element(s) ${left.join(", ")}`,
      };
    }
    return {
      ...base,
      outcome: "ok",
      removed,
      elements: removed,
      message: doneMessage(entity, "unblock", step.tagName),
    };
  } catch (error) {
    const text = errorText(error);
    return {
      ...base,
      outcome: "failed",
      elements: step.elements,
      error: text,
      message: errorMessage(entity, step.mode, text),
    };
  }
}

function intentOf(step: ClientStep): PendingOperation | null {
  if (step.mode === "block") return "block";
  if (step.mode === "unblock" && (step.elements.length > 0 || step.learnFirst)) return "unblock";
  return null;
}

/**
 * Carries out one entry: intent write, client calls, state write, note. When a step staged
 * its change on a committing client, returns the rest (state write, note) to run once the
 * wave is committed; else null.
 */
async function actOnEntry(
  entry: PlanEntry,
  context: EntryContext,
): Promise<(() => Promise<void>) | null> {
  const { api, clients, brain, records, stages } = context;
  const entity = entry.entity;
  const kind = entry.kind;

  if (entry.steps.length === 0) {
    await forgetUnknownBlock(entry, context);
    return null;
  }

  const allIntents = entry.steps.flatMap((s) => {
    const op = intentOf(s);
    return op ? [{ client: s.tagName, operation: op }] : [];
  });
  // Intents a bulk request already recorded on Vectra are not written again.
  const intents = allIntents.filter((i) =>
    !context.preRecorded.has(intentKey(kind, entity.id, i.client, i.operation))
  );
  if (intents.length > 0) {
    try {
      const fresh = await api.getTags(kind, entity.id);
      if (stillTagged(entry, fresh)) {
        keepStillTagged(entry, context);
        return null;
      }
      await api.setTags(kind, entity.id, applyTagChange(kind, fresh, { addPending: intents }));
    } catch (error) {
      const text = `cannot record the intent on Vectra: ${errorText(error)}`;
      for (const s of entry.steps) {
        emit(
          records,
          recordOf(brain, entry, s.client, {
            outcome: "failed",
            elements: s.elements,
            error: text,
            message: errorMessage(entity, entry.operation, text),
          }),
        );
      }
      return null;
    }
  }

  const clientOf = (step: ClientStep) => {
    const client = clients.find((c) => c.name === step.client);
    return client && stages ? stages.clientFor(client) : client;
  };
  const results = await Promise.all(entry.steps.map((s) => runStep(entry, s, clientOf(s))));
  const waits = stages !== null &&
    results.some((r) =>
      r.outcome !== "failed" && r.step.mode !== "clear" && stages.stages(r.step.client)
    );
  // Every intent recorded by a bulk request: the state write joins the wave's bulk writes.
  const bulkIntents = allIntents.length > 0 && intents.length === 0
    ? allIntents.map((i) => pendingTag(i.client, i.operation))
    : null;
  if (!waits) {
    await finishEntry(entry, context, allIntents.length > 0, results, bulkIntents);
    return null;
  }
  return () =>
    finishEntry(
      entry,
      context,
      allIntents.length > 0,
      results.map((r) => committed(entry, r, stages.failure(r.step.client))),
      bulkIntents,
    );
}

/** A staged step's result once its batch's commit is known: failed when the commit failed. */
function committed(entry: PlanEntry, result: StepResult, failure: string | null): StepResult {
  if (failure === null || result.outcome === "failed" || result.step.mode === "clear") {
    return result;
  }
  const error = `the change was staged but could not be committed: ${failure}`;
  return {
    step: result.step,
    outcome: "failed",
    set: null,
    removed: [],
    elements: result.step.elements,
    error,
    message: errorMessage(entry.entity, entry.operation, error),
  };
}

/**
 * Writes the state of an entry's client results on Vectra, then its note. With
 * `bulkIntents` (the intent tags a bulk request recorded) and bulk tagging, the write is
 * deferred to the end of the wave as single-tag additions and removals.
 */
async function finishEntry(
  entry: PlanEntry,
  context: EntryContext,
  intended: boolean,
  results: readonly StepResult[],
  bulkIntents: readonly string[] | null,
): Promise<void> {
  const { api } = context;
  const entity = entry.entity;
  const kind = entry.kind;
  const set = new Map<string, readonly string[]>();
  const remove = new Map<string, readonly string[]>();
  for (const r of results) {
    if (r.set) set.set(r.step.tagName, r.set);
    if (r.removed.length > 0) remove.set(r.step.tagName, r.removed);
  }
  const changedState = set.size > 0 || remove.size > 0;
  const removeTag = entry.removeTag && changedState ? entry.removeTag : null;
  const change = (at: Date) => ({
    set,
    remove,
    clearPending: entry.steps.map((s) => s.tagName),
    removeTag,
    ...(context.blockTimes.has(kind) ? { at } : {}),
    expire: entry.expires === true && remove.size > 0,
  });
  const report = (writeError: string | null) =>
    reportEntry(entry, context, results, writeError, removeTag, changedState);

  if (bulkIntents !== null && context.edits !== null) {
    const before = [...new Set([...entity.tags, ...bulkIntents])];
    const after = applyTagChange(kind, before, change(context.waveAt ?? context.clock()));
    context.edits.push({
      edit: { kind, id: entity.id, before, after },
      report: (error) => report(error === null ? null : `the client acted but ${error}`),
    });
    return;
  }

  let writeError: string | null = null;
  try {
    const fresh = await api.getTags(kind, entity.id);
    // Without an intent no client was called: this read is still before the first write.
    if (!intended && stillTagged(entry, fresh)) {
      keepStillTagged(entry, context);
      return;
    }
    await writeChanged(
      api,
      kind,
      entity.id,
      fresh,
      applyTagChange(kind, fresh, change(context.clock())),
    );
  } catch (error) {
    writeError = `the client acted but the state write on Vectra failed: ${errorText(error)}`;
  }
  await report(writeError);
}

/** Emits an entry's records (failed when its state write failed), then writes its note. */
async function reportEntry(
  entry: PlanEntry,
  context: EntryContext,
  results: readonly StepResult[],
  writeError: string | null,
  removeTag: string | null,
  changedState: boolean,
): Promise<void> {
  const { brain, records } = context;
  const entity = entry.entity;
  const kind = entry.kind;
  const succeeded = results.filter((r) => r.outcome === "ok" || r.outcome === "warning");
  for (const r of results) {
    const outcome = writeError && r.outcome !== "failed" ? "failed" : r.outcome;
    const error = writeError && r.outcome !== "failed" ? writeError : r.error;
    emit(
      records,
      recordOf(brain, entry, r.step.client, {
        outcome,
        elements: r.elements,
        message: writeError && r.outcome !== "failed"
          ? errorMessage(entity, entry.operation, writeError)
          : r.message,
        ...(error === undefined ? {} : { error }),
        reasons: r.step.note ? [...entry.reasons, r.step.note] : entry.reasons,
      }),
    );
  }
  if (removeTag && !writeError) {
    context.messages.push({
      category: "Warning",
      text: `${TITLE[kind]} ${entity.name} is in no-block list or carries the unblock tag but ` +
        `has a "${removeTag}" tag. Removing tag..`,
    });
  }
  const completing = succeeded.filter((r) => r.step.completesUnblock === true);
  if (writeError || (!changedState && completing.length === 0)) return;
  const confirming = succeeded.filter((r) =>
    (r.set?.length ?? 0) > 0 || r.removed.length > 0 || r.step.completesUnblock === true
  );
  const event = entry.operation === "unblock" ? "Unblocked" : "Blocked";
  const reasons = entry.operation === "groom" ? ["groomed after a change"] : entry.reasons;
  await addNote(context, entry, {
    event,
    at: context.clock(),
    clients: confirming.map((r) => r.step.tagName),
    reasons,
    removedTag: removeTag,
  });
}

/**
 * True when an unblock decided only because the entity no longer matches finds the kind's
 * block tag on the entity's fresh tags: the cycle's list read missed it.
 */
function stillTagged(entry: PlanEntry, fresh: readonly string[]): boolean {
  return entry.operation === "unblock" && entry.keepIfTagged !== null &&
    fresh.includes(entry.keepIfTagged);
}

/** Reports an unblock abandoned by {@linkcode stillTagged}; nothing was changed. */
function keepStillTagged(entry: PlanEntry, context: EntryContext): void {
  const message = `Not unblocking ${describe(entry.entity)}: it still carries the tag ` +
    `"${entry.keepIfTagged ?? ""}", which this cycle's read of Vectra missed (the list ` +
    "changed while it was read); nothing changed, the next cycle decides again";
  const reasons = [...entry.reasons, `still tagged ${entry.keepIfTagged ?? ""}`];
  if (entry.steps.length === 0) {
    emit(
      context.records,
      recordOf(context.brain, entry, "-", { outcome: "warning", elements: [], message, reasons }),
    );
    return;
  }
  for (const s of entry.steps) {
    emit(
      context.records,
      recordOf(context.brain, entry, s.client, {
        outcome: "warning",
        elements: [...s.elements, ...s.dropOnly],
        message,
        reasons,
      }),
    );
  }
}

async function addNote(
  context: EntryContext,
  entry: PlanEntry,
  input: Parameters<typeof buildNote>[0],
): Promise<void> {
  try {
    await context.api.addNote(entry.kind, entry.entity.id, buildNote(input));
  } catch (error) {
    const text = `Cannot add the note to ${describe(entry.entity)} on brain ${context.brain}: ` +
      errorText(error);
    context.messages.push({ category: "Warning", text });
    logger.warn("{message}", { message: text });
  }
}

/**
 * Writes one tag mark (a block time, or the removal of `VAR Block Expired`) and reports it
 * as a message; a failure leaves the tags as they were, and the next cycle tries again.
 */
async function writeMark(
  kind: Kind,
  mark: TagMark,
  context: EntryContext,
  refusal: string | null,
): Promise<void> {
  const entity = describe(mark.entity);
  const [what, done] = mark.mark === "stamp"
    ? [`record the block time of ${entity}`, `Recorded the block time of ${entity}`]
    : [`re-arm automatic blocking of ${entity}`, `Re-armed automatic blocking of ${entity}`];
  if (refusal !== null) {
    context.messages.push({ category: "Info", text: `Would ${what} (${mark.reason}): ${refusal}` });
    return;
  }
  try {
    const fresh = await context.api.getTags(kind, mark.entity.id);
    const change = mark.mark === "stamp" ? { at: context.clock() } : { rearm: true };
    await writeChanged(
      context.api,
      kind,
      mark.entity.id,
      fresh,
      applyTagChange(kind, fresh, change),
    );
    const text = `${done} (${mark.reason})`;
    context.messages.push({ category: "Info", text });
    logger.info("{message}", { message: text });
  } catch (error) {
    const text = `Cannot ${what} on brain ${context.brain}: ${errorText(error)}; the next ` +
      "cycle tries again";
    context.messages.push({ category: "Warning", text });
    logger.warn("{message}", { message: text });
  }
}

/** Replaces an entity's tags with `next`, unless they are `fresh` already (same order). */
async function writeChanged(
  api: VectraApi,
  kind: Kind,
  id: number,
  fresh: readonly string[],
  next: readonly string[],
): Promise<void> {
  if (next.length !== fresh.length || next.some((t, i) => t !== fresh[i])) {
    await api.setTags(kind, id, next);
  }
}

/** An entity marked blocked with no `VAR ID` tag: warn and drop the stale marker. */
async function forgetUnknownBlock(entry: PlanEntry, context: EntryContext): Promise<void> {
  const { api, brain, records } = context;
  const entity = entry.entity;
  const what = entity.kind === "detection" ? String(entity.id) : entity.name;
  let outcome: ActionOutcome = "warning";
  let error: string | undefined;
  try {
    const fresh = await api.getTags(entry.kind, entity.id);
    if (stillTagged(entry, fresh)) {
      keepStillTagged(entry, context);
      return;
    }
    const next = applyTagChange(entry.kind, fresh, { removeTag: entry.removeTag });
    await writeChanged(api, entry.kind, entity.id, fresh, next);
  } catch (e) {
    outcome = "failed";
    error = `cannot clear the marker on Vectra: ${errorText(e)}`;
  }
  emit(
    records,
    recordOf(brain, entry, "-", {
      outcome,
      elements: [],
      message: `Could not find what was blocked on ${entity.kind} ${what}`,
      ...(error === undefined ? {} : { error }),
    }),
  );
}
