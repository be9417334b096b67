/**
 * The benchmark's workloads: the three brain sizes of issue 7, the anchor workload of the
 * original framework, the policy (`var.env`) they run with, and the seed data the fake
 * brain serves. Private to `bench/`.
 *
 * @module
 */

import { generateSeed, type GenerateSeedOptions, type SeedData } from "../demo/seed.ts";

/** A named workload: the data set, the injected latency and the cycles to run. */
export interface Workload {
  /** `S`, `M`, `L` or `anchor`. */
  readonly name: string;
  /** What {@linkcode generateSeed} builds. */
  readonly seed: GenerateSeedOptions;
  /** Latency the fake adds to every request, in ms. */
  readonly latencyMs: number;
  /**
   * The fake brain applies only the list filters Vectra documents and ignores any other
   * parameter (`id=`), as a brain that does not know them would.
   */
  readonly documentedOnly?: boolean;
}

/** Members of each of the `Block` and `NoBlock` groups (host and account). */
export const GROUP_MEMBERS = 100;

/**
 * The spread of tags and scores (generateSeed's defaults, written out): 1 % of hosts and
 * accounts carry the block tag, 2 % score 80–99 on both axes (the rest < 50), 0.5 % are
 * already blocked by `Test Client`, 0.1 % of detections carry the `block` tag.
 */
const SPREAD = {
  taggedFraction: 0.01,
  scoredFraction: 0.02,
  blockedFraction: 0.005,
  taggedDetectionFraction: 0.001,
} as const;

/** The workloads by name. */
export const WORKLOADS: Readonly<Record<string, Workload>> = {
  S: {
    name: "S",
    seed: { hosts: 500, accounts: 200, detections: 2_000, groupMembers: GROUP_MEMBERS, ...SPREAD },
    latencyMs: 5,
  },
  M: {
    name: "M",
    seed: {
      hosts: 5_000,
      accounts: 2_000,
      detections: 20_000,
      groupMembers: GROUP_MEMBERS,
      ...SPREAD,
    },
    latencyMs: 5,
  },
  L: {
    name: "L",
    seed: {
      hosts: 50_000,
      accounts: 20_000,
      detections: 200_000,
      groupMembers: GROUP_MEMBERS,
      ...SPREAD,
    },
    latencyMs: 5,
  },
  // Issue 34: a large site tried as a new user would — 50,000 hosts, 12,500 accounts,
  // 150,000 detections, about 12,000 entity actions in the first run (17 % of hosts and
  // accounts carry the block tag), on a brain that ignores every undocumented parameter.
  XL: {
    name: "XL",
    seed: {
      hosts: 50_000,
      accounts: 12_500,
      detections: 150_000,
      groupMembers: GROUP_MEMBERS,
      ...SPREAD,
      taggedFraction: 0.17,
    },
    latencyMs: 0,
    documentedOnly: true,
  },
  // The original's fake brain; 17 % of hosts and accounts carry the block tag so that the
  // first cycle writes about as much as the original's did (≈ 2,600 tag and note writes,
  // i.e. ≈ 1,300 entity actions).
  anchor: {
    name: "anchor",
    seed: {
      hosts: 5_000,
      accounts: 1_250,
      detections: 15_000,
      groupMembers: GROUP_MEMBERS,
      ...SPREAD,
      taggedFraction: 0.17,
    },
    latencyMs: 0,
  },
};

/** The detection type whose source hosts and accounts are blocked (above a minimum score). */
export const TYPED_DETECTION = "External Remote Access";

/** The policy every workload runs with, as `var.env` lines (without the brain). */
export const POLICY: Readonly<Record<string, string>> = {
  AUTH: "TOKEN",
  THIRD_PARTY_CLIENTS: "test_client",
  BLOCK_TYPES: "host,account,detection",
  HEALTH_LISTEN: "",
  BLOCK_HOST_TAG: "vectra_host_block",
  NO_BLOCK_HOST_GROUP_NAME: "NoBlock",
  BLOCK_HOST_GROUP_NAME: "Block",
  BLOCK_HOST_THREAT_CERTAINTY: "90 and 90",
  // Empty: v3 brains use the threat and certainty threshold too (v2 ignores urgency).
  BLOCK_HOST_URGENCY: "",
  BLOCK_HOST_DETECTION_TYPES: TYPED_DETECTION,
  BLOCK_HOST_DETECTION_TYPES_MIN_TC_SCORE: "85 and 85",
  EXTERNAL_BLOCK_HOST_TC: "95 and 95",
  EXTERNAL_BLOCK_DETECTION_TAG: "block",
  EXTERNAL_BLOCK_DETECTION_TYPES: "",
  BLOCK_ACCOUNT_TAG: "vectra_account_block",
  NO_BLOCK_ACCOUNT_GROUP_NAME: "NoBlock",
  BLOCK_ACCOUNT_GROUP_NAME: "Block",
  BLOCK_ACCOUNT_THREAT_CERTAINTY: "90 and 90",
  BLOCK_ACCOUNT_URGENCY: "",
  BLOCK_ACCOUNT_DETECTION_TYPES: "",
  // A benchmark's first cycle blocks hundreds of entities on purpose.
  MAX_BLOCKS_PER_CYCLE: "1000000",
  MAX_BLOCKED_TOTAL: "1000000",
  MAX_UNBLOCKS_PER_CYCLE: "1000000",
  VERIFY_EVERY_CYCLES: "0",
};

/** The API versions the benchmark runs against. */
export type BenchApiVersion = "2.5" | "3.4";

/**
 * The `var.env` text for a brain at `url` (the entry is also the secret's service name)
 * speaking `version` (v2.5 with a personal token, v3.4 with OAuth2).
 */
export function policyText(url: string, version: BenchApiVersion = "2.5"): string {
  const lines = [`COGNITO_URL=${url}`, `VECTRA_API_VERSION=${version}`];
  for (const [key, value] of Object.entries(POLICY)) lines.push(`${key}=${value}`);
  return lines.join("\n") + "\n";
}

/** The deterministic seed data of a workload. */
export function workloadData(workload: Workload): SeedData {
  return generateSeed(workload.seed, 1);
}
