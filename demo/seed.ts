/**
 * Seed data for the fake Vectra brain (`demo/brain.ts`): a typed builder so tests read
 * like scenarios, the realistic data set behind `var demo`, and a generator of large
 * deterministic data sets for benchmarks.
 *
 * @example
 * ```ts
 * const data = seed()
 *   .host({ name: "ward-3-pc", ip: "10.1.2.3", tags: ["vectra_host_block"], threat: 80, certainty: 90 })
 *   .detection({ src: "ward-3-pc", type: "Hidden DNS Tunnel", dstIps: ["198.51.100.7"] })
 *   .group({ name: "NoBlock", type: "host", members: ["ward-3-pc"] })
 *   .build();
 * ```
 *
 * @module
 */

/** One host artifact (`host_artifact_set` item). */
export interface SeedArtifact {
  readonly type: string;
  readonly value: string;
}

/** A host record as the fake brain stores it. Records are immutable; updates replace them. */
export interface SeedHost {
  readonly id: number;
  readonly name: string;
  /** `last_source` and `ip`: the current address, or null. */
  readonly ip: string | null;
  readonly state: "active" | "inactive";
  readonly threat: number;
  readonly certainty: number;
  /** v3 `urgency_score` of the host's entity (0–100). */
  readonly urgency: number;
  readonly isKeyAsset: boolean;
  readonly targetsKeyAsset: boolean;
  readonly tags: readonly string[];
  readonly artifacts: readonly SeedArtifact[];
  readonly probableOwner: string | null;
  /** `ldap` object, or null. */
  readonly ldap: Readonly<Record<string, unknown>> | null;
  /** ISO-8601 UTC. */
  readonly lastSeen: string;
  /** ISO-8601 UTC, or null. */
  readonly lastDetectionTimestamp: string | null;
}

/** An account record as the fake brain stores it. */
export interface SeedAccount {
  readonly id: number;
  /** E.g. `O365:darcy@corp.example.com`. */
  readonly name: string;
  readonly displayName: string;
  /** The account-group member uid (`GET /accounts?uid=`); not part of the account JSON. */
  readonly uid: string;
  /** E.g. `o365`, `kerberos`. */
  readonly accountType: string;
  readonly state: "active" | "inactive";
  readonly threat: number;
  readonly certainty: number;
  readonly urgency: number;
  readonly tags: readonly string[];
  readonly ldap: Readonly<Record<string, unknown>> | null;
  readonly privilegeLevel: number | null;
  readonly privilegeCategory: string | null;
  readonly lastDetectionTimestamp: string | null;
}

/** A detection record as the fake brain stores it. */
export interface SeedDetection {
  readonly id: number;
  /** `detection_type` display name, e.g. `Hidden DNS Tunnel`. */
  readonly type: string;
  /** v2 category label, e.g. `EXFILTRATION`, `COMMAND & CONTROL`, `INFO`. */
  readonly category: string;
  /** Source host id, or null. */
  readonly hostId: number | null;
  /** Source account id, or null. */
  readonly accountId: number | null;
  readonly srcIp: string | null;
  readonly dstIps: readonly string[];
  readonly targetDomains: readonly string[];
  readonly state: "active" | "inactive" | "fixed";
  readonly isTriaged: boolean;
  readonly triageRuleId: number | null;
  readonly threat: number;
  readonly certainty: number;
  readonly targetsKeyAsset: boolean;
  readonly tags: readonly string[];
  readonly firstTimestamp: string;
  readonly lastTimestamp: string;
}

/** A group record as the fake brain stores it. */
export interface SeedGroup {
  readonly id: number;
  readonly name: string;
  readonly type: "host" | "account" | "ip" | "domain";
  readonly description: string;
  readonly importance: "high" | "medium" | "low" | "never_prioritize";
  /** Host ids for host groups. */
  readonly hostIds: readonly number[];
  /** Account uids for account groups; IPs or domains for those group types. */
  readonly values: readonly string[];
}

/** Everything a fake brain starts with. */
export interface SeedData {
  readonly hosts: readonly SeedHost[];
  readonly accounts: readonly SeedAccount[];
  readonly detections: readonly SeedDetection[];
  readonly groups: readonly SeedGroup[];
}

