/**
 * Static destination IPs (engine.md §6, decisions #5 and #6): the file is the desired
 * set, read each cycle; what is blocked is read back from each client that supports
 * static blocking; the difference is blocked or unblocked per client, with per-entry
 * outcomes. Once per cycle, not per brain.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import type { ResponseClient, StaticIpOutcome } from "./client.ts";
import type { ActionOutcome, ActionRecord, Category } from "./report.ts";
import { parseBlockableEntry, parseIpOrNetwork } from "./ip.ts";
import { type NeverBlockEntry, protection } from "./never_block.ts";
import { errorText } from "./error_text.ts";

/** A line of the file that is not an entry. */
export interface StaticIpProblem {
  /** 1-based line number. */
  readonly line: number;
  readonly text: string;
  readonly reason: string;
}

/** The parsed file: normalised, de-duplicated entries and the refused lines. */
export interface StaticIpList {
  /** Entry to the line it was first given on. */
  readonly entries: ReadonlyMap<string, number>;
  readonly problems: readonly StaticIpProblem[];
}

/**
 * Parses the static list: one address or CIDR network per line, both ends trimmed;
 * blank lines and `#` comments allowed; networks with host bits set refused with the
 * corrected form (decisions #6); addresses no host has, networks broader than `/8` or
 * `/16` (so never `0.0.0.0/0` or `::/0`) refused with the reason (`parseBlockableEntry`);
 * entries overlapping `NEVER_BLOCK_ADDRESSES` refused, naming the entry; duplicates merged.
 */
export function parseStaticIps(
  text: string,
  neverBlock: readonly NeverBlockEntry[] = [],
): StaticIpList {
  const entries = new Map<string, number>();
  const problems: StaticIpProblem[] = [];
  const lines = text.split(/\r?\n/);
  lines.forEach((raw, index) => {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) return;
    const parsed = parseBlockableEntry(line);
    if (!parsed.ok) {
      problems.push({ line: index + 1, text: line, reason: parsed.reason });
      return;
    }
    const protectedBy = protection(neverBlock, parsed.value.entry);
    if (protectedBy !== null) {
      problems.push({ line: index + 1, text: line, reason: protectedBy });
      return;
    }
    if (!entries.has(parsed.value.entry)) entries.set(parsed.value.entry, index + 1);
  });
  return { entries, problems };
}

/** Options for {@linkcode reconcileStaticIps}. */
export interface StaticIpsOptions {
  /**
   * Decide and report only: no client is asked to change anything.
   * @default {false}
   */
  readonly dryRun?: boolean;
  /** Why nothing is changed when `dryRun` (e.g. `outside the response window`). */
  readonly dryRunReason?: string;
  /** `NEVER_BLOCK_ADDRESSES`: entries overlapping one are not blocked (and unblocked). */
  readonly neverBlock?: readonly NeverBlockEntry[];
  /**
   * Reads the file.
   * @default {Deno.readTextFile}
   */
  readonly readFile?: (path: string) => Promise<string>;
}

/** What reconciling the static list did. */
export interface StaticIpsResult {
  readonly records: readonly ActionRecord[];
  readonly messages: readonly { readonly category: Category; readonly text: string }[];
  /** True when the file could not be read, or a client could not be read back. */
  readonly failed: boolean;
}

const logger = getLogger(["var", "static"]);

function normalise(entry: string): string {
  const parsed = parseIpOrNetwork(entry);
  return parsed.ok ? parsed.value.entry : entry.trim();
}

/**
 * Reconciles every static-capable client with the file. A missing or unreadable file is
 * an error and changes nothing (never "empty").
 *
 * @example
 * ```ts
 * const result = await reconcileStaticIps("/etc/var/static_dst_ips_to_block.txt", clients);
 * ```
 */
