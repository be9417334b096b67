/**
 * IP addresses and CIDR networks: parsing, normalisation, and the one table of
 * "internal" address ranges that var never blocks as an external destination
 * (decisions.md #1).
 *
 * @module
 */

/** A parsed address or network, normalised. */
export interface IpEntry {
  /** 4 or 6. */
  readonly version: 4 | 6;
  /** The network (or single) address in canonical text form, e.g. `2.2.2.0` or `2001:db8::`. */
  readonly address: string;
  /** Prefix length; 32 or 128 for a single address. */
  readonly prefix: number;
  /** True when the text was a network with a prefix shorter than the address length. */
  readonly isNetwork: boolean;
  /** Canonical entry: `address` for a single address (also for `/32`, `/128`), else `address/prefix`. */
  readonly entry: string;
}

/** The result of {@linkcode parseIpOrNetwork}: an entry, or why the text is not one. */
export type ParsedIpOrNetwork =
  | { readonly ok: true; readonly value: IpEntry }
  | {
    readonly ok: false;
    /** Why the text was refused, e.g. `"2.2.2.1/24" has host bits set; use "2.2.2.0/24"`. */
    readonly reason: string;
    /** The masked network, when the only fault is host bits set. */
    readonly corrected?: string;
  };

/** One parsed address: its version and value. */
interface RawAddress {
  readonly version: 4 | 6;
  readonly value: bigint;
}

const V4_BITS = 32;
const V6_BITS = 128;

/** Parses dotted-quad IPv4 text (no leading zeros, as Python's `ipaddress`); null if invalid. */
function parseV4(text: string): bigint | null {
  const parts = text.split(".");
  if (parts.length !== 4) return null;
  let value = 0n;
  for (const part of parts) {
    if (!/^\d{1,3}$/.test(part)) return null;
    if (part.length > 1 && part.startsWith("0")) return null;
    const octet = Number(part);
    if (octet > 255) return null;
    value = (value << 8n) | BigInt(octet);
  }
  return value;
}

/** Parses IPv6 text (with `::` and an optional trailing dotted IPv4); null if invalid. */
function parseV6(text: string): bigint | null {
  if (!/^[0-9a-fA-F:.]+$/.test(text)) return null;
  const halves = text.split("::");
  if (halves.length > 2) return null;
  const toGroups = (part: string): number[] | null => {
    if (part === "") return [];
    const groups: number[] = [];
    const pieces = part.split(":");
    for (let i = 0; i < pieces.length; i++) {
      const piece = pieces[i] ?? "";
      if (i === pieces.length - 1 && piece.includes(".")) {
        const v4 = parseV4(piece);
        if (v4 === null) return null;
        groups.push(Number(v4 >> 16n), Number(v4 & 0xffffn));
        continue;
      }
      if (!/^[0-9a-fA-F]{1,4}$/.test(piece)) return null;
      groups.push(parseInt(piece, 16));
    }
    return groups;
  };
  const head = toGroups(halves[0] ?? "");
  const tail = halves.length === 2 ? toGroups(halves[1] ?? "") : [];
  if (head === null || tail === null) return null;
  let groups: number[];
  if (halves.length === 2) {
    const missing = 8 - head.length - tail.length;
    if (missing < 1) return null;
    groups = [...head, ...new Array<number>(missing).fill(0), ...tail];
  } else {
    groups = head;
  }
  if (groups.length !== 8) return null;
  // A dotted IPv4 part is only allowed as the last 32 bits.
  const dotted = text.indexOf(".");
  if (dotted >= 0 && text.slice(dotted).includes(":")) return null;
  let value = 0n;
  for (const group of groups) value = (value << 16n) | BigInt(group);
  return value;
}

/** Parses an IPv4 or IPv6 address; null if the text is not one. */
function parseAddress(text: string): RawAddress | null {
  if (text.includes(":")) {
    const value = parseV6(text);
    return value === null ? null : { version: 6, value };
  }
  const value = parseV4(text);
  return value === null ? null : { version: 4, value };
}

/** Formats an IPv4 value as dotted quad. */
function formatV4(value: bigint): string {
  return [24n, 16n, 8n, 0n].map((shift) => String(Number((value >> shift) & 0xffn))).join(".");
}

