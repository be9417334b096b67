/**
 * What both Vectra API versions share: authentication headers with re-authentication on
 * 401, paging that follows `next` only on the brain's origin and never returns a partial
 * list (nor one that changed between its pages: such a list is read again from page 1, a
 * bounded number of times, then fails), batched id lookups, exact re-checks of every
 * server-side filter, tagging and notes. `v2.ts` and `v3.ts` only add what differs.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import pLimit, { type LimitFunction } from "p-limit";
import { z } from "zod";
import { HttpEndpoint, HttpError } from "../http.ts";
import type { HttpOptions, HttpResponse, RequestOptions } from "../http_types.ts";
import {
  type Account,
  type Detection,
  type Group,
  type Host,
  type Kind,
  MalformedEntityError,
  parseAccount,
  parseDetection,
  parseGroup,
  parseHost,
} from "../model.ts";
import {
  type ApiVersion,
  type DetectionQuery,
  type ScoreQuery,
  type UrgentEntity,
  type VectraApi,
  VectraError,
} from "./api.ts";
import {
  absentTag,
  combinedIsComplete,
  type ListFilter,
  type ListReading,
  ListReadings,
} from "./comma.ts";
import { errorText } from "../error_text.ts";

const logger = getLogger(["var", "vectra"]);

/** The largest page size the API accepts. */
export const MAX_PAGE_SIZE = 5000;

/** Longest encoded id list sent in one query parameter, in characters. */
const MAX_ID_LIST_CHARS = 5000;

/** Pages read at most for one list, whatever the server says (a runaway `next` chain). */
const MAX_PAGES = 10_000;

/**
 * Most objects read one request each where a brain does not read `id=` lists; more are
 * read from the whole list, kept to the ids asked for.
 */
const MOST_SINGLE_READS = 20;

/** Re-reads of a list that changed while it was read, before the read fails. */
const DEFAULT_LIST_REREADS = 3;

/** Supplies the `Authorization` header and renews it after a 401. */
export interface Authenticator {
  /** Makes sure credentials are loaded and a token is valid. */
  prepare(): Promise<void>;
  /** The current `Authorization` value (after {@linkcode prepare}). */
  authorization(): string;
  /**
   * Called after a 401 answered with `authorization`: obtains new credentials and returns
   * true, or returns false when they cannot change (a personal API token).
   */
  reauthenticate(authorization: string): Promise<boolean>;
}

/** The HTTP endpoint of a brain at `baseUrl`, with the TLS settings of `options`. */
export function brainEndpoint(baseUrl: string, options: VectraApiOptions): HttpEndpoint {
  return new HttpEndpoint({
    ...options.http,
    system: `brain ${new URL(baseUrl).host}`,
    baseUrl,
    verifyTls: options.verifyTls ?? true,
    ...(options.caFile ? { caFile: options.caFile } : {}),
    ...(options.caPem ? { caPem: options.caPem } : {}),
  });
}

/** Options every implementation takes. */
export interface VectraApiOptions {
  /** Transport defaults: timeouts, retries, request counter. */
  http?: HttpOptions;
  /** `VECTRA_CA_FILE`: a PEM CA to trust in addition to the system roots. */
  caFile?: string | null;
  /** PEM text of a CA to trust (tests; takes precedence over `caFile`). */
  caPem?: string;
  /**
   * `VECTRA_VERIFY_TLS`: verify the brain's certificate.
   * @default {true}
   */
  verifyTls?: boolean;
  /**
   * Ask only for the fields the model reads (`fields=`), which shrinks pages.
   * @default {true}
   */
  useFields?: boolean;
  /**
   * Batch lookups (id chunks, uid lookups) in flight at once.
   * @default {4}
   */
  concurrency?: number;
  /**
   * How many times a list that changed while it was read (its `count` moved between pages,
   * an id came again on a later page, or the results did not add up to `count`) is read
   * again from page 1 before the call fails with a {@linkcode VectraError}.
   * @default {3}
   */
  listRereads?: number;
  /**
   * `ACCOUNT_GROUP_REFRESH_MINUTES` in a `--loop` service: remember which account ids
   * each account-group member uid resolved to, for at most this many minutes (see
   * `accountsByUids`); 0 looks every uid up every cycle.
   * @default {0}
   */
  uidCacheMinutes?: number;
  /**
   * The clock, in epoch milliseconds (token expiry, hosts without `last_seen`).
   * @default {Date.now}
   */
  now?: () => number;
}

/** What a version adds to the shared implementation. */
export interface Flavor {
  /** The API version. */
  readonly version: ApiVersion;
  /** The API root path, e.g. `/api/v2.5`. */
  readonly apiRoot: string;
  /** `fields=` per list, or undefined to ask for every field. */
  readonly fields: {
    readonly hosts: readonly string[];
    readonly accounts: readonly string[];
    readonly detections: readonly string[];
  };
  /** Extra parameters of `GET /groups` (v3.4: `include_members=true`). */
  readonly groupQuery: Readonly<Record<string, string>>;
}

const PageEnvelope = z.looseObject({
  count: z.unknown(),
  next: z.string().nullish(),
  results: z.array(z.unknown()),
});

const TagResponse = z.looseObject({
  status: z.string().nullish(),
  tags: z.array(z.string()).nullish(),
  message: z.string().nullish(),
  invalid_tags: z.array(z.unknown()).nullish(),
});

/** Query parameter values. */
type Query = Record<string, string | number | boolean | undefined>;

/** The path segment of a kind in object URLs. */
const PLURAL: Readonly<Record<Kind, string>> = {
  host: "hosts",
  account: "accounts",
  detection: "detections",
};

/** Splits ids into comma-separated lists whose URL-encoded length stays bounded. */
export function chunkIds(ids: readonly number[], maxChars = MAX_ID_LIST_CHARS): string[] {
  const chunks: string[] = [];
  let current: string[] = [];
  let length = 0;
  for (const id of ids) {
    const cost = String(id).length + 3; // the id and an encoded comma (%2C)
    if (current.length > 0 && length + cost > maxChars) {
      chunks.push(current.join(","));
      current = [];
      length = 0;
    }
    current.push(String(id));
    length += cost;
  }
  if (current.length > 0) chunks.push(current.join(","));
  return chunks;
}

