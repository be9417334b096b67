/**
 * Names and ownership marks of the objects vendor clients create on a device, so a later
 * run — or the run after a crash — finds them again, and var never touches an object it
 * did not create. A name is `var-<scope>-<entry>` with `/` written `_` (`var-host-10.1.2.3`,
 * `var-static-198.51.100.0_24`); the object's comment or description starts with
 * {@linkcode OWNERSHIP_MARK}. Private to `clients/`.
 *
 * @module
 */

import { type IpEntry, parseIpOrNetwork } from "../engine/ip.ts";
import type { Scope } from "./_targets.ts";

/** Every comment var writes on an object starts with this; it marks the object as var's. */
export const OWNERSHIP_MARK = "Managed by var";

/** Object name prefix per scope. */
export const NAME_PREFIX: Readonly<Record<Scope, string>> = {
  host: "var-host-",
  detection: "var-detection-",
  static: "var-static-",
};

/** What a scope is called in ownership notes. */
const SCOPE_LABEL: Readonly<Record<Scope, string>> = {
  host: "host",
  detection: "detection destination",
  static: "static destination",
};

/** The deterministic object name of an entry blocked for a scope. */
export function objectName(scope: Scope, entry: IpEntry): string {
  return `${NAME_PREFIX[scope]}${entry.entry.replace("/", "_")}`;
}

/** The entry an object name stands for, or null when the name is not var's for the scope. */
export function entryOfName(scope: Scope, name: string): IpEntry | null {
  const prefix = NAME_PREFIX[scope];
  if (!name.startsWith(prefix)) return null;
  const parsed = parseIpOrNetwork(name.slice(prefix.length).replace("_", "/"));
  if (!parsed.ok || objectName(scope, parsed.value) !== name) return null;
  return parsed.value;
}

/** The comment var writes on an object it creates. */
export function ownershipNote(scope: Scope, entry: IpEntry): string {
  return `${OWNERSHIP_MARK} (Vectra Automated Response): ${
    SCOPE_LABEL[scope]
  } ${entry.entry}; var deletes this object when it unblocks`;
}

/** True when a comment marks its object as var's. */
export function isOwned(comment: unknown): boolean {
  return typeof comment === "string" && comment.startsWith(OWNERSHIP_MARK);
}