/** Options of {@linkcode SeedBuilder.host}; everything but `name` has a default. */
export interface HostSeedOptions {
  /** @default {the next host id} */
  id?: number;
  name: string;
  /** `last_source`. @default {`10.0.<id / 256>.<id % 256>`} */
  ip?: string | null;
  /** @default {"active"} */
  state?: "active" | "inactive";
  /** @default {0} */
  threat?: number;
  /** @default {0} */
  certainty?: number;
  /** @default {round((threat + certainty) / 2)} */
  urgency?: number;
  /** @default {false} */
  keyAsset?: boolean;
  /** @default {false} */
  targetsKeyAsset?: boolean;
  /** @default {[]} */
  tags?: readonly string[];
  /** MAC addresses, added as `mac` artifacts. @default {[]} */
  mac?: string | readonly string[];
  /** Further artifacts (`dns`, `rdns`, `vm_uuid`, ...). @default {[]} */
  artifacts?: readonly SeedArtifact[];
  /** @default {null} */
  probableOwner?: string | null;
  /** @default {null} */
  ldap?: Readonly<Record<string, unknown>> | null;
  /** @default {"2026-11-27T08:00:00Z"} */
  lastSeen?: string;
  /** @default {"2026-11-27T07:30:00Z"} */
  lastDetectionTimestamp?: string | null;
}

/** Options of {@linkcode SeedBuilder.account}; everything but `name` has a default. */
export interface AccountSeedOptions {
  /** @default {the next account id} */
  id?: number;
  /** E.g. `O365:darcy@corp.example.com`. */
  name: string;
  /** @default {name} */
  displayName?: string;
  /** Group member uid. @default {name after its first ":" (darcy@corp.example.com)} */
  uid?: string;
  /** @default {the name's prefix, lower-cased (o365), else "generic"} */
  accountType?: string;
  /** @default {"active"} */
  state?: "active" | "inactive";
  /** @default {0} */
  threat?: number;
  /** @default {0} */
  certainty?: number;
  /** @default {round((threat + certainty) / 2)} */
  urgency?: number;
  /** @default {[]} */
  tags?: readonly string[];
  /** @default {null} */
  ldap?: Readonly<Record<string, unknown>> | null;
  /** @default {null} */
  privilegeLevel?: number | null;
  /** @default {null} */
  privilegeCategory?: string | null;
  /** @default {"2026-11-27T07:30:00Z"} */
  lastDetectionTimestamp?: string | null;
}

/** Options of {@linkcode SeedBuilder.detection}; everything but `type` has a default. */
export interface DetectionSeedOptions {
  /** @default {the next detection id} */
  id?: number;
  /** `detection_type`, e.g. `Hidden DNS Tunnel`. */
  type: string;
  /** v2 label. @default {from the type (see DETECTION_CATEGORIES), else "COMMAND & CONTROL"} */
  category?: string;
  /** Source host: its name or id. @default {none} */
  src?: string | number;
  /** Source account: its name, uid or id. @default {none} */
  srcAccount?: string | number;
  /** @default {the source host's ip, else null} */
  srcIp?: string | null;
  /** `summary.dst_ips`. @default {[]} */
  dstIps?: readonly string[];
  /** `summary.target_domains`. @default {[]} */
  targetDomains?: readonly string[];
  /** @default {"active"} */
  state?: "active" | "inactive" | "fixed";
  /** @default {false} */
  isTriaged?: boolean;
  /** @default {null} */
  triageRuleId?: number | null;
  /** @default {50} */
  threat?: number;
  /** @default {50} */
  certainty?: number;
  /** @default {false} */
  targetsKeyAsset?: boolean;
  /** @default {[]} */
  tags?: readonly string[];
  /** @default {"2026-11-27T07:00:00Z"} */
  firstTimestamp?: string;
  /** @default {"2026-11-27T07:30:00Z"} */
  lastTimestamp?: string;
}