/** The failure detail of a Vectra error body (`detail`, `details`, `errors`, `_meta`). */
function errorDetail(body: string): string {
  try {
    const json = JSON.parse(body) as Record<string, unknown>;
    if (typeof json["detail"] === "string") return json["detail"];
    if (typeof json["details"] === "string") return json["details"];
    const errors = json["errors"];
    if (Array.isArray(errors)) {
      const titles = errors.map((e) =>
        typeof e === "object" && e !== null ? (e as Record<string, unknown>)["title"] : e
      ).filter((t) => typeof t === "string");
      if (titles.length > 0) return titles.join("; ");
    }
    const meta = json["_meta"];
    if (typeof meta === "object" && meta !== null) {
      const message = (meta as Record<string, unknown>)["message"];
      if (typeof message === "string") return message;
    }
  } catch {
    // not JSON: fall through to the raw excerpt
  }
  const trimmed = body.trim().replace(/\s+/g, " ");
  return trimmed.length > 200 ? `${trimmed.slice(0, 200)}…` : trimmed;
}

/** The shared implementation of {@linkcode VectraApi}; `v2.ts` and `v3.ts` configure it. */
export class SharedVectraApi implements VectraApi {
  /** The brain's host (and port). */
  readonly brain: string;
  /** The API version spoken. */
  readonly version: ApiVersion;
  #flavor: Flavor;
  #auth: Authenticator;
  #api: HttpEndpoint;
  #origin: string;
  #basePath: string;
  #options: VectraApiOptions;
  #readings = new ListReadings();
  /** Whole lists read this cycle for id lookups, by resource. */
  #wholeLists = new Map<string, Promise<WholeRead<{ id: number }>>>();
  /** Id lookups waiting for the reading of their filter, by filter. */
  #probes = new Map<ListFilter, Promise<void>>();
  /** Account group member uid → the account ids it resolved to (see `accountsByUids`). */
  #uidIds = new Map<string, number[]>();
  #uidsSince = 0;

  constructor(
    baseUrl: string,
    flavor: Flavor,
    auth: Authenticator,
    endpoint: HttpEndpoint,
    options: VectraApiOptions = {},
  ) {
    const url = new URL(baseUrl);
    this.brain = url.host;
    this.version = flavor.version;
    this.#flavor = flavor;
    this.#auth = auth;
    this.#api = endpoint;
    this.#origin = url.origin;
    this.#basePath = url.pathname.replace(/\/$/, "");
    this.#options = options;
  }

  /** Hosts matching the query (all pages), re-checked exactly. */
  async listHosts(query: ScoreQuery): Promise<Host[]> {
    const parse = (json: unknown) => parseHost(json, this.version, this.#parseOptions());
    const base = this.#scoreQuery(query, "hosts");
    const hosts = query.anyTags === undefined
      ? await this.#list("hosts", base, parse)
      : await this.#listAnyTags("hosts", query.anyTags, base, parse);
    return hosts.filter((host) => matchesScore(host, query));
  }

  /** Hosts by id, in batches; ids that do not exist are left out. */
  async hostsByIds(ids: readonly number[]): Promise<Host[]> {
    return await this.#byIds(
      "hosts",
      ids,
      "hosts",
      (json) => parseHost(json, this.version, this.#parseOptions()),
    );
  }

  /** Accounts matching the query (all pages), re-checked exactly. */
  async listAccounts(query: ScoreQuery): Promise<Account[]> {
    const parse = (json: unknown) => parseAccount(json, this.version);
    const base = this.#scoreQuery(query, "accounts");
    const accounts = query.anyTags === undefined
      ? await this.#list("accounts", base, parse)
      : await this.#listAnyTags("accounts", query.anyTags, base, parse);
    return accounts.filter((account) => matchesScore(account, query));
  }

  /** Accounts by id, in batches; ids that do not exist are left out. */
  async accountsByIds(ids: readonly number[]): Promise<Account[]> {
    return await this.#byIds(
      "accounts",
      ids,
      "accounts",
      (json) => parseAccount(json, this.version),
    );
  }

