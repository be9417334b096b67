/**
 * A complete {@linkcode Config} for engine tests, with the original's defaults (engine.md
 * §1) and each policy overridable. Private to `tests/engine/`.
 *
 * @module
 */

import type {
  AccountPolicy,
  Config,
  DetectionPolicy,
  HostPolicy,
  LimitsConfig,
  ScoreThreshold,
} from "../../config_types.ts";
import type { PlanClient } from "../../engine/plan.ts";
import type { Operation } from "../../engine/client.ts";

/** `(100, "and", 100)`: matches nothing. */
export const OFF: ScoreThreshold = { threat: 100, op: "and", certainty: 100 };

/** Overrides of {@linkcode testConfig}. */
export interface ConfigOverrides {
  host?: Partial<HostPolicy>;
  account?: Partial<AccountPolicy>;
  detection?: Partial<DetectionPolicy>;
  limits?: Partial<LimitsConfig>;
  explicitUnblock?: boolean;
  blockTypes?: Config["blockTypes"];
  staticIpsFile?: string;
  unblockOutside?: boolean;
  neverBlock?: Config["neverBlock"];
  blockExpireHours?: Partial<Config["blockExpireHours"]>;
}

/** The original's defaults, with the overrides applied. */
export function testConfig(o: ConfigOverrides = {}): Config {
  return {
    path: "var.env",
    brains: [],
    clients: ["test_client"],
    clientConfigs: new Map(),
    sleepMinutes: 5,
    blockTypes: o.blockTypes ?? new Set(["host", "account", "detection"]),
    explicitUnblock: o.explicitUnblock ?? false,
    window: {
      days: new Set([0, 1, 2, 3, 4, 5, 6]),
      startHour: 0,
      endHour: 0,
      unblockOutside: o.unblockOutside ?? false,
    },
    host: {
      blockTag: "vectra_host_block",
      unblockTag: "vectra_host_unblock",
      noBlockGroup: "NoBlock",
      blockGroup: "Block",
      threatCertainty: OFF,
      urgency: 101,
      detectionTypes: [],
      detectionTypesMinScore: OFF,
      ...o.host,
    },
    account: {
      blockTag: "vectra_account_block",
      unblockTag: "vectra_account_unblock",
      noBlockGroup: "NoBlock",
      blockGroup: "Block",
      threatCertainty: OFF,
      urgency: 101,
      detectionTypes: [],
      detectionTypesMinScore: OFF,
      ...o.account,
    },
    detection: {
      hostThreatCertainty: OFF,
      blockTag: "block",
      unblockTag: "unblock",
      detectionTypes: [],
      ...o.detection,
    },
    staticIpsFile: o.staticIpsFile ?? "static_dst_ips_to_block.txt",
    neverBlock: o.neverBlock ?? [],
    neverBlockFile: null,
    blockExpireHours: { host: null, account: null, detection: null, ...o.blockExpireHours },
    limits: {
      maxBlocksPerCycle: 10,
      maxBlockedTotal: 100,
      maxUnblocksPerCycle: 25,
      ...o.limits,
    },
    email: {
      enabled: false,
      server: "",
      port: 25,
      from: "example@email.com",
      to: "example@email.com",
      auth: false,
      user: "user",
      tls: "starttls",
    },
    syslog: { enabled: false, server: "", port: 514, proto: "TCP", format: "CEF" },
    vectraCaFile: null,
    vectraVerifyTls: true,
    healthListen: null,
    verifyEveryCycles: 0,
    accountGroupRefreshMinutes: 60,
  };
}

const ALL: readonly Operation[] = [
  "blockHost",
  "unblockHost",
  "groomHost",
  "blockAccount",
  "unblockAccount",
  "blockDetection",
  "unblockDetection",
];

/** A plan client supporting every entity operation (or the ones given). */
export function planClient(
  name: string,
  tagName: string,
  supports: readonly Operation[] = ALL,
): PlanClient {
  return { name, tagName, routingKey: name, supports: new Set(supports) };
}