/** Options of {@linkcode SeedBuilder.group}. */
export interface GroupSeedOptions {
  /** @default {the next group id} */
  id?: number;
  name: string;
  type: "host" | "account" | "ip" | "domain";
  /** Host names or ids (host groups), account uids or names (account groups), IPs or domains. */
  members?: readonly (string | number)[];
  /** @default {""} */
  description?: string;
  /** @default {"medium"} */
  importance?: "high" | "medium" | "low" | "never_prioritize";
}

/** First ids of a {@linkcode SeedBuilder}: distinct ranges so a host id never passes as an account id. */
export interface SeedIdOptions {
  /** @default {1} */
  firstHostId?: number;
  /** @default {1001} */
  firstAccountId?: number;
  /** @default {5001} */
  firstDetectionId?: number;
  /** @default {1} */
  firstGroupId?: number;
}

/** v2 category labels of well-known detection types (lower-cased with `_` on v3). */
export const DETECTION_CATEGORIES: Readonly<Record<string, string>> = {
  "Hidden DNS Tunnel": "EXFILTRATION",
  "Hidden HTTPS Tunnel": "COMMAND & CONTROL",
  "Hidden HTTP Tunnel": "COMMAND & CONTROL",
  "External Remote Access": "COMMAND & CONTROL",
  "Suspicious Relay": "COMMAND & CONTROL",
  "Suspect Domain Activity": "COMMAND & CONTROL",
  "Smash and Grab": "EXFILTRATION",
  "Data Smuggler": "EXFILTRATION",
  "Suspicious Remote Execution": "LATERAL MOVEMENT",
  "Ransomware File Activity": "LATERAL MOVEMENT",
  "Automated Replication": "LATERAL MOVEMENT",
  "Port Scan": "RECONNAISSANCE",
  "Internal Darknet Scan": "RECONNAISSANCE",
  "Cryptocurrency Mining": "BOTNET ACTIVITY",
  "Outbound DoS": "BOTNET ACTIVITY",
  "Novel External Destination Port": "INFO",
  "New Host": "INFO",
  "O365 Suspicious Mailbox Rule Creation": "EXFILTRATION",
  "Azure AD Suspicious Sign-On": "COMMAND & CONTROL",
  "Kerberoasting: Targeted Weak Cipher Response": "RECONNAISSANCE",
};

const DEFAULT_LAST_SEEN = "2026-11-27T08:00:00Z";
const DEFAULT_DETECTION_TIME = "2026-11-27T07:30:00Z";
const DEFAULT_FIRST_TIME = "2026-11-27T07:00:00Z";

function urgencyOf(threat: number, certainty: number): number {
  return Math.min(100, Math.round((threat + certainty) / 2));
}

function defaultIp(id: number): string {
  return `10.0.${(id >> 8) & 255}.${id & 255}`;
}

/** The uid of an account name: the text after its first `:`, else the whole name. */
export function accountUid(name: string): string {
  const colon = name.indexOf(":");
  return colon < 0 ? name : name.slice(colon + 1);
}

function accountTypeOf(name: string): string {
  const colon = name.indexOf(":");
  return colon < 0 ? "generic" : name.slice(0, colon).toLowerCase();
}

/** Builds a host record from builder options. */
export function makeHost(options: HostSeedOptions & { id: number }): SeedHost {
  const threat = options.threat ?? 0;
  const certainty = options.certainty ?? 0;
  const macs = options.mac === undefined
    ? []
    : typeof options.mac === "string"
    ? [options.mac]
    : options.mac;
  return {
    id: options.id,
    name: options.name,
    ip: options.ip === undefined ? defaultIp(options.id) : options.ip,
    state: options.state ?? "active",
    threat,
    certainty,
    urgency: options.urgency ?? urgencyOf(threat, certainty),
    isKeyAsset: options.keyAsset ?? false,
    targetsKeyAsset: options.targetsKeyAsset ?? false,
    tags: [...(options.tags ?? [])],
    artifacts: [
      ...macs.map((value) => ({ type: "mac", value })),
      ...(options.artifacts ?? []),
    ],
    probableOwner: options.probableOwner ?? null,
    ldap: options.ldap ?? null,
    lastSeen: options.lastSeen ?? DEFAULT_LAST_SEEN,
    lastDetectionTimestamp: options.lastDetectionTimestamp === undefined
      ? DEFAULT_DETECTION_TIME
      : options.lastDetectionTimestamp,
  };
}

