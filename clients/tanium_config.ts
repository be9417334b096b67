/**
 * The configuration of the Tanium client (vendors/tanium.md): the API URL with its TLS
 * settings, the quarantine and removal packages of each platform (the original's
 * `BLOCK_PKG` and `UNBLOCK_PKG`, one package per platform, named after it), the action
 * group, and the action deadline. Private to `clients/tanium.ts`.
 *
 * @module
 */

import type { z } from "zod";
import { keysSchema, splitList } from "./_config.ts";
import { type ApiEndpointConfig, apiUrlKeys, parseApiUrl } from "./_devices.ts";
import { parseTaskTiming, taskKeys, type TaskTiming } from "./_tasks.ts";
import type { ConfigKey } from "./interface.ts";

/** The platforms a package is for, named in the package name. */
export const PLATFORMS = ["Windows", "Mac", "Linux"] as const;
/** A platform. */
export type Platform = typeof PLATFORMS[number];

/** The parsed configuration of the Tanium client. */
export interface TaniumConfig extends ApiEndpointConfig {
  /** The quarantine and removal package of each platform. */
  readonly block: Readonly<Partial<Record<Platform, string>>>;
  readonly unblock: Readonly<Partial<Record<Platform, string>>>;
  readonly actionGroup: string;
  readonly timing: TaskTiming;
}

/** The documented keys of the Tanium client. */
export const TANIUM_KEYS: readonly ConfigKey[] = [
  ...apiUrlKeys(
    "TANIUM",
    "TANIUM_URL",
    "Tanium API URL, e.g. https://<tenant>-api.cloud.tanium.com.",
  ),
  {
    key: "TANIUM_BLOCK_PKG",
    default: "",
    required: true,
    help:
      "Quarantine packages, comma-separated, one per platform; each name contains Windows, Mac or Linux.",
  },
  {
    key: "TANIUM_UNBLOCK_PKG",
    default: "",
    required: true,
    help: "Packages that remove the quarantine, one per platform, named the same way.",
  },
  {
    key: "TANIUM_ACTION_GROUP",
    default: "Default - All Computers",
    help: "Action group the actions are issued in (it must allow the endpoints var quarantines).",
  },
  ...taskKeys("TANIUM", "a quarantine action", 300),
];

/** The platform a package name is for, or null. */
export function platformOf(name: string): Platform | null {
  return PLATFORMS.find((p) => name.toLowerCase().includes(p.toLowerCase())) ?? null;
}

/** Parses the raw `TANIUM_*` keys. */
export const TaniumConfigSchema: z.ZodType<TaniumConfig> = keysSchema(TANIUM_KEYS, (r, fail) => {
  const api = parseApiUrl(r, "TANIUM", "TANIUM_URL", "", fail);
  const timing = parseTaskTiming(r, "TANIUM", fail);
  const packages = (key: string) => {
    const map: Partial<Record<Platform, string>> = {};
    const names = splitList(r[key] ?? "").filter((n) => n !== "");
    if (names.length === 0) fail(key, `${key} is empty; name the package of each platform`);
    for (const name of names) {
      const platform = platformOf(name);
      if (platform === null || map[platform] !== undefined) {
        fail(
          key,
          `${key} entry "${name}" ${
            platform === null
              ? "names no platform (Windows, Mac or Linux)"
              : `is a second ${platform} package`
          }`,
        );
        return null;
      }
      map[platform] = name;
    }
    return names.length === 0 ? null : map;
  };
  const block = packages("TANIUM_BLOCK_PKG");
  const unblock = packages("TANIUM_UNBLOCK_PKG");
  const actionGroup = (r.TANIUM_ACTION_GROUP ?? "").trim();
  if (actionGroup === "") {
    fail("TANIUM_ACTION_GROUP", "TANIUM_ACTION_GROUP is empty; name an action group");
  }
  if (api === null || timing === null || block === null || unblock === null || actionGroup === "") {
    return null;
  }
  return { ...api, block, unblock, actionGroup, timing };
});
