/**
 * The typed configuration var runs with, as produced by `config.ts` from `var.env`.
 * Key names follow the original `config.py` (engine.md §1).
 *
 * @module
 */

import type { NeverBlockEntry } from "./engine/never_block.ts";
import type { Kind } from "./engine/kinds.ts";

/** A threat/certainty threshold: `50 and 60` or `50 or 60`. */
export interface ScoreThreshold {
  readonly threat: number;
  readonly op: "and" | "or";
  readonly certainty: number;
}

/** One brain from `COGNITO_URL`. */
export interface BrainConfig {
  /** The entry exactly as written: the secret-store service name. */
  readonly entry: string;
  /** Normalised base URL: scheme kept when `http://` (labs), else `https://`; no trailing `/`. */
  readonly baseUrl: string;
  /** API version to speak. */
  readonly apiVersion: "2.5" | "3.3" | "3.4";
  /** v2 authentication (v3 is always OAuth). */
  readonly auth: "oauth" | "token";
}

/** Which kinds of blocking run (`BLOCK_TYPES`). */
export type BlockType = "host" | "account" | "detection" | "static";

/** Host policy (engine.md §1.4). Empty strings are normalised to null. */
export interface HostPolicy {
  readonly blockTag: string | null;
  readonly unblockTag: string | null;
  readonly noBlockGroup: string | null;
  readonly blockGroup: string | null;
  readonly threatCertainty: ScoreThreshold | null;
  readonly urgency: number | null;
  readonly detectionTypes: readonly string[];
  readonly detectionTypesMinScore: ScoreThreshold;
}

/** Account policy (engine.md §1.6). */
export interface AccountPolicy {
  readonly blockTag: string | null;
  readonly unblockTag: string | null;
  readonly noBlockGroup: string | null;
  readonly blockGroup: string | null;
  readonly threatCertainty: ScoreThreshold | null;
  readonly urgency: number | null;
  readonly detectionTypes: readonly string[];
  readonly detectionTypesMinScore: ScoreThreshold;
}

/** Detection policy (engine.md §1.5). */
export interface DetectionPolicy {
  /** `EXTERNAL_BLOCK_HOST_TC`: block all active detections of hosts at or above this. */
  readonly hostThreatCertainty: ScoreThreshold | null;
  readonly blockTag: string | null;
  readonly unblockTag: string | null;
  readonly detectionTypes: readonly string[];
}

/** Blocking window (engine.md §1.2, §7.4). */
export interface WindowConfig {
  /** Allowed weekdays, 0 = Sunday … 6 = Saturday. */
  readonly days: ReadonlySet<number>;
  /** Opening hour 0-23, or null for whole day. */
  readonly startHour: number | null;
  /** Closing hour 0-23, or null for whole day. */
  readonly endHour: number | null;
  /** `UNBLOCK_OUTSIDE_WINDOW`: unblocks may run outside the window. */
  readonly unblockOutside: boolean;
}

/** Blast-radius limits (issue 6), per kind. */
export interface LimitsConfig {
  readonly maxBlocksPerCycle: number;
  readonly maxBlockedTotal: number;
  readonly maxUnblocksPerCycle: number;
}

/** Email notifications (engine.md §1.7, §9.3). */
export interface EmailConfig {
  readonly enabled: boolean;
  readonly server: string;
  readonly port: number;
  readonly from: string;
  readonly to: string;
  readonly auth: boolean;
  readonly user: string;
  /** `SMTP_TLS`: `implicit`, `starttls` (mandatory) or `none` (no auth allowed). */
  readonly tls: "implicit" | "starttls" | "none";
  /** `SMTP_CA_FILE`: PEM file of a CA to trust for the SMTP server, besides the system roots. */
  readonly caFile?: string | null;
}

/** Syslog notifications (engine.md §1.7, §9.4). */
export interface SyslogConfig {
  readonly enabled: boolean;
  readonly server: string;
  readonly port: number;
  readonly proto: "TCP" | "UDP";
  readonly format: "CEF" | "Standard";
}

/** The whole configuration. */
export interface Config {
  /** The file it was read from. */
  readonly path: string;
  readonly brains: readonly BrainConfig[];
  /** Client module names (aliases resolved), in order. */
  readonly clients: readonly string[];
  /** Parsed per-client configuration, by module name. */
  readonly clientConfigs: ReadonlyMap<string, unknown>;
  readonly sleepMinutes: number;
  readonly blockTypes: ReadonlySet<BlockType>;
  readonly explicitUnblock: boolean;
  readonly window: WindowConfig;
  readonly host: HostPolicy;
  readonly account: AccountPolicy;
  readonly detection: DetectionPolicy;
  /** Path of the static destination list, resolved against the config file's folder. */
  readonly staticIpsFile: string;
  /** `NEVER_BLOCK_ADDRESSES`: what var never blocks (read from the file by `loadConfig`). */
  readonly neverBlock: readonly NeverBlockEntry[];
  /** The `@file` of `NEVER_BLOCK_ADDRESSES`, resolved, or null for an inline list. */
  readonly neverBlockFile: string | null;
  /**
   * `HOST_`, `ACCOUNT_`, `DETECTION_BLOCK_EXPIRE_HOURS`: hours after which a block held
   * only by automatic criteria is released, per kind; null never.
   */
  readonly blockExpireHours: Readonly<Record<Kind, number | null>>;
  readonly limits: LimitsConfig;
  readonly email: EmailConfig;
  readonly syslog: SyslogConfig;
  /** `VECTRA_CA_FILE`, or null. */
  readonly vectraCaFile: string | null;
  /** `VECTRA_VERIFY_TLS`. */
  readonly vectraVerifyTls: boolean;
  /** `HEALTH_LISTEN` as host and port, or null when disabled. */
  readonly healthListen: { readonly hostname: string; readonly port: number } | null;
  /** `VERIFY_EVERY_CYCLES`: drift check cadence (0 = off). */
  readonly verifyEveryCycles: number;
  /** `ACCOUNT_GROUP_REFRESH_MINUTES`: how long `--loop` remembers account-group uids (0 = never). */
  readonly accountGroupRefreshMinutes: number;
}