/** Builds an account record from builder options. */
export function makeAccount(options: AccountSeedOptions & { id: number }): SeedAccount {
  const threat = options.threat ?? 0;
  const certainty = options.certainty ?? 0;
  return {
    id: options.id,
    name: options.name,
    displayName: options.displayName ?? options.name,
    uid: options.uid ?? accountUid(options.name),
    accountType: options.accountType ?? accountTypeOf(options.name),
    state: options.state ?? "active",
    threat,
    certainty,
    urgency: options.urgency ?? urgencyOf(threat, certainty),
    tags: [...(options.tags ?? [])],
    ldap: options.ldap ?? null,
    privilegeLevel: options.privilegeLevel ?? null,
    privilegeCategory: options.privilegeCategory ?? null,
    lastDetectionTimestamp: options.lastDetectionTimestamp === undefined
      ? DEFAULT_DETECTION_TIME
      : options.lastDetectionTimestamp,
  };
}

/** Builds a detection record; `src`/`srcAccount` must already be resolved to ids. */
export function makeDetection(
  options: Omit<DetectionSeedOptions, "src" | "srcAccount"> & {
    id: number;
    hostId: number | null;
    accountId: number | null;
    srcIp: string | null;
  },
): SeedDetection {
  return {
    id: options.id,
    type: options.type,
    category: options.category ?? DETECTION_CATEGORIES[options.type] ?? "COMMAND & CONTROL",
    hostId: options.hostId,
    accountId: options.accountId,
    srcIp: options.srcIp,
    dstIps: [...(options.dstIps ?? [])],
    targetDomains: [...(options.targetDomains ?? [])],
    state: options.state ?? "active",
    isTriaged: options.isTriaged ?? false,
    triageRuleId: options.triageRuleId ?? null,
    threat: options.threat ?? 50,
    certainty: options.certainty ?? 50,
    targetsKeyAsset: options.targetsKeyAsset ?? false,
    tags: [...(options.tags ?? [])],
    firstTimestamp: options.firstTimestamp ?? DEFAULT_FIRST_TIME,
    lastTimestamp: options.lastTimestamp ?? DEFAULT_DETECTION_TIME,
  };
}

/** A fluent, typed builder of {@linkcode SeedData} with deterministic ids. */
export class SeedBuilder {
  #hosts: SeedHost[] = [];
  #accounts: SeedAccount[] = [];
  #detections: SeedDetection[] = [];
  #groups: SeedGroup[] = [];
  #next: { host: number; account: number; detection: number; group: number };