/** Formats an IPv6 value per RFC 5952 (lower case, longest zero run compressed). */
function formatV6(value: bigint): string {
  if (value >> 32n === 0xffffn) return `::ffff:${formatV4(value & 0xffffffffn)}`;
  const groups: number[] = [];
  for (let i = 7; i >= 0; i--) groups.push(Number((value >> BigInt(i * 16)) & 0xffffn));
  let bestStart = -1;
  let bestLength = 0;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength && j - i >= 2) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = groups.map((group) => group.toString(16));
  if (bestStart < 0) return hex.join(":");
  const left = hex.slice(0, bestStart).join(":");
  const right = hex.slice(bestStart + bestLength).join(":");
  return `${left}::${right}`;
}

/** Formats an address of either version. */
function formatAddress(address: RawAddress): string {
  return address.version === 4 ? formatV4(address.value) : formatV6(address.value);
}

/** The mask of a prefix length for an address width. */
function maskOf(prefix: number, bits: number): bigint {
  const width = BigInt(bits);
  const hostBits = BigInt(bits - prefix);
  return ((1n << width) - 1n) ^ ((1n << hostBits) - 1n);
}

/** Normalises an IP address: canonical text, or null when `text` is not an address. */
export function normalizeIp(text: string): string | null {
  const address = parseAddress(text.trim());
  return address === null ? null : formatAddress(address);
}

/**
 * Parses an address (`1.2.3.4`, `2001:db8::1`) or a CIDR network (`2.2.2.0/24`) into a
 * normalised entry. A network with host bits set is refused, with the corrected form in
 * the reason (decisions.md #6).
 *
 * @example
 * ```ts
 * parseIpOrNetwork("2.2.2.1/24");
 * // { ok: false, reason: '"2.2.2.1/24" has host bits set; use "2.2.2.0/24"', corrected: "2.2.2.0/24" }
 * ```
 */
export function parseIpOrNetwork(text: string): ParsedIpOrNetwork {
  const trimmed = text.trim();
  if (trimmed === "") return { ok: false, reason: "the entry is empty" };
  const slash = trimmed.indexOf("/");
  const addressText = slash < 0 ? trimmed : trimmed.slice(0, slash);
  const address = parseAddress(addressText);
  if (address === null) {
    return { ok: false, reason: `"${trimmed}" is not an IPv4 or IPv6 address or network` };
  }
  const bits = address.version === 4 ? V4_BITS : V6_BITS;
  let prefix = bits;
  if (slash >= 0) {
    const prefixText = trimmed.slice(slash + 1);
    if (!/^\d{1,3}$/.test(prefixText) || Number(prefixText) > bits) {
      return {
        ok: false,
        reason: `"${trimmed}" has an invalid prefix length; use 0 to ${bits}`,
      };
    }
    prefix = Number(prefixText);
  }
  const masked = address.value & maskOf(prefix, bits);
  const network: RawAddress = { version: address.version, value: masked };
  if (masked !== address.value) {
    const corrected = `${formatAddress(network)}/${prefix}`;
    return {
      ok: false,
      reason: `"${trimmed}" has host bits set; use "${corrected}"`,
      corrected,
    };
  }
  const canonical = formatAddress(network);
  const isNetwork = prefix < bits;
  return {
    ok: true,
    value: {
      version: address.version,
      address: canonical,
      prefix,
      isNetwork,
      entry: isNetwork ? `${canonical}/${prefix}` : canonical,
    },
  };
}

/** One row of the internal-address table. */
interface InternalRange {
  readonly version: 4 | 6;
  readonly network: bigint;
  readonly prefix: number;
  readonly label: string;
}

/**
 * The ranges var treats as internal (decisions.md #1): Python's `is_private` set, plus
 * carrier-grade NAT and multicast. IPv4-mapped IPv6 addresses are judged by the embedded
 * IPv4 address. Listed in the README.
 */