export async function reconcileStaticIps(
  path: string,
  clients: readonly ResponseClient[],
  options: StaticIpsOptions = {},
): Promise<StaticIpsResult> {
  const { dryRun = false, dryRunReason = "dry run", readFile = Deno.readTextFile } = options;
  const records: ActionRecord[] = [];
  const messages: { category: Category; text: string }[] = [];
  let text: string;
  try {
    text = await readFile(path);
  } catch (error) {
    const why = error instanceof Deno.errors.NotFound
      ? "the file does not exist"
      : error instanceof Error
      ? error.message
      : String(error);
    const message = `Cannot read the static destination list "${path}": ${why}; nothing ` +
      `static is blocked or unblocked this cycle (create the file, or remove static from BLOCK_TYPES)`;
    logger.error("{message}", { message });
    return { records, messages: [{ category: "Error", text: message }], failed: true };
  }
  const list = parseStaticIps(text, options.neverBlock ?? []);
  for (const p of list.problems) {
    const message = `Ignoring line ${p.line} of "${path}": ${p.reason}`;
    messages.push({ category: "Warning", text: message });
    logger.warn("{message}", { message });
  }
  let failed = false;
  const capable = clients.filter((c) =>
    c.supports.has("listStaticIps") && c.supports.has("blockStaticIps") &&
    c.supports.has("unblockStaticIps")
  );
  for (const c of clients) {
    if (!capable.includes(c)) {
      messages.push({
        category: "Warning",
        text: `${c.name} does not support static destination IPs; it blocks no static entry`,
      });
    }
  }
  /**
   * Blocks again the listed entries the client already reports, because a client with
   * several devices lists an entry held on any one of them: a block that failed on one
   * device is retried this way. Idempotent; only failures are reported.
   */
  const reassert = async (client: ResponseClient, entries: string[]) => {
    if (entries.length === 0) return;
    let outcomes: StaticIpOutcome[];
    try {
      outcomes = await client.blockStaticIps!({ dstIps: entries });
    } catch (error) {
      const text = errorText(error);
      outcomes = entries.map((entry) => ({ entry, ok: false, error: text }));
    }
    for (const o of outcomes) {
      if (o.ok) continue;
      failed = true;
      const entry = normalise(o.entry);
      const error = o.error ?? "failed";
      records.push(record(client, "static-block", entry, "failed", [
        `listed in ${path} line ${list.entries.get(entry)}; not held on every device`,
      ], {
        message: `Cannot block static destination ${entry} on ${client.name}: ${error}`,
        error,
      }));
    }
  };
  await Promise.all(capable.map(async (client) => {
    let current: Set<string>;
    try {
      current = new Set((await client.listStaticIps!()).map(normalise));
    } catch (error) {
      failed = true;
      const message = `Cannot read the static entries blocked on ${client.name}: ${
        errorText(error)
      }; static entries on ${client.name} are left as they are this cycle`;
      messages.push({ category: "Error", text: message });
      logger.error("{message}", { message });
      return;
    }
    const toBlock = [...list.entries.keys()].filter((e) => !current.has(e));
    const toUnblock = [...current].filter((e) => !list.entries.has(e));
    const reasonOf = (entry: string, op: "static-block" | "static-unblock") =>
      op === "static-block"
        ? [`listed in ${path} line ${list.entries.get(entry)}`]
        : [`no longer listed in ${path}`];
    const run = async (op: "static-block" | "static-unblock", entries: string[]) => {
      if (entries.length === 0) return;
      const verb = op === "static-block" ? "block" : "unblock";
      if (dryRun) {
        for (const entry of entries) {
          records.push(record(client, op, entry, "planned", reasonOf(entry, op), {
            message: `Would ${verb} static destination ${entry} on ${client.name}: ${dryRunReason}`,
          }));
        }
        return;
      }
      let outcomes: StaticIpOutcome[];
      try {
        outcomes = op === "static-block"
          ? await client.blockStaticIps!({ dstIps: entries })
          : await client.unblockStaticIps!({ dstIps: entries });
      } catch (error) {
        const text = errorText(error);
        outcomes = entries.map((entry) => ({ entry, ok: false, error: text }));
      }
      for (const entry of entries) {
        const o = outcomes.find((x) => normalise(x.entry) === entry);
        const ok = o?.ok ?? false;
        const error = o?.error ?? (o ? undefined : `${client.name} reported nothing for ${entry}`);
        if (!ok) failed = true;
        const done = op === "static-block" ? "Blocked" : "Unblocked";
        records.push(record(client, op, entry, ok ? "ok" : "failed", reasonOf(entry, op), {
          message: ok
            ? `${done} static destination ${entry} on ${client.name}`
            : `Cannot ${verb} static destination ${entry} on ${client.name}: ${error ?? "failed"}`,
          ...(ok || error === undefined ? {} : { error }),
        }));
      }
    };
    await run("static-block", toBlock);
    await run("static-unblock", toUnblock);
    if (!dryRun) await reassert(client, [...list.entries.keys()].filter((e) => current.has(e)));
  }));
  for (const r of records) {
    const fields = { message: r.message, client: r.client, outcome: r.outcome };
    if (r.outcome === "failed") logger.error("{message}", fields);
    else logger.info("{message}", fields);
  }
  return { records, messages, failed };
}

function record(
  client: ResponseClient,
  operation: "static-block" | "static-unblock",
  entry: string,
  outcome: ActionOutcome,
  reasons: readonly string[],
  fields: { message: string; error?: string },
): ActionRecord {
  return {
    brain: null,
    kind: "static",
    entityId: null,
    entityName: entry,
    client: client.name,
    operation,
    elements: [entry],
    outcome,
    reasons,
    ...(fields.error === undefined ? {} : { error: fields.error }),
    message: fields.message,
    category: outcome === "failed" ? "Error" : "Info",
  };
}
