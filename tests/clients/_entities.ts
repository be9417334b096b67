/**
 * Sample entities for client tests: complete {@linkcode Host}, {@linkcode Account} and
 * {@linkcode Detection} objects of `engine/model.ts` with plausible defaults, each field
 * overridable. Private to `tests/clients/` (and the engine tests that need an entity
 * without a brain).
 *
 * @example
 * ```ts
 * const host = sampleHost({ id: 7, ip: "10.1.2.3" });
 * const moved = sampleHost({ id: 7, ip: "10.1.2.4" });
 * ```
 *
 * @module
 */

import type { Account, Detection, Host, StaticIps } from "../../engine/model.ts";
import { splitTags } from "../../engine/state_tags.ts";

/** Fields of a sample host; anything left out takes the default shown in {@linkcode sampleHost}. */
export type SampleHostFields = Partial<
  Omit<Host, "kind" | "keptTags" | "blockedElements" | "isBlocked">
>;

/** Fields of a sample account; see {@linkcode sampleAccount}. */
export type SampleAccountFields = Partial<
  Omit<Account, "kind" | "keptTags" | "blockedElements" | "isBlocked">
>;

/** Fields of a sample detection; see {@linkcode sampleDetection}. */
export type SampleDetectionFields = Partial<
  Omit<Detection, "kind" | "keptTags" | "blockedElements" | "isBlocked">
>;

/**
 * A host: id 7, `ward-3-pc` at `10.1.2.3`, one MAC, no tags. `keptTags`,
 * `blockedElements` and `isBlocked` are derived from `tags` as the engine derives them.
 */
export function sampleHost(fields: SampleHostFields = {}): Host {
  const tags = fields.tags ?? [];
  const lastSeen = fields.lastSeen ?? "2026-01-05T10:00:00Z";
  return {
    kind: "host",
    id: 7,
    name: "ward-3-pc",
    note: null,
    ip: "10.1.2.3",
    probableOwner: null,
    threat: 80,
    certainty: 90,
    urgencyScore: null,
    isKeyAsset: false,
    targetsKeyAsset: false,
    artifactTypes: ["mac", "dns"],
    macAddresses: ["00:11:22:33:44:55"],
    vmwareVmName: null,
    vmwareVmUuid: null,
    awsVmUuid: null,
    lastSeenTsUtc: Date.parse(lastSeen) / 1000,
    fullName: fields.name ?? "ward-3-pc",
    ...fields,
    lastSeen,
    tags,
    ...splitTags("host", tags),
  };
}

/**
 * An account: id 21, `kerberos:jdoe@corp.example`, sAMAccountName `jdoe`, context
 * `corp` (from a `Context:corp:` tag), no other tags.
 */
export function sampleAccount(fields: SampleAccountFields = {}): Account {
  const tags = fields.tags ?? ["Context:corp:"];
  const name = fields.name ?? "kerberos:jdoe@corp.example";
  return {
    kind: "account",
    id: 21,
    name,
    note: null,
    displayName: name,
    accountType: ["kerberos"],
    threat: 70,
    certainty: 80,
    severity: "high",
    urgencyScore: null,
    ldap: { samAccountName: "jdoe" },
    privilegeLevel: null,
    privilegeCategory: null,
    probableHome: null,
    context: "corp",
    normalizedName: "jdoe@corp.example",
    fakeSam: "jdoe",
    ...fields,
    tags,
    ...splitTags("account", tags),
  };
}

/**
 * A detection: id 301, an external command-and-control detection from host 7 to
 * `198.51.100.7` and `203.0.113.9` (documentation addresses, never routed).
 */
export function sampleDetection(fields: SampleDetectionFields = {}): Detection {
  const tags = fields.tags ?? [];
  return {
    kind: "detection",
    id: 301,
    name: "External Remote Access",
    note: null,
    hostId: 7,
    accountId: null,
    category: "COMMAND & CONTROL",
    detectionType: "External Remote Access",
    src: "10.1.2.3",
    dstIps: ["198.51.100.7", "203.0.113.9"],
    dstDomains: [],
    refusedDstIps: [],
    state: "active",
    threat: 60,
    certainty: 70,
    targetsKeyAsset: false,
    triage: null,
    isTriaged: false,
    ...fields,
    tags,
    ...splitTags("detection", tags),
  };
}

/** A static destination batch: one IPv4 address, one IPv4 network, one IPv6 address. */
export function sampleStaticIps(
  dstIps: readonly string[] = ["192.0.2.44", "198.51.100.0/24", "2001:db8::7"],
): StaticIps {
  return { dstIps };
}

/** The default sample of every kind, as a contract harness hands them to the suite. */
export function sampleSet(): {
  host: Host;
  account: Account;
  detection: Detection;
  staticIps: StaticIps;
} {
  return {
    host: sampleHost(),
    account: sampleAccount(),
    detection: sampleDetection(),
    staticIps: sampleStaticIps(),
  };
}
