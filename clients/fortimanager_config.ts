/**
 * The configuration of the FortiManager client (vendors/fortimanager.md): its keys, each
 * `FORTIMANAGER_<the original's key>` plus the groups, devices and task timing the original
 * lacked, parsed with every error naming the key and the value; and its secrets, one
 * password per FortiManager under the URL as written (the original's names). Private to
 * `clients/fortimanager.ts`.
 *
 * @module
 */

import { z } from "zod";
import type { FmgScope, FmgServer } from "./fortimanager_api.ts";
import { alignedValues, parseBool, splitList } from "./_config.ts";
import { parseBaseUrl, secretsPer } from "./_devices.ts";
import { parseTaskTiming, taskKeys, type TaskTiming } from "./_tasks.ts";
import type { SecretRef } from "../engine/secrets.ts";
import type { ConfigKey } from "./interface.ts";

/** The address groups: hosts and destinations, IPv4 and IPv6. */
export interface FmgGroups {
  readonly host: Readonly<Record<4 | 6, string>>;
  readonly destination: Readonly<Record<4 | 6, string>>;
}

/** The group keys. */
const GROUP_KEYS = [
  "FORTIMANAGER_BLOCK_GROUP",
  "FORTIMANAGER_EXTERNAL_BLOCK_GROUP",
  "FORTIMANAGER_BLOCK_GROUP6",
  "FORTIMANAGER_EXTERNAL_BLOCK_GROUP6",
];

/** The parsed configuration of the FortiManager client. */
export interface FortiManagerConfig {
  readonly servers: readonly FmgServer[];
  readonly user: string;
  readonly adom: string;
  readonly policyPackage: string;
  /** Groups per scope kind and address family. */
  readonly groups: FmgGroups;
  readonly scope: readonly FmgScope[];
  readonly tasks: TaskTiming;
}

const PER_URL =
  "One value for every URL, or one per FORTIMANAGER_URLS entry in the same order, comma-separated.";

/** The documented keys of the FortiManager client. */
export const FORTIMANAGER_KEYS: readonly ConfigKey[] = [
  {
    key: "FORTIMANAGER_URLS",
    default: "",
    required: true,
    help:
      "FortiManager base URLs, comma-separated (`https://fmg.example.com`, port allowed). Each entry is also the secret's service name (key `password`).",
  },
  {
    key: "FORTIMANAGER_CHECK_SSL",
    default: "true",
    help: `Verify the FortiManager's TLS certificate (true/false). ${PER_URL}`,
  },
  {
    key: "FORTIMANAGER_CA_FILE",
    default: "",
    help: `PEM file of the CA that signed its certificate; empty: system roots. ${PER_URL}`,
  },
  { key: "FORTIMANAGER_FMG_USER", default: "apiadmin", help: "JSON-RPC API administrator." },
  { key: "FORTIMANAGER_ADOM", default: "vectra_adom", help: "ADOM of the objects and package." },
  {
    key: "FORTIMANAGER_POLICY_PKG",
    default: "vectra_policy",
    help: "Policy package installed after a batch of changes.",
  },
  {
    key: "FORTIMANAGER_BLOCK_GROUP",
    default: "Blocked_Vectra_IPs",
    help: "Address group for blocked hosts (source of a deny policy); it must exist.",
  },
  {
    key: "FORTIMANAGER_EXTERNAL_BLOCK_GROUP",
    default: "Blocked_Vectra_Destinations",
    help:
      "Address group for blocked detection and static destinations (destination of a deny policy); it must exist.",
  },
  {
    key: "FORTIMANAGER_BLOCK_GROUP6",
    default: "Blocked_Vectra_IPs6",
    help: "IPv6 address group (addrgrp6) for blocked hosts; needed only to block IPv6.",
  },
  {
    key: "FORTIMANAGER_EXTERNAL_BLOCK_GROUP6",
    default: "Blocked_Vectra_Destinations6",
    help: "IPv6 address group for blocked detection and static destinations.",
  },
  {
    key: "FORTIMANAGER_INSTALL_DEVICES",
    default: "",
    required: true,
    help:
      "Managed devices the package is installed on, comma-separated, each `device` or `device/vdom` (VDOM root by default); a block counts once every one installed it.",
  },
  ...taskKeys("FORTIMANAGER", "a policy package install"),
];

