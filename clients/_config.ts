/**
 * Parsing helpers the vendor clients share for their `var.env` keys: comma-separated
 * lists, booleans, per-device values aligned with a list of devices, the zod schema of a
 * client's keys, and the secrets of one service. Private to `clients/`.
 *
 * @module
 */

import { z } from "zod";
import type { SecretRef } from "../engine/secrets.ts";
import type { ConfigKey } from "./interface.ts";

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

/**
 * The zod schema of a client's keys: every key a string with its default, handed to
 * `parse` with `fail(key, message)` to report each problem (the key first in the issue's
 * path); `parse` returns the configuration, or null once it reported why not.
 */
export function keysSchema<C>(
  keys: readonly ConfigKey[],
  parse: (
    raw: Readonly<Record<string, string>>,
    fail: (key: string, message: string) => void,
  ) => C | null,
): z.ZodType<C> {
  return z.object(
    Object.fromEntries(keys.map(({ key, default: value }) => [key, z.string().default(value)])),
  ).transform((raw, ctx): C => {
    const fail = (key: string, message: string) => {
      ctx.addIssue({ code: "custom", path: [key], message });
    };
    return parse(raw as Record<string, string>, fail) ?? z.NEVER;
  });
}

/** The secrets of one service: key → what it is. */
export function serviceSecrets(
  service: string,
  keys: Readonly<Record<string, string>>,
): SecretRef[] {
  return Object.entries(keys).map(([key, description]) => ({ service, key, description }));
}