export const INTERNAL_RANGES: readonly { readonly cidr: string; readonly label: string }[] = [
  { cidr: "0.0.0.0/8", label: "this network" },
  { cidr: "10.0.0.0/8", label: "private (RFC 1918)" },
  { cidr: "100.64.0.0/10", label: "carrier-grade NAT (RFC 6598)" },
  { cidr: "127.0.0.0/8", label: "loopback" },
  { cidr: "169.254.0.0/16", label: "link-local" },
  { cidr: "172.16.0.0/12", label: "private (RFC 1918)" },
  { cidr: "192.0.0.0/24", label: "IETF protocol assignments" },
  { cidr: "192.0.2.0/24", label: "documentation (TEST-NET-1)" },
  { cidr: "192.168.0.0/16", label: "private (RFC 1918)" },
  { cidr: "198.18.0.0/15", label: "benchmarking" },
  { cidr: "198.51.100.0/24", label: "documentation (TEST-NET-2)" },
  { cidr: "203.0.113.0/24", label: "documentation (TEST-NET-3)" },
  { cidr: "224.0.0.0/4", label: "multicast" },
  { cidr: "240.0.0.0/4", label: "reserved" },
  { cidr: "255.255.255.255/32", label: "limited broadcast" },
  { cidr: "::/128", label: "unspecified" },
  { cidr: "::1/128", label: "loopback" },
  { cidr: "64:ff9b:1::/48", label: "local-use IPv4/IPv6 translation" },
  { cidr: "100::/64", label: "discard-only" },
  { cidr: "2001::/23", label: "IETF protocol assignments" },
  { cidr: "2001:db8::/32", label: "documentation" },
  { cidr: "2002::/16", label: "6to4" },
  { cidr: "3fff::/20", label: "documentation" },
  { cidr: "fc00::/7", label: "unique-local" },
  { cidr: "fe80::/10", label: "link-local" },
  { cidr: "ff00::/8", label: "multicast" },
];

/**
 * Addresses no single host has, which var never blocks as a host or a destination: the
 * unspecified address, "this network", broadcast, loopback, multicast and reserved ranges.
 * The most specific row comes first. IPv4-mapped IPv6 addresses are judged by the embedded
 * IPv4 address.
 */
export const NOT_HOST_RANGES: readonly { readonly cidr: string; readonly label: string }[] = [
  { cidr: "0.0.0.0/32", label: "the unspecified address" },
  { cidr: "0.0.0.0/8", label: "in 0.0.0.0/8 (this network)" },
  { cidr: "127.0.0.0/8", label: "a loopback address" },
  { cidr: "224.0.0.0/4", label: "a multicast address" },
  { cidr: "255.255.255.255/32", label: "the broadcast address" },
  { cidr: "240.0.0.0/4", label: "a reserved address" },
  { cidr: "::/128", label: "the unspecified address" },
  { cidr: "::1/128", label: "a loopback address" },
  { cidr: "ff00::/8", label: "a multicast address" },
];

/** Parses a table of CIDR rows once, at start-up. */
function rangeTable(
  table: readonly { readonly cidr: string; readonly label: string }[],
): readonly InternalRange[] {
  return table.map(({ cidr, label }) => {
    const parsed = parseIpOrNetwork(cidr);
    if (!parsed.ok) throw new Error(`Cannot build an address table: ${parsed.reason}`);
    const address = parseAddress(parsed.value.address);
    if (address === null) throw new Error(`Cannot build an address table: "${cidr}"`);
    return {
      version: address.version,
      network: address.value,
      prefix: parsed.value.prefix,
      label,
    };
  });
}

const RANGES: readonly InternalRange[] = rangeTable(INTERNAL_RANGES);
const NOT_HOST: readonly InternalRange[] = rangeTable(NOT_HOST_RANGES);

/** The first range of `table` that holds the address, judging IPv4-mapped IPv6 as IPv4. */
function rangeOf(table: readonly InternalRange[], address: RawAddress): InternalRange | undefined {
  const mapped = address.version === 6 && address.value >> 32n === 0xffffn;
  const version = mapped ? 4 : address.version;
  const value = mapped ? address.value & 0xffffffffn : address.value;
  const bits = version === 4 ? V4_BITS : V6_BITS;
  return table.find((range) =>
    range.version === version && (value & maskOf(range.prefix, bits)) === range.network
  );
}

/** One address var may block as a single host, or why it may not. */
export type HostAddress =
  | { readonly ok: true; readonly address: string }
  | { readonly ok: false; readonly reason: string };

/**
 * Checks that `text` is one single IPv4 or IPv6 address that a host can have, as blocking
 * a host or a destination needs: not missing or empty, not text, not a network (`/32` and
 * `/128` are one address), not an address of {@linkcode NOT_HOST_RANGES}. The reason
 * names the value as given, e.g. `address 0.0.0.0/0 is not a single host address`.
 *
 * @example
 * ```ts
 * singleHostAddress("10.1.2.3"); // { ok: true, address: "10.1.2.3" }
 * singleHostAddress("10.0.0.0/8"); // { ok: false, reason: "address 10.0.0.0/8 is not a single host address" }
 * ```
 */