  constructor(options: SeedIdOptions = {}) {
    this.#next = {
      host: options.firstHostId ?? 1,
      account: options.firstAccountId ?? 1001,
      detection: options.firstDetectionId ?? 5001,
      group: options.firstGroupId ?? 1,
    };
  }

  /** Adds a host. */
  host(options: HostSeedOptions): this {
    const id = options.id ?? this.#next.host;
    this.#next.host = Math.max(this.#next.host, id + 1);
    if (this.#hosts.some((h) => h.id === id)) {
      throw new RangeError(`Cannot add host "${options.name}": id ${id} is already taken`);
    }
    this.#hosts.push(makeHost({ ...options, id }));
    return this;
  }

  /** Adds an account. */
  account(options: AccountSeedOptions): this {
    const id = options.id ?? this.#next.account;
    this.#next.account = Math.max(this.#next.account, id + 1);
    if (this.#accounts.some((a) => a.id === id)) {
      throw new RangeError(`Cannot add account "${options.name}": id ${id} is already taken`);
    }
    this.#accounts.push(makeAccount({ ...options, id }));
    return this;
  }

  /** Adds a detection; `src` and `srcAccount` name hosts and accounts added before. */
  detection(options: DetectionSeedOptions): this {
    const id = options.id ?? this.#next.detection;
    this.#next.detection = Math.max(this.#next.detection, id + 1);
    if (this.#detections.some((d) => d.id === id)) {
      throw new RangeError(`Cannot add detection "${options.type}": id ${id} is already taken`);
    }
    const host = options.src === undefined ? null : this.#findHost(options.src);
    const account = options.srcAccount === undefined ? null : this.#findAccount(options.srcAccount);
    if (options.src !== undefined && host === null) {
      throw new RangeError(
        `Cannot add detection "${options.type}": source host "${options.src}" was not added before`,
      );
    }
    if (options.srcAccount !== undefined && account === null) {
      throw new RangeError(
        `Cannot add detection "${options.type}": source account "${options.srcAccount}" was not added before`,
      );
    }
    this.#detections.push(makeDetection({
      ...options,
      id,
      hostId: host?.id ?? null,
      accountId: account?.id ?? null,
      srcIp: options.srcIp === undefined ? host?.ip ?? null : options.srcIp,
    }));
    return this;
  }

  /** Adds a group; host members are names or ids of hosts added before. */
  group(options: GroupSeedOptions): this {
    const id = options.id ?? this.#next.group;
    this.#next.group = Math.max(this.#next.group, id + 1);
    const members = options.members ?? [];
    const hostIds: number[] = [];
    const values: string[] = [];
    for (const member of members) {
      if (options.type === "host") {
        const host = this.#findHost(member);
        if (host === null) {
          throw new RangeError(
            `Cannot add group "${options.name}": member host "${member}" was not added before`,
          );
        }
        hostIds.push(host.id);
      } else if (options.type === "account") {
        const account = typeof member === "number" ? this.#findAccount(member) : null;
        const byName = typeof member === "string"
          ? this.#accounts.find((a) => a.name === member)
          : undefined;
        values.push(account?.uid ?? byName?.uid ?? String(member));
      } else {
        values.push(String(member));
      }
    }
    this.#groups.push({
      id,
      name: options.name,
      type: options.type,
      description: options.description ?? "",
      importance: options.importance ?? "medium",
      hostIds,
      values,
    });
    return this;
  }

  /** The data built so far. */
  build(): SeedData {
    return {
      hosts: [...this.#hosts],
      accounts: [...this.#accounts],
      detections: [...this.#detections],
      groups: [...this.#groups],
    };
  }

  #findHost(ref: string | number): SeedHost | null {
    return this.#hosts.find((h) => typeof ref === "number" ? h.id === ref : h.name === ref) ??
      null;
  }

  #findAccount(ref: string | number): SeedAccount | null {
    return this.#accounts.find((a) =>
      typeof ref === "number" ? a.id === ref : a.name === ref || a.uid === ref
    ) ?? null;
  }
}

/** Starts a {@linkcode SeedBuilder}. */
export function seed(options: SeedIdOptions = {}): SeedBuilder {
  return new SeedBuilder(options);
}

// ---------------------------------------------------------------------------------------
// The data set behind `var demo`.
// ---------------------------------------------------------------------------------------

/** The element id the original framework's test client recorded on the demo's blocked host. */
export const DEMO_BLOCKED_ELEMENT = "6f1c2d3e-4b5a-4c6d-8e7f-90a1b2c3d4e5";

/**
 * The realistic data set of `var demo`: a hospital's brain. With the default thresholds
 * (50/50), block tags and `Block`/`NoBlock` groups it shows every decision: hosts to block
 * by tag, by score and by group; a tagged host protected by `NoBlock`; a host the original
 * framework blocked (`VAR Host Blocked`, `VAR ID:Test Client:<uuid>`) that no longer
 * matches; a tag that only contains the block tag as a substring; tagged and scored
 * accounts; detections with public destination IPs, one tagged `block`.
 */
