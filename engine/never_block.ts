/**
 * `NEVER_BLOCK_ADDRESSES` (issue 33): addresses and networks var never blocks, whatever a
 * brain says — kept in var's own configuration, so a brain operator cannot lift it. A host
 * whose address falls inside, a detection destination inside, a static entry that
 * overlaps one: none is blocked, and one already blocked is unblocked, naming the entry
 * that protects it.
 *
 * @module
 */

import { type IpEntry, overlaps, parseIpOrNetwork } from "./ip.ts";

/** One protected address or network, and where it was written. */
export interface NeverBlockEntry {
  readonly entry: IpEntry;
  /** `NEVER_BLOCK_ADDRESSES`, or `<file> line <n>`. */
  readonly where: string;
}

/**
 * Parses entries (addresses or CIDR networks, IPv4 or IPv6; `#` starts a comment, blank
 * entries are skipped); each bad one is reported with its place and the reason.
 */
export function parseNeverBlock(
  items: readonly { readonly text: string; readonly where: string }[],
  fail: (where: string, message: string) => void,
): NeverBlockEntry[] {
  const entries: NeverBlockEntry[] = [];
  for (const { text, where } of items) {
    const value = text.replace(/#.*$/, "").trim();
    if (value === "") continue;
    const parsed = parseIpOrNetwork(value);
    if (!parsed.ok) {
      fail(where, `"${value}" is not an address or network: ${parsed.reason}`);
      continue;
    }
    entries.push({ entry: parsed.value, where });
  }
  return entries;
}

/** Reads a file's lines as never-block items, each named `<file> line <n>`. */
export function neverBlockLines(path: string, text: string): { text: string; where: string }[] {
  return text.split(/\r?\n/).map((line, index) => ({
    text: line,
    where: `${path} line ${index + 1}`,
  }));
}

/** Why an address or network must never be blocked, or null when nothing protects it. */
export function protection(list: readonly NeverBlockEntry[], text: string): string | null {
  if (list.length === 0) return null;
  const parsed = parseIpOrNetwork(text.trim());
  if (!parsed.ok) return null;
  const found = list.find((p) => overlaps(parsed.value, p.entry));
  return found === undefined
    ? null
    : `${parsed.value.entry} is protected by NEVER_BLOCK_ADDRESSES entry ${found.entry.entry} (${found.where})`;
}