export function singleHostAddress(text: string | null | undefined): HostAddress {
  if (text === null || text === undefined) return { ok: false, reason: "no address is known" };
  const trimmed = text.trim();
  if (trimmed === "") return { ok: false, reason: "the address is empty" };
  const shown = JSON.stringify(trimmed).slice(1, -1);
  const parsed = parseIpOrNetwork(trimmed);
  const networkLike = /^[0-9a-fA-F:.]+\/\d{1,3}$/.test(trimmed);
  if (!parsed.ok && !networkLike) {
    return { ok: false, reason: `address "${shown}" is not an IPv4 or IPv6 address` };
  }
  if (!parsed.ok || parsed.value.isNetwork) {
    return { ok: false, reason: `address ${trimmed} is not a single host address` };
  }
  const address = parseAddress(parsed.value.address);
  const range = address === null ? undefined : rangeOf(NOT_HOST, address);
  if (range !== undefined) {
    return { ok: false, reason: `address ${shown} is ${range.label}, not a host address` };
  }
  return { ok: true, address: parsed.value.address };
}

/**
 * True when `ip` is an internal address that is never blocked as an external destination
 * (decisions.md #1). Text that is not an IP address is not internal: callers drop it
 * separately (use {@linkcode normalizeIp}).
 */
export function isInternalAddress(ip: string): boolean {
  const address = parseAddress(ip.trim());
  return address !== null && rangeOf(RANGES, address) !== undefined;
}

/** The broadest network var blocks, per IP version (a prefix length). */
export const BROADEST_PREFIX: Readonly<Record<4 | 6, number>> = { 4: 8, 6: 16 };

/**
 * Parses a destination var may block, as the static list allows: one single host address
 * ({@linkcode singleHostAddress}), or a CIDR network without host bits set that is no
 * broader than `/8` (IPv4) or `/16` (IPv6) and does not start in a range no host has. So
 * `0.0.0.0/0`, `::/0` and `224.0.0.0/4` are refused, each with the reason.
 */
export function parseBlockableEntry(text: string): ParsedIpOrNetwork {
  const parsed = parseIpOrNetwork(text);
  if (!parsed.ok) return parsed;
  const { value } = parsed;
  if (!value.isNetwork) {
    const single = singleHostAddress(value.address);
    return single.ok ? parsed : { ok: false, reason: single.reason };
  }
  const broadest = BROADEST_PREFIX[value.version];
  if (value.prefix < broadest) {
    return {
      ok: false,
      reason:
        `network ${value.entry} is broader than /${broadest}; var blocks no network that large`,
    };
  }
  const base = parseAddress(value.address);
  const range = base === null ? undefined : rangeOf(NOT_HOST, base);
  if (range !== undefined) {
    return {
      ok: false,
      reason: `network ${value.entry} starts at ${value.address}, ${range.label}`,
    };
  }
  return parsed;
}

/** An IPv4 prefix length as a dotted netmask: `24` → `255.255.255.0`. */
export function netmaskOf(prefix: number): string {
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  return [24, 16, 8, 0].map((shift) => String((mask >>> shift) & 0xff)).join(".");
}

/** A dotted IPv4 netmask as a prefix length, or null when it is not a contiguous mask. */
export function prefixOfNetmask(mask: string): number | null {
  const parts = mask.split(".").map(Number);
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) {
    return null;
  }
  const value = parts.reduce((acc, part) => ((acc << 8) | part) >>> 0, 0);
  const prefix = 32 - Math.log2(((~value) >>> 0) + 1);
  return Number.isInteger(prefix) && netmaskOf(prefix) === mask ? prefix : null;
}

/**
 * True when two entries share an address: one holds the other (an address inside a
 * network, or a network inside a broader one). IPv4-mapped IPv6 counts as IPv4.
 */
export function overlaps(a: IpEntry, b: IpEntry): boolean {
  const raw = (e: IpEntry) => {
    const address = parseAddress(e.address);
    if (address === null) return null;
    const mapped = address.version === 6 && address.value >> 32n === 0xffffn && e.prefix >= 96;
    return mapped
      ? { version: 4 as const, value: address.value & 0xffffffffn, prefix: e.prefix - 96 }
      : { version: address.version, value: address.value, prefix: e.prefix };
  };
  const x = raw(a);
  const y = raw(b);
  if (x === null || y === null || x.version !== y.version) return false;
  const mask = maskOf(Math.min(x.prefix, y.prefix), x.version === 4 ? V4_BITS : V6_BITS);
  return (x.value & mask) === (y.value & mask);
}
