/**
 * Deterministic names for the objects vendor clients create (architecture.md, "The client
 * contract": objects are named after the IP, MAC or entity they block, so a later run —
 * or the run after a crash — finds them again). Private to `clients/`.
 *
 * A name is `<prefix>-<kind tag>-<value>`, with the value made safe for every vendor's
 * object names (FortiOS, PAN-OS: letters, digits, `.`, `_`, `-`; at most 63 characters):
 * `:` becomes `-` and `/` becomes `_`. IP and MAC text contain neither `-` nor `_`, so the
 * mapping is reversible ({@linkcode parseObjectName}).
 *
 * | Value | Name |
 * |---|---|
 * | host `10.1.2.3` | `var-h-10.1.2.3` |
 * | detection destination `198.51.100.7` | `var-d-198.51.100.7` |
 * | static network `2.2.2.0/24` | `var-s-2.2.2.0_24` |
 * | host `2001:db8::1` | `var-h-2001-db8--1` |
 * | MAC `00:11:22:33:44:55` | `var-m-00-11-22-33-44-55` |
 *
 * Callers pass values already normalised (`engine/ip.ts`); hex digits are lower-cased
 * here so that `2001:DB8::1` and `2001:db8::1` give one name.
 *
 * @module
 */

/** The conventional kind tags: host, detection destination, static entry, MAC, account. */
export const KIND_TAGS = {
  host: "h",
  detection: "d",
  static: "s",
  mac: "m",
  account: "a",
} as const;

/** Longest name produced: the tightest vendor limit (PAN-OS object names). */
export const MAX_OBJECT_NAME_LENGTH = 63;

const PREFIX = /^[A-Za-z][A-Za-z0-9]*$/;
const KIND_TAG = /^[a-z0-9]+$/;
const VALUE = /^[0-9A-Fa-f.:/]+$/;
const NAME = /^([A-Za-z][A-Za-z0-9]*)-([a-z0-9]+)-([0-9a-f.\-_]+)$/;

/**
 * The object name for a value: `objectName("var", "h", "10.1.2.3")` is `var-h-10.1.2.3`.
 * Throws a RangeError for a prefix, kind tag or value that cannot make a safe name (the
 * value must be an IP address, CIDR network or MAC address).
 *
 * @example
 * ```ts
 * objectName("var", KIND_TAGS.static, "2.2.2.0/24"); // "var-s-2.2.2.0_24"
 * ```
 */
export function objectName(prefix: string, kindTag: string, value: string): string {
  if (!PREFIX.test(prefix)) {
    throw new RangeError(
      `Cannot name an object with prefix "${prefix}": use a letter followed by letters or digits`,
    );
  }
  if (!KIND_TAG.test(kindTag)) {
    throw new RangeError(
      `Cannot name an object with kind tag "${kindTag}": use lower-case letters or digits`,
    );
  }
  if (!VALUE.test(value)) {
    throw new RangeError(
      `Cannot name an object for "${value}": only IP addresses, networks and MAC addresses make object names`,
    );
  }
  const name = `${prefix}-${kindTag}-${
    value.toLowerCase().replaceAll(":", "-").replaceAll("/", "_")
  }`;
  if (name.length > MAX_OBJECT_NAME_LENGTH) {
    throw new RangeError(
      `Cannot name an object for "${value}": "${name}" is longer than ${MAX_OBJECT_NAME_LENGTH} characters`,
    );
  }
  return name;
}

/** A name split back into its parts. */
export interface ParsedObjectName {
  readonly prefix: string;
  readonly kindTag: string;
  /** The value as it was named (hex digits lower-cased). */
  readonly value: string;
}

/**
 * Splits a name made by {@linkcode objectName} back into prefix, kind tag and value, or
 * returns null for any other name (an object var did not create).
 */
export function parseObjectName(name: string): ParsedObjectName | null {
  const match = NAME.exec(name);
  if (!match) return null;
  const [, prefix = "", kindTag = "", safe = ""] = match;
  return { prefix, kindTag, value: safe.replaceAll("-", ":").replaceAll("_", "/") };
}