export function demoSeed(): SeedData {
  const b = seed();
  const quiet = [
    "nurse-station-1",
    "nurse-station-2",
    "nurse-station-5",
    "pharmacy-pos-1",
    "pharmacy-pos-2",
    "lab-analyzer-4",
    "lab-analyzer-7",
    "mri-console",
    "ct-scanner-ws",
    "pacs-viewer-03",
    "billing-ws-07",
    "billing-ws-08",
    "hr-laptop-11",
    "finance-ws-03",
    "finance-ws-04",
    "it-admin-01",
    "dc01",
    "dc02",
    "fileserver-02",
    "mail-gw",
    "vpn-gw",
    "print-srv-1",
    "badge-reader-ctl",
    "ehr-app-01",
    "ehr-db-01",
  ];
  b.host({
    name: "ward-3-pc",
    ip: "10.20.3.15",
    tags: ["vectra_host_block"],
    threat: 80,
    certainty: 90,
    mac: "00:1a:2b:3c:4d:01",
    artifacts: [{ type: "dns", value: "ward-3-pc.hospital.example" }],
    probableOwner: "j.doe",
  });
  b.host({
    name: "icu-monitor-02",
    ip: "10.20.9.22",
    tags: ["vectra_host_block", "medical-device"],
    threat: 70,
    certainty: 60,
    keyAsset: true,
    mac: "00:1a:2b:3c:4d:02",
  });
  b.host({
    name: "radiology-ws-01",
    ip: "10.20.5.31",
    threat: 75,
    certainty: 82,
    mac: "00:1a:2b:3c:4d:03",
    artifacts: [{ type: "rdns", value: "radiology-ws-01.hospital.example" }],
  });
  b.host({
    name: "reception-kiosk-2",
    ip: "10.20.1.40",
    tags: [
      "front-desk",
      "VAR Host Blocked",
      `VAR ID:Test Client:${DEMO_BLOCKED_ELEMENT}`,
    ],
    threat: 10,
    certainty: 20,
  });
  b.host({
    name: "kiosk-lobby-1",
    ip: "10.20.1.41",
    threat: 20,
    certainty: 15,
  });
  b.host({
    name: "guest-wifi-laptop",
    ip: "10.99.0.17",
    tags: ["vectra_host_block_expired"],
    threat: 30,
    certainty: 30,
  });
  b.host({
    name: "admissions-ws-2",
    ip: "10.20.2.12",
    threat: 60,
    certainty: 40,
  });
  quiet.forEach((name, i) =>
    b.host({
      name,
      ip: `10.20.${10 + Math.floor(i / 8)}.${20 + i}`,
      threat: (i * 7) % 45,
      certainty: (i * 11) % 48,
      mac: `00:1a:2b:3c:5e:${(16 + i).toString(16)}`,
    })
  );

  b.account({
    name: "O365:dr.jones@hospital.example",
    tags: ["vectra_account_block"],
    threat: 40,
    certainty: 50,
    privilegeLevel: 3,
  });
  b.account({
    name: "kerberos:svc-backup@HOSPITAL.EXAMPLE",
    threat: 85,
    certainty: 70,
    privilegeLevel: 8,
    privilegeCategory: "High",
  });
  b.account({
    name: "AzureAD:nurse.kim@hospital.example",
    threat: 90,
    certainty: 90,
  });
  b.account({ name: "O365:billing@hospital.example", threat: 12, certainty: 20 });
  b.account({ name: "kerberos:it-admin@HOSPITAL.EXAMPLE", threat: 5, certainty: 10 });

  b.detection({
    src: "ward-3-pc",
    type: "Hidden DNS Tunnel",
    dstIps: ["185.220.101.42"],
    targetDomains: ["tunnel.snakeoil-cdn.net"],
    threat: 80,
    certainty: 85,
  });
  b.detection({
    src: "radiology-ws-01",
    type: "Hidden HTTPS Tunnel",
    dstIps: ["45.142.212.100", "10.20.0.1"],
    tags: ["block"],
    threat: 70,
    certainty: 75,
  });
  b.detection({
    src: "pharmacy-pos-1",
    type: "External Remote Access",
    dstIps: ["91.219.236.18"],
    tags: ["unblock-review"],
    threat: 60,
    certainty: 40,
  });
  b.detection({
    src: "icu-monitor-02",
    type: "Suspicious Remote Execution",
    dstIps: ["10.20.9.1"],
    threat: 50,
    certainty: 60,
  });
  b.detection({
    src: "admissions-ws-2",
    type: "Novel External Destination Port",
    dstIps: ["194.165.16.11"],
    threat: 10,
    certainty: 30,
  });
  b.detection({
    src: "lab-analyzer-4",
    type: "Cryptocurrency Mining",
    dstIps: ["5.188.206.14"],
    state: "inactive",
  });
  b.detection({
    srcAccount: "kerberos:svc-backup@HOSPITAL.EXAMPLE",
    type: "Kerberoasting: Targeted Weak Cipher Response",
    srcIp: "10.20.40.5",
    threat: 85,
    certainty: 70,
  });
  b.detection({
    srcAccount: "AzureAD:nurse.kim@hospital.example",
    type: "Azure AD Suspicious Sign-On",
    srcIp: null,
    dstIps: ["102.129.143.9"],
    threat: 90,
    certainty: 90,
  });

  b.group({ name: "NoBlock", type: "host", members: ["icu-monitor-02", "ehr-db-01"] });
  b.group({ name: "Block", type: "host", members: ["kiosk-lobby-1"] });
  b.group({ name: "NoBlock", type: "account", members: ["nurse.kim@hospital.example"] });
  b.group({ name: "Block", type: "account", members: [] });
  b.group({ name: "Partner networks", type: "ip", members: ["198.18.0.0/15"] });
  return b.build();
}

