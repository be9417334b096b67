/**
 * The state writes of a wave on a brain with bulk tagging (v2.5 `POST`/`DELETE
 * /tagging/<kind>`): each entity's change is a set of single-tag additions and removals,
 * never a replacement of its tag list, so a tag an analyst adds between var's read and its
 * write is kept, and no tag is read before it is written. The `VAR ID` tags (one entity
 * each) are written first, the tags many entities share (the marker, a removed block tag)
 * in one request each; then every change is read back through the wave's intent tags,
 * which the entities still carry, and only then are the intents removed. An entity whose
 * change failed or did not show keeps its intent, so the next cycle completes or undoes it.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import type { LimitFunction } from "p-limit";
import type { Kind } from "./model.ts";
import type { VectraApi } from "./vectra/api.ts";
import { listTagged } from "./vectra/tagged.ts";
import { ELEMENT_TAG_PREFIX, PENDING_TAG_PREFIX } from "./state_tags.ts";
import { errorText } from "./error_text.ts";

/** One entity's tag change, as single tags to add and remove. */
export interface TagEdit {
  readonly kind: Kind;
  readonly id: number;
  /** The tags as var knows them: read this cycle, with the intents it recorded since. */
  readonly before: readonly string[];
  /** The tags it must carry after the change. */
  readonly after: readonly string[];
}

/** The two bulk calls this needs (v2.5). */
export interface BulkTagging {
  readonly addTagToMany: (kind: Kind, ids: readonly number[], tag: string) => Promise<void>;
  readonly removeTagFromMany: (kind: Kind, ids: readonly number[], tag: string) => Promise<void>;
}

const logger = getLogger(["var", "act"]);

/** `kind:id`. */
export function editKey(kind: Kind, id: number): string {
  return `${kind}:${id}`;
}

/** True when an API can write tags one by one on many entities. */
export function hasBulkTagging(api: VectraApi): api is VectraApi & BulkTagging {
  return api.addTagToMany !== undefined && api.removeTagFromMany !== undefined;
}

interface Call {
  readonly kind: Kind;
  readonly method: "add" | "remove";
  readonly tag: string;
  readonly ids: number[];
}

/**
 * Carries out the edits and returns, per entity key, why its change is not on record
 * (absent: written and read back). Never throws.
 */
export async function writeTagEdits(
  api: VectraApi & BulkTagging,
  edits: readonly TagEdit[],
  limit: LimitFunction,
): Promise<Map<string, string>> {
  const errors = new Map<string, string>();
  const diff: Diff[] = edits.map((edit) => {
    const before = new Set(edit.before);
    const after = new Set(edit.after);
    return {
      edit,
      adds: edit.after.filter((t) => !before.has(t)),
      removes: edit.before.filter((t) => !after.has(t)),
    };
  });
  const isIntent = (tag: string) => tag.startsWith(PENDING_TAG_PREFIX);
  const isElement = (tag: string) => tag.startsWith(ELEMENT_TAG_PREFIX);

  const phase = (method: "add" | "remove", pick: (d: Diff) => readonly string[]) =>
    runCalls(api, groupCalls(diff, errors, method, pick), limit, (call, error) => {
      const text = `the state write on Vectra failed: ${errorText(error)}`;
      for (const id of call.ids) errors.set(editKey(call.kind, id), text);
    });

  // Additions first (what entities share, then each one's elements: the tag order the
  // original writes), then removals (the elements, then what is shared); the intents last,
  // once everything else is read back. Until they go, an interrupted write is completed or
  // undone by the next cycle from the intent.
  await phase("add", (d) => d.adds.filter((t) => !isElement(t)));
  await phase("add", (d) => d.adds.filter(isElement));
  await phase("remove", (d) => d.removes.filter(isElement));
  await phase("remove", (d) => d.removes.filter((t) => !isElement(t) && !isIntent(t)));
  await readBack(api, diff, errors, limit);
  // The change is recorded: a failed intent removal is only logged, and the next cycle
  // resolves the intent it finds.
  await runCalls(
    api,
    groupCalls(diff, errors, "remove", (d) => d.removes.filter(isIntent)),
    limit,
    (call, error) =>
      logger.warn(
        "Cannot remove the intent {tag} from {count} {kind}s whose change is recorded; the " +
          "next cycle resolves it: {error}",
        { tag: call.tag, count: call.ids.length, kind: call.kind, error: errorText(error) },
      ),
  );
  return errors;
}