/** Parses the raw `FORTIMANAGER_*` keys into a {@linkcode FortiManagerConfig}. */
export const FortiManagerConfigSchema: z.ZodType<FortiManagerConfig> = z.object(
  Object.fromEntries(
    FORTIMANAGER_KEYS.map(({ key, default: value }) => [key, z.string().default(value)]),
  ),
).transform((raw, ctx): FortiManagerConfig => {
  const r = raw as Record<string, string>;
  const fail = (key: string, message: string): typeof z.NEVER => {
    ctx.addIssue({ code: "custom", path: [key], message });
    return z.NEVER;
  };
  const value = (key: string) => (r[key] ?? "").trim();
  const entries = splitList(value("FORTIMANAGER_URLS")).filter((e) => e !== "");
  const scope = splitList(value("FORTIMANAGER_INSTALL_DEVICES")).filter((d) => d !== "").map(
    (d): FmgScope => {
      const [name = "", vdom = "root"] = d.split("/").map((p) => p.trim());
      return { name, vdom };
    },
  );
  if (entries.length === 0) {
    fail("FORTIMANAGER_URLS", "FORTIMANAGER_URLS is empty; give the FortiManager URLs");
  }
  if (scope.length === 0) {
    fail(
      "FORTIMANAGER_INSTALL_DEVICES",
      "FORTIMANAGER_INSTALL_DEVICES is empty; name the managed devices that enforce the package (a block counts only once installed)",
    );
  }
  const tasks = parseTaskTiming(r, "FORTIMANAGER", fail);
  if (entries.length === 0 || scope.length === 0 || tasks === null) return z.NEVER;
  const bad = scope.find((s) => s.name === "" || s.vdom === "");
  if (bad) {
    return fail(
      "FORTIMANAGER_INSTALL_DEVICES",
      `FORTIMANAGER_INSTALL_DEVICES has an empty device or VDOM; write device or device/vdom`,
    );
  }
  const aligned = (key: string) => {
    const values = alignedValues(r[key] ?? "", entries.length, {
      key,
      listKey: "FORTIMANAGER_URLS",
      devices: "URLs",
      device: "URL",
    });
    if (typeof values !== "string") return values;
    fail(key, values);
    return null;
  };
  const checks = aligned("FORTIMANAGER_CHECK_SSL");
  const caFiles = aligned("FORTIMANAGER_CA_FILE");
  if (checks === null || caFiles === null) return z.NEVER;
  const servers: FmgServer[] = [];
  for (const [i, entry] of entries.entries()) {
    const parsed = parseBaseUrl(entry, "/jsonrpc");
    if ("error" in parsed) {
      return fail("FORTIMANAGER_URLS", `FORTIMANAGER_URLS entry ${parsed.error}`);
    }
    if (servers.some((s) => s.baseUrl === parsed.baseUrl)) {
      return fail("FORTIMANAGER_URLS", `FORTIMANAGER_URLS lists ${entry} twice`);
    }
    const verifyTls = parseBool(checks[i] ?? "");
    if (verifyTls === null) {
      return fail(
        "FORTIMANAGER_CHECK_SSL",
        `FORTIMANAGER_CHECK_SSL is "${checks[i]}"; use true or false`,
      );
    }
    const caFile = caFiles[i] ?? "";
    servers.push({
      entry,
      baseUrl: parsed.baseUrl,
      verifyTls,
      caFile: caFile === "" ? null : caFile,
    });
  }
  for (
    const key of [
      "FORTIMANAGER_FMG_USER",
      "FORTIMANAGER_ADOM",
      "FORTIMANAGER_POLICY_PKG",
      ...GROUP_KEYS,
    ]
  ) {
    if (value(key) === "") {
      return fail(key, `${key} is empty; name one that exists on the FortiManager`);
    }
  }
  for (const v of ["", "6"]) {
    const host = value(`FORTIMANAGER_BLOCK_GROUP${v}`);
    if (host === value(`FORTIMANAGER_EXTERNAL_BLOCK_GROUP${v}`)) {
      return fail(
        `FORTIMANAGER_EXTERNAL_BLOCK_GROUP${v}`,
        `FORTIMANAGER_BLOCK_GROUP${v} and FORTIMANAGER_EXTERNAL_BLOCK_GROUP${v} are both "${host}"; hosts are a source, destinations a destination: use two groups`,
      );
    }
  }
  return {
    servers,
    user: value("FORTIMANAGER_FMG_USER"),
    adom: value("FORTIMANAGER_ADOM"),
    policyPackage: value("FORTIMANAGER_POLICY_PKG"),
    groups: {
      host: { 4: value("FORTIMANAGER_BLOCK_GROUP"), 6: value("FORTIMANAGER_BLOCK_GROUP6") },
      destination: {
        4: value("FORTIMANAGER_EXTERNAL_BLOCK_GROUP"),
        6: value("FORTIMANAGER_EXTERNAL_BLOCK_GROUP6"),
      },
    },
    scope,
    tasks,
  };
});

/** The secrets: one password per FortiManager, under its URL as written (as the original). */
export function fortiManagerSecrets(config: FortiManagerConfig): SecretRef[] {
  return secretsPer(config.servers.map((s) => s.entry), (entry) => ({
    service: entry,
    key: "password",
    description: `Password of the FortiManager API administrator ${config.user} on ${entry}`,
  }));
}