  /** True when account-group uids are remembered across cycles (`uidCacheMinutes` > 0). */
  get remembersUids(): boolean {
    return (this.#options.uidCacheMinutes ?? 0) > 0;
  }

  /**
   * Accounts for group member uids. Without `uidCacheMinutes` (one cycle per process):
   * one `GET /accounts?uid=` per distinct uid. With it (`--loop`), the account ids a uid
   * resolved to are remembered, and the accounts of remembered uids are read by id in one
   * batch, under three rules:
   * - a uid not seen before is looked up in the cycle it appears, and so is one whose
   *   remembered account no longer exists;
   * - `fresh` looks every uid up again (the engine asks for it before blocking an account,
   *   for the no-block group);
   * - everything remembered is forgotten every `uidCacheMinutes`, so a uid that came to
   *   name another account is followed within that time.
   */
  async accountsByUids(
    uids: readonly string[],
    options: { fresh?: boolean } = {},
  ): Promise<Account[]> {
    const distinct = [...new Set(uids)];
    const refreshMs = (this.#options.uidCacheMinutes ?? 0) * 60_000;
    if (refreshMs <= 0) return await this.#lookUpUids(distinct);
    const now = (this.#options.now ?? Date.now)();
    if (now - this.#uidsSince >= refreshMs) {
      this.#uidIds.clear();
      this.#uidsSince = now;
    }
    const known = options.fresh ? [] : distinct.filter((uid) => this.#uidIds.has(uid));
    const unknown = distinct.filter((uid) => !known.includes(uid));
    const ids = [...new Set(known.flatMap((uid) => this.#uidIds.get(uid) ?? []))];
    const [byId, looked] = await Promise.all([
      ids.length === 0 ? Promise.resolve([]) : this.accountsByIds(ids),
      this.#lookUpUids(unknown),
    ]);
    const found = new Set(byId.map((account) => account.id));
    const gone = known.filter((uid) => (this.#uidIds.get(uid) ?? []).some((id) => !found.has(id)));
    const again = gone.length === 0 ? [] : await this.#lookUpUids(gone);
    return dedupeById([...byId, ...looked, ...again]);
  }

  /** One `GET /accounts?uid=` per uid, bounded; remembers the ids each resolved to. */
  async #lookUpUids(uids: readonly string[]): Promise<Account[]> {
    const limit = pLimit(this.#options.concurrency ?? 4);
    const lists = await Promise.all(uids.map((uid) =>
      limit(async () => {
        const accounts = await this.#list(
          "accounts",
          { uid, ...this.#fieldsQuery("accounts") },
          (json) => parseAccount(json, this.version),
          "look up accounts by uid",
        );
        this.#uidIds.set(uid, accounts.map((account) => account.id));
        return accounts;
      })
    ));
    return dedupeById(lists.flat());
  }

  /** Detections matching the query (all pages), every filter re-checked exactly. */
  async listDetections(query: DetectionQuery): Promise<Detection[]> {
    const base: Query = {
      tags: query.tag,
      detection_type: query.detectionType,
      state: query.state,
      is_triaged: query.isTriaged,
      ...this.#fieldsQuery("detections"),
    };
    const parse = (json: unknown) => parseDetection(json, this.version);
    let detections: Detection[];
    if (query.anyTags !== undefined) {
      // The source hosts, if also asked for, are re-checked below.
      detections = await this.#listAnyTags("detections", query.anyTags, base, parse);
    } else if (query.hostIds === undefined) {
      detections = await this.#list("detections", base, parse);
    } else {
      const hostIds = [...new Set(query.hostIds)];
      if (hostIds.length === 0) return [];
      detections = await this.#detectionsOfHosts(hostIds, base, parse);
    }
    const hostSet = query.hostIds ? new Set(query.hostIds) : null;
    const type = query.detectionType?.toLowerCase();
    return detections.filter((detection) =>
      (query.tag === undefined || detection.tags.includes(query.tag)) &&
      (query.anyTags === undefined || query.anyTags.some((t) => detection.tags.includes(t))) &&
      (type === undefined || detection.detectionType.toLowerCase() === type) &&
      (query.state === undefined || detection.state === query.state) &&
      (query.isTriaged === undefined || detection.isTriaged === query.isTriaged) &&
      (hostSet === null || (detection.hostId !== null && hostSet.has(detection.hostId)))
    );
  }

  /** Groups whose name equals `name` exactly and whose type is `type`. */
  async groupsByName(name: string, type: "host" | "account"): Promise<Group[]> {
    const groups = await this.#list(
      "groups",
      { name, type, ...this.#flavor.groupQuery },
      (json) => {
        const record = typeof json === "object" && json !== null
          ? json as Record<string, unknown>
          : {};
        // Only groups of the requested name and type are parsed: another group's odd shape
        // must not fail this lookup.
        if (record["name"] !== name || record["type"] !== type) return null;
        return parseGroup(json, this.version);
      },
      `read ${type} group "${name}"`,
    );
    return groups.filter((group): group is Group =>
      group !== null && group.name === name && group.type === type
    );
  }

  /** Entities with `urgency_score >= min`; overridden by v3, refused on v2. */
  urgentEntities(_type: "host" | "account", _min: number): Promise<UrgentEntity[]> {
    return Promise.reject(
      new VectraError(
        this.brain,
        `Cannot read urgency scores on brain ${this.brain}: API ${this.version} has no /entities; use a threat and certainty threshold`,
      ),
    );
  }

  /** The entity's current tags. */
  async getTags(kind: Kind, id: number): Promise<string[]> {
    const path = `/tagging/${kind}/${id}`;
    const what = `read the tags of ${kind} ${id}`;
    const response = await this.request("GET", path, {}, what);
    return this.#tagsOf(response, "GET", path, what);
  }

  /** Replaces the entity's tags; a `status: failure` body is an error. */
  async setTags(kind: Kind, id: number, tags: readonly string[]): Promise<string[]> {
    const path = `/tagging/${kind}/${id}`;
    const what = `write the tags of ${kind} ${id}`;
    const response = await this.request("PATCH", path, { json: { tags: [...tags] } }, what);
    return this.#tagsOf(response, "PATCH", path, what);
  }

  /**
   * v2.5: adds one tag to many entities (`POST /tagging/<kind>`); see VectraApi. The body
   * shape is inferred: any 2xx is success unless the body says `status: failure` (or a
   * `_meta.level` of `error`). Retried: adding a tag twice changes nothing.
   */
  get addTagToMany(): VectraApi["addTagToMany"] {
    if (this.version !== "2.5") return undefined;
    return (kind: Kind, ids: readonly number[], tag: string) =>
      this.#bulkTag("POST", kind, ids, tag, `add a tag to ${ids.length} ${kind}s`);
  }

  /**
   * v2.5: removes one tag from many entities (`DELETE /tagging/<kind>`), as
   * {@linkcode addTagToMany} adds it. Retried: removing a tag twice changes nothing.
   */
  get removeTagFromMany(): VectraApi["removeTagFromMany"] {
    if (this.version !== "2.5") return undefined;
    return (kind: Kind, ids: readonly number[], tag: string) =>
      this.#bulkTag("DELETE", kind, ids, tag, `remove a tag from ${ids.length} ${kind}s`);
  }

  async #bulkTag(
    method: "POST" | "DELETE",
    kind: Kind,
    ids: readonly number[],
    tag: string,
    what: string,
  ): Promise<void> {
    const path = `/tagging/${kind}`;
    const response = await this.request(
      method,
      path,
      { json: { objectIds: [...ids], tag }, retry: true },
      what,
    );
    const failure = bulkFailure(response.text);
    if (failure !== null) {
      throw new VectraError(
        this.brain,
        `Cannot ${what} on brain ${this.brain}: ${method} ${this.#basePath}${
          this.#path(path)
        } answered ${response.status} with a failure${failure ? `: "${failure}"` : ""}`,
        { status: response.status },
      );
    }
  }

  /** Adds a note; not retried on failure (a retry could duplicate it), except after a 401. */
  async addNote(kind: Kind, id: number, note: string): Promise<void> {
    const path = `/${PLURAL[kind]}/${id}/notes`;
    await this.request(
      "POST",
      path,
      { json: { note }, retry: false },
      `add a note to ${kind} ${id}`,
    );
  }

  /** Releases connections. */
  close(): Promise<void> {
    this.#api.close();
    return Promise.resolve();
  }

  /**
   * One authenticated request to `apiRoot + path` (or a `next` URL): after a 401 the
   * credentials are renewed once and the request is repeated once. Failures become a
   * {@linkcode VectraError} naming the brain, method, path (no query) and status.
   */
  protected async request(
    method: string,
    path: string,
    options: RequestOptions,
    what: string,
  ): Promise<HttpResponse> {
    const fullPath = options.url !== undefined
      ? new URL(options.url).pathname
      : `${this.#basePath}${this.#path(path)}`;
    try {
      await this.#auth.prepare();
      const authorization = this.#auth.authorization();
      try {
        return await this.#api.request(method, this.#path(path), this.#withAuth(options));
      } catch (error) {
        if (!(error instanceof HttpError) || error.status !== 401) throw error;
        if (!(await this.#auth.reauthenticate(authorization))) throw error;
        return await this.#api.request(method, this.#path(path), this.#withAuth(options));
      }
    } catch (error) {
      throw this.#wrap(error, method, fullPath, what);
    }
  }

  /** Reads every page of a list, parsing items as each page arrives. */
  protected async list<T>(
    resource: string,
    query: Query,
    parse: (json: unknown) => T,
    what = `list ${resource}`,
    stop?: (item: T) => boolean,
  ): Promise<T[]> {
    return await this.#list(resource, query, parse, what, stop);
  }

  /** The `fields=` parameter of a list, when enabled. */
  protected fieldsQuery(resource: keyof Flavor["fields"]): Query {
    return this.#fieldsQuery(resource);
  }

  async #list<T>(
    resource: string,
    query: Query,
    parse: (json: unknown) => T,
    what = `list ${resource}`,
    stop?: (item: T) => boolean,
    keep?: Keep<T>,
  ): Promise<T[]> {
    const rereads = Math.max(0, this.#options.listRereads ?? DEFAULT_LIST_REREADS);
    const fullPath = `${this.#basePath}${this.#path(`/${resource}`)}`;
    let change = "";
    for (let read = 1; read <= rereads + 1; read++) {
      const result = await this.#readPages(resource, query, parse, what, stop, keep);
      if (result.change === null) return result.items;
      change = result.change;
      if (read <= rereads) {
        logger.warn(
          "The list GET {path} on brain {brain} changed while it was read ({change}); " +
            "reading it again from page 1 ({reread} of {rereads})",
          { brain: this.brain, path: fullPath, change, reread: read, rereads },
        );
      }
    }
    throw new VectraError(
      this.brain,
      `Cannot ${what} on brain ${this.brain}: GET ${fullPath} kept changing while it was read ` +
        `(${change}); read ${rereads + 1} times, the next cycle tries again`,
    );
  }

  /**
   * Reads every page of a list once. Returns the items (those whose id `keep` accepts, when
   * given: the others are not even parsed, so a whole list read for a few ids costs no
   * more memory than its pages),
   * or what changed between its pages
   * (`count` differs from page 1's, an id already read on an earlier page, or fewer or more
   * results than `count`): such a read may have missed an item, so it is never used.
   */
  async #readPages<T>(
    resource: string,
    query: Query,
    parse: (json: unknown) => T,
    what: string,
    stop?: (item: T) => boolean,
    keep?: Keep<T>,
  ): Promise<{ items: T[]; change: null } | { items: null; change: string }> {
    const path = `/${resource}`;
    const fullPath = `${this.#basePath}${this.#path(path)}`;
    const items: T[] = [];
    const seen = new Set<string>();
    const earlierIds = new Set<string>();
    let count: number | null = null;
    let results = 0;
    type Outcome = { done: { items: T[]; change: null } | { items: null; change: string } } | {
      next: string;
    };
    /** Takes one page into `items`; once it returns, nothing holds the page any more. */
    const take = (response: HttpResponse, page: number): Outcome => {
      let envelope: z.infer<typeof PageEnvelope>;
      try {
        const parsed = PageEnvelope.safeParse(response.json());
        if (!parsed.success) {
          throw new VectraError(
            this.brain,
            `Cannot ${what} on brain ${this.brain}: GET ${fullPath} answered a page without a "results" list (page ${page})`,
            { status: response.status },
          );
        }
        envelope = parsed.data;
      } catch (error) {
        throw this.#wrap(error, "GET", fullPath, what);
      }
      const pageCount = typeof envelope.count === "number" ? envelope.count : null;
      if (page === 1) {
        count = pageCount;
      } else if (count !== null && pageCount !== null && pageCount !== count) {
        return {
          done: { items: null, change: `count went from ${count} to ${pageCount} on page ${page}` },
        };
      }
      const pageIds: string[] = [];
      for (const json of envelope.results) {
        const id = idOf(json);
        if (id !== null) {
          if (earlierIds.has(id)) {
            return { done: { items: null, change: `id ${id} came again on page ${page}` } };
          }
          pageIds.push(id);
        }
      }
      for (const id of pageIds) earlierIds.add(id);
      results += envelope.results.length;
      for (const json of envelope.results) {
        const id = keep?.id === undefined ? null : idOf(json);
        if (id !== null && keep?.id?.(Number(id)) === false) continue;
        let item: T;
        try {
          item = parse(json);
        } catch (error) {
          throw this.#wrap(error, "GET", fullPath, what);
        }
        if (stop?.(item)) return { done: { items, change: null } };
        if (keep?.item === undefined || keep.item(item)) items.push(item);
      }
      const next = envelope.next;
      if (next) return { next };
      if (count !== null && results !== count) {
        return {
          done: {
            items: null,
            change: `${results} results on ${page} page(s) where page 1 counted ${count}`,
          },
        };
      }
      return { done: { items, change: null } };
    };
    let response: HttpResponse | null = await this.request(
      "GET",
      path,
      { query: { ...query, page_size: MAX_PAGE_SIZE } },
      what,
    );
    for (let page = 1; page <= MAX_PAGES; page++) {
      const outcome = take(response, page);
      // The page is dropped before the next one is asked for: one page in memory per list.
      response = null;
      if ("done" in outcome) return outcome.done;
      let nextUrl: URL;
      try {
        nextUrl = new URL(outcome.next, this.#origin);
      } catch (cause) {
        throw new VectraError(
          this.brain,
          `Cannot ${what} on brain ${this.brain}: GET ${fullPath} answered a "next" link that is not a URL`,
          { cause },
        );
      }
      if (nextUrl.origin !== this.#origin) {
        throw new VectraError(
          this.brain,
          `Cannot ${what} on brain ${this.brain}: GET ${fullPath} answered a "next" link to another origin "${nextUrl.origin}"; only ${this.#origin} is followed`,
        );
      }
      if (seen.has(nextUrl.href)) {
        throw new VectraError(
          this.brain,
          `Cannot ${what} on brain ${this.brain}: GET ${fullPath} answered a "next" link to a page already read (page ${page})`,
        );
      }
      seen.add(nextUrl.href);
      response = await this.request("GET", path, { url: nextUrl.href }, what);
    }
    throw new VectraError(
      this.brain,
      `Cannot ${what} on brain ${this.brain}: GET ${fullPath} has more than ${MAX_PAGES} pages`,
    );
  }

  /**
   * Starts a new cycle: what the last one kept of whole lists read for id lookups is
   * forgotten (and its memory released), so this cycle reads current data.
   */
  startCycle(): void {
    this.#wholeLists.clear();
  }

  /**
   * Objects by id from the cycle's one read of a whole list (every object, `fields=`
   * only): the first lookup of the cycle reads it, keeping only its own ids as pages
   * arrive; a later lookup gets those ids from it and any other one request each, so the
   * list is never read in full twice in a cycle ({@linkcode startCycle}). A failed read is
   * forgotten, so a later lookup tries again.
   */
  async #fromWhole<T extends { id: number }>(
    resource: "hosts" | "accounts",
    wanted: ReadonlySet<number>,
    fields: keyof Flavor["fields"],
    parse: (json: unknown) => T,
    limit: LimitFunction,
  ): Promise<T[]> {
    let read = this.#wholeLists.get(resource) as Promise<WholeRead<T>> | undefined;
    if (read === undefined) {
      const started = this.#list(
        resource,
        this.#fieldsQuery(fields),
        parse,
        `read ${resource} by id`,
        undefined,
        { id: (id) => wanted.has(id) },
      ).then((items) => wholeRead(wanted, items));
      read = started;
      this.#wholeLists.set(resource, started);
      started.catch(() => {
        if (this.#wholeLists.get(resource) === started) this.#wholeLists.delete(resource);
      });
    }
    const whole = await read;
    const kept = [...wanted].flatMap((id) => whole.items.get(id) ?? []);
    const unasked = [...wanted].filter((id) => !whole.asked.has(id));
    if (unasked.length === 0) return kept;
    return [...kept, ...(await this.#oneByOne(resource, unasked, fields, parse, limit)).flat()];
  }

  /**
   * Objects by id, whatever the brain makes of a comma in `id=` (see `comma.ts`). No list
   * is read in full more than once per cycle, and none is kept beyond the ids asked for.
   * - proven any-of: id lists in chunks;
   * - proven ignored: the cycle's whole list, kept to the ids asked for;
   * - proven otherwise (first item, literal, refused with 400): one object at a time, or
   *   the cycle's whole list when there are more than 20;
   * - not yet known (one lookup at a time until it is): the first chunk alone, with its
   *   first id repeated at the end, so that a brain honouring one end of the list answers
   *   that id alone. An answer with two ids proves any-of (no brain honouring one item
   *   answers that), and the other chunks follow; one with an id not asked for proves the
   *   filter ignored, and was itself the whole list, kept to the ids asked for; any other
   *   answer is completed without a list, which also shows whether it missed something.
   */
  async #byIds<T extends { id: number }>(
    resource: "hosts" | "accounts",
    ids: readonly number[],
    fields: keyof Flavor["fields"],
    parse: (json: unknown) => T,
  ): Promise<T[]> {
    const wanted = new Set(ids);
    if (wanted.size === 0) return [];
    const filter: ListFilter = `id on /${resource}`;
    if (this.#readings.get(filter) !== undefined || this.#wholeLists.has(resource)) {
      return await this.#byIdsKnown(resource, wanted, fields, parse);
    }
    // Until the reading is known, one lookup at a time: a second one waits for what the
    // first proves instead of probing (and perhaps reading the whole list) again.
    const turn = this.#probes.get(filter) ?? Promise.resolve();
    const mine = turn.then(() => this.#byIdsKnown(resource, wanted, fields, parse));
    this.#probes.set(filter, mine.then(() => {}, () => {}));
    return await mine;
  }

  async #byIdsKnown<T extends { id: number }>(
    resource: "hosts" | "accounts",
    wanted: ReadonlySet<number>,
    fields: keyof Flavor["fields"],
    parse: (json: unknown) => T,
  ): Promise<T[]> {
    const filter: ListFilter = `id on /${resource}`;
    const limit = pLimit(this.#options.concurrency ?? 4);
    const what = `read ${resource} by id`;
    const chunks = chunkIds([...wanted]);
    // An answer keeps the ids asked for, and one other: enough to prove the filter ignored
    // without holding the whole list such a brain answers.
    const query = (value: string) => {
      let other = false;
      const keep = { id: (id: number) => wanted.has(id) || (!other && (other = true)) };
      return this.#list(
        resource,
        { id: value, ...this.#fieldsQuery(fields) },
        parse,
        what,
        undefined,
        keep,
      );
    };
    const asked = (items: readonly T[]) => dedupeById(items).filter((item) => wanted.has(item.id));
    const fromWhole = (only: ReadonlySet<number>) =>
      this.#fromWhole(resource, only, fields, parse, limit);
    /** An answer to an ignored `id=` held every object: it counts as the cycle's whole read. */
    const ignored = (items: T[]) => {
      this.#learn(filter, "ignored");
      const kept = asked(items);
      if (!this.#wholeLists.has(resource)) {
        this.#wholeLists.set(resource, Promise.resolve(wholeRead(wanted, kept)));
      }
      return kept;
    };
    // Without id lists: one request per object, or the cycle's whole list when that is
    // likely fewer requests (a page holds 5,000 objects) or already read.
    const readSingly = async (only: readonly number[]) =>
      only.length > MOST_SINGLE_READS || this.#wholeLists.has(resource)
        ? await fromWhole(new Set(only))
        : (await this.#oneByOne(resource, only, fields, parse, limit)).flat();
    const reading = this.#readings.get(filter);
    if (reading === "ignored" || (reading !== "anyof" && this.#wholeLists.has(resource))) {
      return await fromWhole(wanted);
    }
    const oneByOne = async () => asked(await readSingly([...wanted]));
    if (reading !== undefined && reading !== "anyof") return await oneByOne();
    if (wanted.size === 1 || reading === "anyof") {
      const items = await this.#unlessRefused(
        filter,
        async () => (await this.#eachValue(chunks, query)).flat(),
      );
      if (items === null) return await oneByOne();
      if (items.some((item) => !wanted.has(item.id))) return ignored(items);
      return asked(items);
    }
    const [first = "", ...rest] = chunks;
    const probe = await this.#unlessRefused(filter, () => query(closedByItsFirst(first)));
    if (probe === null) return await oneByOne();
    if (probe.some((item) => !wanted.has(item.id))) return ignored(probe);
    // Two ids in one answer: no brain honouring a single item of the list answers that.
    if (new Set(probe.map((item) => item.id)).size >= 2) {
      this.#learn(filter, "anyof");
      return asked([...probe, ...(await this.#eachValue(rest, query)).flat()]);
    }
    const others = await this.#eachValue(rest.map(closedByItsFirst), query);
    const answers = [probe, ...others];
    const items = answers.flat();
    if (answers.some((answer) => new Set(answer.map((item) => item.id)).size >= 2)) {
      this.#learn(filter, "anyof");
      return asked(items);
    }
    // Each chunk answered at most one id: read the others without a list.
    const got = new Set(items.map((item) => item.id));
    const found = await readSingly([...wanted].filter((id) => !got.has(id)));
    const shown = found[0];
    if (shown !== undefined) {
      // Does the brain honour the first item? An object that exists, first in a list.
      const other = [...wanted].find((id) => id !== shown.id)!;
      const firstItem = await query(`${shown.id},${other}`);
      this.#learn(filter, firstItem.some((item) => item.id === shown.id) ? "first" : "literal");
    }
    return asked([...items, ...found]);
  }

  async #oneByOne<T>(
    resource: "hosts" | "accounts",
    ids: readonly number[],
    fields: keyof Flavor["fields"],
    parse: (json: unknown) => T,
    limit: LimitFunction,
  ): Promise<T[][]> {
    const what = `read ${resource} by id`;
    return await Promise.all(ids.map((id) =>
      limit(async () => {
        const path = `/${resource}/${id}`;
        const response = await this.request(
          "GET",
          path,
          { query: this.#fieldsQuery(fields), accept: [404] },
          what,
        );
        if (response.status === 404) return [];
        try {
          return [parse(response.json())];
        } catch (error) {
          throw this.#wrap(error, "GET", `${this.#basePath}${this.#path(path)}`, what);
        }
      })
    ));
  }

  /**
   * Every item carrying any of `tags` (by the brain's substring match; callers re-check
   * exactly), whatever the brain makes of a comma in `tags=` (see `comma.ts`):
   * - proven any-of (or ignored): one combined query;
   * - proven otherwise: one query per tag;
   * - not yet known: the combined query framed by a tag nobody carries
   *   (`tags=<absent>,a,b,<absent>`), which only an any-of (or ignoring) brain answers
   *   with anything. A non-empty answer proves the reading; an empty one is confirmed by
   *   one query per tag, and if those find anything the combined form missed it.
   */
  async #listAnyTags<T extends { id: number; tags: readonly string[] }>(
    resource: "hosts" | "accounts" | "detections",
    tags: readonly string[],
    base: Query,
    parse: (json: unknown) => T,
  ): Promise<T[]> {
    const distinct = [...new Set(tags)];
    const filter: ListFilter = `tags on /${resource}`;
    const query = (value: string) => this.#list(resource, { ...base, tags: value }, parse);
    const oneTagEach = async () => dedupeById((await this.#eachValue(distinct, query)).flat());
    if (distinct.length <= 1) return distinct[0] === undefined ? [] : await query(distinct[0]);
    const reading = this.#readings.get(filter);
    if (combinedIsComplete(reading)) return await query(distinct.join(","));
    if (reading !== undefined) return await oneTagEach();
    const absent = absentTag();
    const framed = await this.#unlessRefused(
      filter,
      () => query([absent, ...distinct, absent].join(",")),
    );
    if (framed === null) return await oneTagEach();
    const needles = distinct.map((tag) => tag.toLowerCase());
    const unrelated = (item: T) =>
      !item.tags.some((tag) => needles.some((needle) => tag.toLowerCase().includes(needle)));
    if (framed.some(unrelated)) {
      this.#learn(filter, "ignored");
      return framed;
    }
    if (framed.length > 0) {
      this.#learn(filter, "anyof");
      return framed;
    }
    const perTag = await this.#eachValue(distinct, query);
    const shown = distinct.find((_, index) => (perTag[index]?.length ?? 0) > 0);
    if (shown === undefined) return []; // nothing carries these tags: nothing to learn yet
    // One value found what the combined form did not: does the brain honour its first item?
    const firstItem = await query([shown, absent].join(","));
    this.#learn(filter, firstItem.length > 0 ? "first" : "literal");
    return dedupeById(perTag.flat());
  }

  /**
   * The detections of the hosts `hostIds` (and the filters of `base`), whatever the brain
   * makes of a comma in `host_id=` (see `comma.ts`); the caller re-checks the host:
   * - proven any-of: host id lists in chunks;
   * - proven ignored: one read of the list without `host_id`, kept to the hosts;
   * - proven otherwise (first item, literal, refused with 400): one query per host, or
   *   the list without `host_id` kept to the hosts when there are more than 20;
   * - not yet known: each chunk is sent with its first host repeated at the end, so that a
   *   brain honouring one end of the list answers that host's detections alone. An answer
   *   with the detections of two hosts proves any-of; one with a host not asked for
   *   proves the filter ignored; any other answer is checked against a read without a
   *   list, which is complete and also shows whether the lists missed something.
   */
  async #detectionsOfHosts(
    hostIds: readonly number[],
    base: Query,
    parse: (json: unknown) => Detection,
  ): Promise<Detection[]> {
    const filter: ListFilter = "host_id on /detections";
    const wanted = new Set(hostIds);
    const query = (value: string) => this.#list("detections", { ...base, host_id: value }, parse);
    // Only the detections of the hosts are kept while the pages are read.
    const everyHost = () =>
      this.#list(
        "detections",
        base,
        parse,
        "list detections",
        undefined,
        { item: (d) => d.hostId !== null && wanted.has(d.hostId) },
      );
    // Without host lists: one query per host (no comma), or the list without `host_id` when
    // that is likely fewer requests.
    const withoutList = async () =>
      hostIds.length > MOST_SINGLE_READS
        ? await everyHost()
        : dedupeById((await this.#eachValue(hostIds.map(String), query)).flat());
    const reading = this.#readings.get(filter);
    if (reading === "ignored") return await everyHost();
    if (reading !== undefined && reading !== "anyof") return await withoutList();
    const chunks = chunkIds(hostIds);
    if (hostIds.length === 1 || reading === "anyof") {
      const items = await this.#unlessRefused(
        filter,
        async () => (await this.#eachValue(chunks, query)).flat(),
      );
      if (items === null) return await withoutList();
      if (items.some((d) => d.hostId === null || !wanted.has(d.hostId))) {
        this.#learn(filter, "ignored");
      }
      return dedupeById(items);
    }
    const answers = await this.#unlessRefused(
      filter,
      () => this.#eachValue(chunks.map(closedByItsFirst), query),
    );
    if (answers === null) return await withoutList();
    const items = answers.flat();
    if (items.some((d) => d.hostId === null || !wanted.has(d.hostId))) {
      this.#learn(filter, "ignored");
      return dedupeById(items);
    }
    // Two hosts in one answer: no brain honouring a single item of the list answers that.
    if (answers.some((answer) => new Set(answer.map((d) => d.hostId)).size >= 2)) {
      this.#learn(filter, "anyof");
      return dedupeById(items);
    }
    // Each chunk answered at most one host's detections: read them without a list.
    const complete = await withoutList();
    const answered = new Set(items.map((d) => d.id));
    const missed = complete.find((d) => d.hostId !== null && !answered.has(d.id));
    if (missed?.hostId != null) {
      // Does the brain honour the first item? A host with detections, first in a list.
      const other = hostIds.find((id) => id !== missed.hostId)!;
      const firstItem = await query(`${missed.hostId},${other}`);
      this.#learn(filter, firstItem.length > 0 ? "first" : "literal");
    }
    return complete;
  }

  /**
   * The answer of `attempt`, or null when the brain refused a list filter with 400: the
   * filter is then recorded as refused, and the caller falls back to single values.
   */
  async #unlessRefused<R>(filter: ListFilter, attempt: () => Promise<R>): Promise<R | null> {
    try {
      return await attempt();
    } catch (error) {
      if (!(error instanceof VectraError) || error.status !== 400) throw error;
      this.#learn(filter, "refused", error.message);
      return null;
    }
  }

  /** One query per value, bounded; results in the order of `values`. */
  async #eachValue<T>(values: readonly string[], query: (value: string) => Promise<T[]>) {
    const limit = pLimit(this.#options.concurrency ?? 4);
    return await Promise.all(values.map((value) => limit(() => query(value))));
  }

  /** Records a proven reading, with a warning when it costs one query per value. */
  #learn(filter: ListFilter, reading: ListReading, detail = ""): void {
    if (this.#readings.get(filter) !== undefined) return;
    this.#readings.learn(filter, reading);
    if (combinedIsComplete(reading)) return;
    logger.warn(
      "Brain {brain} does not read a comma in {filter} as an any-of list{detail}; var uses " +
        "this form from now on: {form}",
      {
        brain: this.brain,
        filter,
        form: this.#readings.describeFilter(filter),
        detail: detail ? ` (${detail})` : "",
      },
    );
  }

  /** The line saying how this brain reads a comma in each list filter; see `ListReadings`. */
  takeListReadingReport(): string | null {
    return this.#readings.takeReport();
  }

  #scoreQuery(query: ScoreQuery, fields: keyof Flavor["fields"]): Query {
    return {
      tags: query.tag,
      threat_gte: query.threatGte,
      certainty_gte: query.certaintyGte,
      ...this.#fieldsQuery(fields),
    };
  }

  #fieldsQuery(resource: keyof Flavor["fields"]): Query {
    if (this.#options.useFields === false) return {};
    return { fields: this.#flavor.fields[resource].join(",") };
  }

  #parseOptions(): { now: Date } {
    return { now: new Date((this.#options.now ?? Date.now)()) };
  }

  #path(path: string): string {
    return `${this.#flavor.apiRoot}${path}`;
  }

  #withAuth(options: RequestOptions): RequestOptions {
    return {
      ...options,
      headers: { ...options.headers, Authorization: this.#auth.authorization() },
    };
  }

  #tagsOf(response: HttpResponse, method: string, path: string, what: string): string[] {
    const fullPath = `${this.#basePath}${this.#path(path)}`;
    let body: unknown;
    try {
      body = response.json();
    } catch (error) {
      throw this.#wrap(error, method, fullPath, what);
    }
    const parsed = TagResponse.safeParse(body);
    if (!parsed.success) {
      throw new VectraError(
        this.brain,
        `Cannot ${what} on brain ${this.brain}: ${method} ${fullPath} answered without a "tags" list`,
        { status: response.status },
      );
    }
    const { status, tags, message, invalid_tags: invalid } = parsed.data;
    if (status === "failure" || !tags) {
      const detail = [
        message ? `"${message}"` : null,
        invalid && invalid.length > 0 ? `invalid tags ${JSON.stringify(invalid)}` : null,
      ].filter((part) => part !== null).join(", ");
      throw new VectraError(
        this.brain,
        `Cannot ${what} on brain ${this.brain}: ${method} ${fullPath} answered ${response.status} with status "${
          status ?? "missing"
        }"${detail ? `: ${detail}` : ""}`,
        { status: response.status },
      );
    }
    return tags;
  }

  #wrap(error: unknown, method: string, path: string, what: string): VectraError {
    if (error instanceof VectraError) return error;
    const prefix = `Cannot ${what} on brain ${this.brain}`;
    if (error instanceof MalformedEntityError) {
      return new VectraError(this.brain, `${prefix}: ${method} ${path} answered ${error.message}`, {
        cause: error,
      });
    }
    if (error instanceof HttpError) {
      const ok = error.status !== null && error.status >= 200 && error.status < 300;
      const detail = error.status === null || ok
        ? withoutQuery(httpDetail(error))
        : `answered ${error.status}${error.body ? `: ${errorDetail(error.body)}` : ""}`;
      const hint = error.status === 401
        ? "; check the credentials of this brain"
        : error.status === 403
        ? "; the API client lacks a permission"
        : "";
      return new VectraError(
        this.brain,
        `${prefix}: ${method} ${error.path || path} ${detail}${hint}`,
        { cause: error, status: error.status },
      );
    }
    const message = errorText(error);
    return new VectraError(this.brain, `${prefix}: ${method} ${path} failed: ${message}`, {
      cause: error,
    });
  }
}

/** The detail of an {@linkcode HttpError}: its message without the `Cannot GET /x on y: ` prefix. */
export function httpDetail(error: HttpError): string {
  const prefix = `Cannot ${error.method} ${error.path} on ${error.system}: `;
  return error.message.startsWith(prefix) ? error.message.slice(prefix.length) : error.message;
}

/** Removes query strings from URLs quoted in a message (network errors quote the URL). */
export function withoutQuery(message: string): string {
  return message.replace(/(https?:\/\/[^\s?)]*)\?[^\s)]*/g, "$1");
}

/** True when an entity meets the score filters of a query (tag exact, scores `>=`). */
function matchesScore(
  entity: { tags: readonly string[]; threat: number; certainty: number },
  query: ScoreQuery,
): boolean {
  return (query.tag === undefined || entity.tags.includes(query.tag)) &&
    (query.anyTags === undefined || query.anyTags.some((t) => entity.tags.includes(t))) &&
    (query.threatGte === undefined || entity.threat >= query.threatGte) &&
    (query.certaintyGte === undefined || entity.certainty >= query.certaintyGte);
}

/** The `id` of a raw list item (a number or a string), or null when it has none. */
function idOf(json: unknown): string | null {
  if (typeof json !== "object" || json === null) return null;
  const id = (json as Record<string, unknown>)["id"];
  return typeof id === "number" || typeof id === "string" ? String(id) : null;
}

/**
 * An id list with its first id repeated at the end (`1,2,3` → `1,2,3,1`): a brain that
 * honours only one end of a list then answers that one id alone, which no any-of answer
 * with two ids can be mistaken for.
 */
function closedByItsFirst(list: string): string {
  return `${list},${list.split(",")[0]}`;
}

/**
 * Which items of a list are kept: by id, before an item is parsed (the others are not even
 * parsed), or by the parsed item.
 */
interface Keep<T> {
  readonly id?: (id: number) => boolean;
  readonly item?: (item: T) => boolean;
}

/** A whole list read for id lookups: the ids it was read for, and those of them it holds. */
interface WholeRead<T> {
  readonly asked: ReadonlySet<number>;
  readonly items: ReadonlyMap<number, T>;
}

function wholeRead<T extends { id: number }>(
  asked: ReadonlySet<number>,
  items: readonly T[],
): WholeRead<T> {
  return { asked, items: new Map(items.map((item) => [item.id, item])) };
}

/** Entities without repeated ids; the later object wins. */
function dedupeById<T extends { id: number }>(items: readonly T[]): T[] {
  const byId = new Map<number, T>();
  for (const item of items) byId.set(item.id, item);
  return [...byId.values()];
}

/**
 * The message of a bulk tagging body that reports a failure (`status: failure`, or a
 * `_meta.level` of `error`), `""` when it has none, or null when the body is not a failure.
 */
function bulkFailure(text: string): string | null {
  if (text.trim() === "") return null;
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof body !== "object" || body === null) return null;
  const record = body as Record<string, unknown>;
  const meta = typeof record._meta === "object" && record._meta !== null
    ? record._meta as Record<string, unknown>
    : {};
  const failed = String(record.status ?? "").toLowerCase() === "failure" ||
    String(meta.level ?? "").toLowerCase() === "error";
  if (!failed) return null;
  const message = record.message ?? meta.message;
  return typeof message === "string" ? message : "";
}
