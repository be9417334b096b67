/**
 * Parsing helpers the vendor clients share for their `var.env` keys: comma-separated
 * lists, booleans, and per-device values aligned with a list of devices. Private to
 * `clients/`.
 *
 * @module
 */

/** Splits a comma-separated list, trimming each value. */
export function splitList(text: string): string[] {
  return text.split(",").map((value) => value.trim());
}

/** Parses a boolean as written in var.env (`true`/`yes`/`1`/`on` or the opposites), else null. */
export function parseBool(text: string): boolean | null {
  const value = text.trim().toLowerCase();
  if (["true", "yes", "1", "on"].includes(value)) return true;
  if (["false", "no", "0", "off"].includes(value)) return false;
  return null;
}

/** What {@linkcode alignedValues} needs to name the keys in its error. */
export interface AlignedKeys {
  /** The per-device key, e.g. `FORTINET_PORT`. */
  readonly key: string;
  /** The key listing the devices, e.g. `FORTINET_IP`. */
  readonly listKey: string;
  /** What one device is called in the message, e.g. `firewalls` / `IP`. */
  readonly devices: string;
  readonly device: string;
}

/**
 * One value per device from a per-device key: a single value applies to every device,
 * otherwise there must be exactly one per device. Returns the values, or the error text.
 *
 * @example
 * ```ts
 * alignedValues("443", 2, { key: "FORTINET_PORT", listKey: "FORTINET_IP", devices: "firewalls", device: "IP" });
 * // ["443", "443"]
 * ```
 */
export function alignedValues(text: string, count: number, keys: AlignedKeys): string[] | string {
  const values = splitList(text);
  if (values.length === 1) return Array.from({ length: count }, () => values[0] ?? "");
  if (values.length === count) return values;
  return `${keys.key} has ${values.length} values but ${keys.listKey} has ${count}; give one value for all ${keys.devices} or one per ${keys.device}`;
}
