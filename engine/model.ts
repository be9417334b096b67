/**
 * The entities var decides about: hosts, accounts and detections as read from a Vectra
 * brain, and the static destination IP list. Every client receives these objects.
 *
 * The parse functions (`parseHost`, `parseAccount`, `parseDetection`) turn API JSON of
 * either API version into these shapes, or throw a {@linkcode MalformedEntityError}.
 *
 * @module
 */

/** One of the three kinds of Vectra entity var blocks. */
export type Kind = "host" | "account" | "detection";

/** The kinds, in the order a cycle handles them. */
export const KINDS: readonly Kind[] = ["host", "account", "detection"];

/** Client tag name (e.g. `PAN Client`) to the element ids recorded for it, in tag order. */
export type BlockedElements = ReadonlyMap<string, readonly string[]>;

/** What every entity carries, whatever its kind. */
export interface EntityBase {
  /** The entity id on its brain. */
  readonly id: number;
  /** The display name: host name, account name, or detection type for detections. */
  readonly name: string;
  /** Every tag as read from Vectra, in order. */
  readonly tags: readonly string[];
  /** The tags var does not own (analyst tags, block tags, routing tags), in order. */
  readonly keptTags: readonly string[];
  /** The `VAR ID:<client tag name>:<element id>` tags, parsed. */
  readonly blockedElements: BlockedElements;
  /** True iff the kind's marker tag (`VAR Host Blocked`, ...) is present. */
  readonly isBlocked: boolean;
  /** The most recent note, or null. */
  readonly note: string | null;
}

/** A Vectra host. */
export interface Host extends EntityBase {
  readonly kind: "host";
  /** The current IP (`last_source`); what firewalls and NACs block. Null when unknown. */
  readonly ip: string | null;
  readonly probableOwner: string | null;
  readonly threat: number;
  readonly certainty: number;
  /** v3 urgency score when read from `/entities`, else null. */
  readonly urgencyScore: number | null;
  readonly isKeyAsset: boolean;
  readonly targetsKeyAsset: boolean;
  /** Distinct artifact types. */
  readonly artifactTypes: readonly string[];
  /** Distinct MAC addresses from the `mac` artifacts, sorted. */
  readonly macAddresses: readonly string[];
  readonly vmwareVmName: string | null;
  readonly vmwareVmUuid: string | null;
  readonly awsVmUuid: string | null;
  /** ISO-8601 UTC (`...Z`). */
  readonly lastSeen: string;
  /** `lastSeen` as epoch seconds, parsed as UTC. */
  readonly lastSeenTsUtc: number;
  /** Resolved full name: windows_defender_name, dns, rdns, ldap dns_hostname, then name. */
  readonly fullName: string;
}

/** LDAP context of an account, read from the account's `ldap` object. */
export interface AccountLdap {
  readonly description?: string;
  readonly location?: string;
  readonly samAccountName?: string;
  readonly title?: string;
  readonly upn?: string;
  readonly commonName?: string;
  readonly email?: string;
}

/** A Vectra account. */
export interface Account extends EntityBase {
  readonly kind: "account";
  /** `display_name` when non-empty, else `name`. */
  readonly displayName: string;
  /** `account_type`, always as a list. */
  readonly accountType: readonly string[];
  readonly threat: number;
  readonly certainty: number;
  readonly severity: string | null;
  /** v3 urgency score when read from `/entities`, else null. */
  readonly urgencyScore: number | null;
  /** Empty when the account has no LDAP context. */
  readonly ldap: AccountLdap;
  readonly privilegeLevel: number | null;
  readonly privilegeCategory: string | null;
  readonly probableHome: string | null;
  /** Text between the first and second `:` of the last `Context:` tag, else "". */
  readonly context: string;
  /** `display_name` without its `O365:`-style prefix. */
  readonly normalizedName: string;
  /** `normalizedName` before the first `@`. */
  readonly fakeSam: string;
}

/** A Vectra detection. */
export interface Detection extends EntityBase {
  readonly kind: "detection";
  /** Source host id, or null for account detections. */
  readonly hostId: number | null;
  /** Source account id, or null. */
  readonly accountId: number | null;
  /** `category` (v2) or `detection_category` (v3.4); as returned. */
  readonly category: string;
  readonly detectionType: string;
  /** `src_ip`, or null. */
  readonly src: string | null;
  /** Distinct public destination IPs from `summary.dst_ips`. */
  readonly dstIps: readonly string[];
  /** Distinct `summary.target_domains`. */
  readonly dstDomains: readonly string[];
  /** `active`, `inactive` or `fixed`. */
  readonly state: string;
  readonly threat: number;
  readonly certainty: number;
  readonly targetsKeyAsset: boolean;
  /** `triage_rule_id`, or null. */
  readonly triage: number | string | null;
  readonly isTriaged: boolean;
}

/** Any entity. */
export type Entity = Host | Account | Detection;

/** Maps a kind to its entity type. */
export interface EntityOfKind {
  host: Host;
  account: Account;
  detection: Detection;
}

/** A batch of static destination entries (addresses or CIDR networks, normalised). */
export interface StaticIps {
  readonly dstIps: readonly string[];
}

/** A host or account group as returned by `GET /groups`, members resolved to ids/uids. */
export interface Group {
  readonly id: number;
  readonly name: string;
  readonly type: "host" | "account";
  /** Host member ids (host groups). */
  readonly hostIds: readonly number[];
  /** Account member uids (account groups). */
  readonly accountUids: readonly string[];
}

/** An API object that cannot be turned into an entity; names the entity id and field. */
export class MalformedEntityError extends Error {
  /** The entity's kind. */
  readonly kind: Kind;
  /** The entity id, when it could be read. */
  readonly entityId: number | null;
  /** The field at fault. */
  readonly field: string;

  constructor(
    kind: Kind,
    entityId: number | null,
    field: string,
    detail: string,
    options?: ErrorOptions,
  ) {
    super(
      `Cannot read ${kind} ${entityId ?? "(no id)"}: field "${field}" ${detail}`,
      options,
    );
    this.name = "MalformedEntityError";
    this.kind = kind;
    this.entityId = entityId;
    this.field = field;
  }
}