// ---------------------------------------------------------------------------------------
// Large deterministic data sets for benchmarks.
// ---------------------------------------------------------------------------------------

/** Options of {@linkcode generateSeed}. */
export interface GenerateSeedOptions {
  /** Hosts (ids 1…hosts). */
  hosts: number;
  /** Accounts (ids from 1,000,001). @default {0} */
  accounts?: number;
  /** Detections (ids from 2,000,001); 10 % from accounts when there are accounts. @default {0} */
  detections?: number;
  /**
   * Members of each of the host groups `NoBlock` and `Block` (and of the account groups
   * of the same names, up to the number of accounts).
   * @default {0}
   */
  groupMembers?: number;
  /** Share of hosts and accounts tagged `vectra_host_block` / `vectra_account_block`. @default {0.01} */
  taggedFraction?: number;
  /** Share of hosts and accounts with threat and certainty ≥ 80 (others stay < 50). @default {0.02} */
  scoredFraction?: number;
  /** Share of hosts and accounts already blocked (marker + `VAR ID:Test Client:<n>`). @default {0.005} */
  blockedFraction?: number;
  /** Share of detections tagged `block`. @default {0.001} */
  taggedDetectionFraction?: number;
}

const GENERATED_TYPES = Object.keys(DETECTION_CATEGORIES);
const NO_TAGS: readonly string[] = Object.freeze([]);
const NO_ARTIFACTS: readonly SeedArtifact[] = Object.freeze([]);

