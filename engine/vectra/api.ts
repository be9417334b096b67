/**
 * The one interface the engine uses to talk to a Vectra brain, whatever the API version.
 * Implementations: Detect API v2.5 (token or OAuth) and Platform API v3.x (OAuth).
 *
 * Every list operation reads all pages, re-checks tag filters exactly on var's side, and
 * either returns the complete result or throws a {@linkcode VectraError}: never a partial
 * list.
 *
 * @module
 */

import type { Account, Detection, Group, Host, Kind } from "../model.ts";

import type { ApiVersion } from "../kinds.ts";

export type { ApiVersion };

/** Filters for host and account lists. Given filters are combined with AND. */
export interface ScoreQuery {
  /** Entities carrying this exact tag. */
  tag?: string;
  /** Entities carrying any of these exact tags (one `tags=` any-of query). */
  anyTags?: readonly string[];
  /** `threat_gte`. */
  threatGte?: number;
  /** `certainty_gte`. */
  certaintyGte?: number;
}

/** Filters for detection lists. Given filters are combined with AND. */
export interface DetectionQuery {
  /** Detections carrying this exact tag. */
  tag?: string;
  /** Detections carrying any of these exact tags (one `tags=` any-of query). */
  anyTags?: readonly string[];
  /** `detection_type` display name, e.g. `Hidden DNS Tunnel`. */
  detectionType?: string;
  /** `state`, e.g. `active`. */
  state?: string;
  /** `is_triaged`. */
  isTriaged?: boolean;
  /** Only detections whose source host is one of these. */
  hostIds?: readonly number[];
}

/** A host or account id with its v3 urgency score. */
export interface UrgentEntity {
  readonly id: number;
  readonly urgencyScore: number;
}

/** A Vectra brain, as the engine sees it. */
export interface VectraApi {
  /** The brain's host (and port), for logs and errors. */
  readonly brain: string;
  /** The API version spoken. */
  readonly version: ApiVersion;

  /** Hosts matching the query (all pages). */
  listHosts(query: ScoreQuery): Promise<Host[]>;
  /** Hosts by id; ids that do not exist are left out. */
  hostsByIds(ids: readonly number[]): Promise<Host[]>;
  /** Accounts matching the query (all pages). */
  listAccounts(query: ScoreQuery): Promise<Account[]>;
  /** Accounts by id; ids that do not exist are left out. */
  accountsByIds(ids: readonly number[]): Promise<Account[]>;
  /**
   * True when the client remembers across cycles which accounts group member uids name;
   * the engine then looks the no-block group up afresh before blocking an account.
   */
  readonly remembersUids?: boolean;
  /**
   * Accounts for account-group member uids; `fresh` looks every uid up now, whatever the
   * client remembers of earlier cycles.
   */
  accountsByUids(uids: readonly string[], options?: { fresh?: boolean }): Promise<Account[]>;
  /** Detections matching the query (all pages). */
  listDetections(query: DetectionQuery): Promise<Detection[]>;
  /**
   * Groups whose name equals `name` exactly and whose type is `type`. An empty result
   * means the group does not exist.
   */
  groupsByName(name: string, type: "host" | "account"): Promise<Group[]>;
  /** v3 only: entities of a type with `urgency_score >= min`, read in descending order. */
  urgentEntities(type: "host" | "account", min: number): Promise<UrgentEntity[]>;

  /** The entity's current tags (read immediately before a write). */
  getTags(kind: Kind, id: number): Promise<string[]>;
  /** Replaces the entity's tags; a `status: failure` body is an error. Returns the new list. */
  setTags(kind: Kind, id: number, tags: readonly string[]): Promise<string[]>;
  /**
   * v2.5 only (else undefined): adds one tag to many entities in one request
   * (`POST /tagging/<kind>`); a server-side add, so no other tag is touched.
   */
  readonly addTagToMany?:
    | ((kind: Kind, ids: readonly number[], tag: string) => Promise<void>)
    | undefined;
  /**
   * v2.5 only (else undefined): removes one tag from many entities in one request
   * (`DELETE /tagging/<kind>`); a server-side removal, so no other tag is touched.
   */
  readonly removeTagFromMany?:
    | ((kind: Kind, ids: readonly number[], tag: string) => Promise<void>)
    | undefined;
  /** Adds a note to the entity (never retried blindly). */
  addNote(kind: Kind, id: number, note: string): Promise<void>;

  /**
   * Starts a cycle's reads: what the client kept of the last cycle's lists (a whole list
   * read for id lookups) is dropped.
   */
  startCycle?(): void;

  /**
   * The line saying how this brain reads a comma in each list filter (`tags=a,b`,
   * `id=1,2`, `host_id=1,2`) and which query form var uses: the first time it is asked
   * for, and again only after a reading was learned; else null.
   */
  takeListReadingReport?(): string | null;

  /** Releases connections. */
  close(): Promise<void>;
}

/** A failed Vectra call: names the brain, method, path (no query) and status. */
export class VectraError extends Error {
  /** The brain's host. */
  readonly brain: string;
  /** HTTP status, or null for network errors and malformed bodies. */
  readonly status: number | null;

  constructor(
    brain: string,
    message: string,
    options: ErrorOptions & { status?: number | null } = {},
  ) {
    super(message, options);
    this.name = "VectraError";
    this.brain = brain;
    this.status = options.status ?? null;
  }
}