/** An edit with its additions and removals. */
interface Diff {
  readonly edit: TagEdit;
  readonly adds: string[];
  readonly removes: string[];
}

/** The calls that make `pick`'s tags of the edits not failed yet, one per kind and tag. */
function groupCalls(
  diff: readonly Diff[],
  errors: ReadonlyMap<string, string>,
  method: "add" | "remove",
  pick: (d: Diff) => readonly string[],
): Call[] {
  const calls = new Map<string, Call>();
  for (const d of diff) {
    if (errors.has(editKey(d.edit.kind, d.edit.id))) continue;
    for (const tag of pick(d)) {
      const key = `${d.edit.kind}\u0000${tag}`;
      const call = calls.get(key) ?? { kind: d.edit.kind, method, tag, ids: [] };
      call.ids.push(d.edit.id);
      calls.set(key, call);
    }
  }
  return [...calls.values()];
}

/** Runs the calls together (bounded); `onError` hears of each that failed. */
async function runCalls(
  api: BulkTagging,
  calls: readonly Call[],
  limit: LimitFunction,
  onError: (call: Call, error: unknown) => void,
): Promise<void> {
  await Promise.all(calls.map((call) =>
    limit(async () => {
      try {
        const send = call.method === "add" ? api.addTagToMany : api.removeTagFromMany;
        await send(call.kind, call.ids, call.tag);
      } catch (error) {
        onError(call, error);
      }
    })
  ));
}

/**
 * Reads the entities back through their intent tags (one list read per intent tag) and
 * marks every entity whose additions or removals do not show.
 */
async function readBack(
  api: VectraApi,
  diff: readonly Diff[],
  errors: Map<string, string>,
  limit: LimitFunction,
): Promise<void> {
  const reads = new Map<string, { kind: Kind; tag: string }>();
  for (const { edit } of diff) {
    for (const tag of edit.before) {
      if (tag.startsWith(PENDING_TAG_PREFIX)) {
        reads.set(`${edit.kind}\u0000${tag}`, { kind: edit.kind, tag });
      }
    }
  }
  const current = new Map<string, readonly string[]>();
  const failed = new Map<Kind, string>();
  await Promise.all([...reads.values()].map(({ kind, tag }) =>
    limit(async () => {
      try {
        for (const entity of await listTagged(api, kind, tag)) {
          current.set(editKey(kind, entity.id), entity.tags);
        }
      } catch (error) {
        failed.set(kind, `cannot read the state write back from Vectra: ${errorText(error)}`);
      }
    })
  ));
  for (const { edit, adds, removes } of diff) {
    const key = editKey(edit.kind, edit.id);
    if (errors.has(key)) continue;
    const tags = current.get(key);
    if (tags === undefined) {
      errors.set(
        key,
        failed.get(edit.kind) ??
          "the state write on Vectra did not show: the entity no longer carries its intent",
      );
      continue;
    }
    const missing = adds.filter((t) => !t.startsWith(PENDING_TAG_PREFIX) && !tags.includes(t));
    const left = removes.filter((t) => !t.startsWith(PENDING_TAG_PREFIX) && tags.includes(t));
    if (missing.length > 0 || left.length > 0) {
      errors.set(
        key,
        "the state write on Vectra did not show when read back" +
          (missing.length > 0 ? `; missing ${missing.join(", ")}` : "") +
          (left.length > 0 ? `; still carrying ${left.join(", ")}` : ""),
      );
    }
  }
}