function mulberry32(seedValue: number): () => number {
  let a = seedValue >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * A large, deterministic data set (same options and `rngSeed`, same data) for
 * benchmarks, up to 50,000 hosts and 200,000 detections. Records share their constant
 * strings and empty arrays, so the L size stays well under 200 MB.
 */
export function generateSeed(options: GenerateSeedOptions, rngSeed = 1): SeedData {
  const random = mulberry32(rngSeed);
  const tagged = options.taggedFraction ?? 0.01;
  const scored = options.scoredFraction ?? 0.02;
  const blocked = options.blockedFraction ?? 0.005;
  const taggedDetections = options.taggedDetectionFraction ?? 0.001;
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)]!;
  const tagsFor = (blockTag: string, marker: string, n: number): readonly string[] => {
    const tags: string[] = [];
    if (random() < tagged) tags.push(blockTag);
    if (random() < blocked) tags.push(marker, `VAR ID:Test Client:gen-${n}`);
    return tags.length === 0 ? NO_TAGS : tags;
  };
  const scores = (): { threat: number; certainty: number } =>
    random() < scored
      ? { threat: 80 + Math.floor(random() * 20), certainty: 80 + Math.floor(random() * 20) }
      : { threat: Math.floor(random() * 50), certainty: Math.floor(random() * 50) };

  const hosts: SeedHost[] = [];
  for (let id = 1; id <= options.hosts; id++) {
    const { threat, certainty } = scores();
    hosts.push({
      id,
      name: `host-${id}`,
      ip: `10.${(id >> 16) & 255}.${(id >> 8) & 255}.${id & 255}`,
      state: "active",
      threat,
      certainty,
      urgency: urgencyOf(threat, certainty),
      isKeyAsset: false,
      targetsKeyAsset: false,
      tags: tagsFor("vectra_host_block", "VAR Host Blocked", id),
      artifacts: NO_ARTIFACTS,
      probableOwner: null,
      ldap: null,
      lastSeen: DEFAULT_LAST_SEEN,
      lastDetectionTimestamp: DEFAULT_DETECTION_TIME,
    });
  }
  const accounts: SeedAccount[] = [];
  for (let n = 1; n <= (options.accounts ?? 0); n++) {
    const { threat, certainty } = scores();
    const uid = `user${n}@corp.example.com`;
    accounts.push({
      id: 1_000_000 + n,
      name: `O365:${uid}`,
      displayName: `O365:${uid}`,
      uid,
      accountType: "o365",
      state: "active",
      threat,
      certainty,
      urgency: urgencyOf(threat, certainty),
      tags: tagsFor("vectra_account_block", "VAR Account Blocked", n),
      ldap: null,
      privilegeLevel: null,
      privilegeCategory: null,
      lastDetectionTimestamp: DEFAULT_DETECTION_TIME,
    });
  }
  const publicIps: string[] = [];
  for (let i = 0; i < 4096; i++) {
    publicIps.push(
      `${[45, 91, 185, 194][i & 3]}.${(i >> 2) & 255}.${(i >> 10) & 3}.${(i * 7) & 255}`,
    );
  }
  const blockTag: readonly string[] = Object.freeze(["block"]);
  const detections: SeedDetection[] = [];
  for (let n = 1; n <= (options.detections ?? 0); n++) {
    const fromAccount = accounts.length > 0 && random() < 0.1;
    const host = fromAccount || hosts.length === 0 ? null : pick(hosts);
    const account = fromAccount ? pick(accounts) : null;
    const type = pick(GENERATED_TYPES);
    const roll = random();
    detections.push({
      id: 2_000_000 + n,
      type,
      category: DETECTION_CATEGORIES[type] ?? "COMMAND & CONTROL",
      hostId: host?.id ?? null,
      accountId: account?.id ?? null,
      srcIp: host?.ip ?? null,
      dstIps: [pick(publicIps)],
      targetDomains: NO_TAGS,
      state: roll < 0.8 ? "active" : roll < 0.95 ? "inactive" : "fixed",
      isTriaged: random() < 0.05,
      triageRuleId: null,
      threat: Math.floor(random() * 100),
      certainty: Math.floor(random() * 100),
      targetsKeyAsset: false,
      tags: random() < taggedDetections ? blockTag : NO_TAGS,
      firstTimestamp: DEFAULT_FIRST_TIME,
      lastTimestamp: DEFAULT_DETECTION_TIME,
    });
  }
  const members = options.groupMembers ?? 0;
  const hostMembers = (offset: number) => hosts.slice(offset, offset + members).map((h) => h.id);
  const accountMembers = (offset: number) =>
    accounts.slice(offset, offset + members).map((a) => a.uid);
  const groups: SeedGroup[] = [
    groupOf(1, "NoBlock", "host", hostMembers(0), []),
    groupOf(2, "Block", "host", hostMembers(members), []),
    groupOf(3, "NoBlock", "account", [], accountMembers(0)),
    groupOf(4, "Block", "account", [], accountMembers(members)),
  ];
  return { hosts, accounts, detections, groups };
}

function groupOf(
  id: number,
  name: string,
  type: "host" | "account",
  hostIds: number[],
  values: string[],
): SeedGroup {
  return { id, name, type, description: "", importance: "medium", hostIds, values };
}
