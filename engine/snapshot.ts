/**
 * The snapshot the read step produces and the decide step consumes: per kind, the
 * entities each configured criterion returned, or why the kind could not be read.
 *
 * @module
 */

import type { Account, Detection, Host, Kind } from "./model.ts";
import type { ApiVersion } from "./kinds.ts";

/** An entity the v3 urgency query returned, with its score. */
export interface UrgentMatch<E> {
  readonly entity: E;
  readonly urgencyScore: number;
}

/** An entity that is the source of an active detection of a configured type. */
export interface TypedMatch<E> {
  readonly entity: E;
  readonly detectionType: string;
  readonly detectionId: number;
}

/** What the queries of a host or account kind returned. */
export interface EntitySnapshot<E extends Host | Account> {
  readonly status: "ok";
  readonly kind: E["kind"];
  /** Entities carrying the block tag exactly (H2/A2). */
  readonly tagged: readonly E[];
  /** Entities at or above the threat/certainty tuple (H3/A3). */
  readonly scored: readonly E[];
  /** v3: entities at or above the urgency threshold (H3u/A3u). */
  readonly urgent: readonly UrgentMatch<E>[];
  /** Members of the block group (H4/A4). */
  readonly grouped: readonly E[];
  /** Sources of active detections of the configured types, before the minimum scores (H5/A5). */
  readonly typed: readonly TypedMatch<E>[];
  /** Members of the no-block group (H1/A1). */
  readonly noBlock: readonly E[];
  /** Entities carrying the marker tag (H6/A6). */
  readonly blocked: readonly E[];
  /** Entities carrying a `VAR Pending:` intent tag. */
  readonly pending: readonly E[];
  /** Entities carrying `VAR Block Expired` (read only when the kind's blocks expire). */
  readonly expired?: readonly E[];
}

/** What the detection queries returned. */
export interface DetectionSnapshot {
  readonly status: "ok";
  readonly kind: "detection";
  /** Detections carrying the block tag exactly (D2). */
  readonly tagged: readonly Detection[];
  /** Active detections of the configured types (D3). */
  readonly typed: readonly Detection[];
  /** Hosts at or above `EXTERNAL_BLOCK_HOST_TC` (D4). */
  readonly scoredHosts: readonly Host[];
  /** The active, untriaged detections of `scoredHosts` (D4). */
  readonly scoredHostDetections: readonly Detection[];
  /** Ids of the members of the no-block host group (D1, decisions #9). */
  readonly noBlockHostIds: readonly number[];
  /** Detections carrying the marker tag (D5). */
  readonly blocked: readonly Detection[];
  /** Detections carrying a `VAR Pending:` intent tag. */
  readonly pending: readonly Detection[];
  /** Detections carrying `VAR Block Expired` (read only when detection blocks expire). */
  readonly expired?: readonly Detection[];
}

/** A kind that could not be read this cycle: nothing of it is decided. */
export interface FailedKind {
  readonly status: "failed";
  readonly kind: Kind;
  /** What failed, naming the brain. */
  readonly error: string;
}

/** A kind not in `BLOCK_TYPES`: not read, not decided. */
export interface OffKind {
  readonly status: "off";
  readonly kind: Kind;
}

/** One brain's read step. */
export interface Snapshot {
  /** The brain's host. */
  readonly brain: string;
  readonly version: ApiVersion;
  readonly host: EntitySnapshot<Host> | FailedKind | OffKind;
  readonly account: EntitySnapshot<Account> | FailedKind | OffKind;
  readonly detection: DetectionSnapshot | FailedKind | OffKind;
  /** Warnings from the read step (e.g. an empty group). */
  readonly warnings: readonly string[];
}
