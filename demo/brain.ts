/**
 * A stateful fake Vectra brain on `Deno.serve`, speaking the Detect API v2.5 (token or
 * OAuth2) or the Platform API v3.3/v3.4 (OAuth2 with refresh), for every test and for
 * `var demo`. It keeps hosts, accounts, detections, groups, tags and notes, pages and
 * filters lists like the real API (vectra-api.md §9), rejects unknown query parameters,
 * logs and counts requests, and injects faults on request.
 *
 * Where vectra-api.md leaves the real behaviour open, the fake takes the stricter side, so
 * a client that passes against it also copes with the real brain:
 * - `tags` and group `name` filters match by case-insensitive substring (`tags=block`
 *   also returns `unblock`); clients must re-check exactly.
 * - A comma in a `tags`, `id` or `host_id` value is read as any-of by default; the
 *   `commaReading` switch reads it literally, honours the first item only, or ignores the
 *   parameter, the plausible readings of a brain where the API documents none.
 * - v3.4 groups carry `members` only with `include_members=true`; v2.5 and v3.3 always.
 * - v3 hosts omit the deprecated `key_asset`/`targets_key_asset` aliases; v3.4
 *   detections omit `category`, `t_score`, `c_score`, `targets_key_asset`.
 * - A parameter an endpoint does not list for the version (§4) answers 400; one it lists
 *   but the fake does not implement answers 501, so no filter is silently ignored. The
 *   `id` list is accepted on hosts, accounts and detections of every version.
 * - Request lines longer than 8 KiB answer nginx's HTML 414.
 * - Objects' `note` fields are HTML-escaped; the notes endpoints return the raw text.
 * - Lists are ordered by ascending id unless `ordering` is given.
 *
 * @example
 * ```ts
 * await using brain = await startFakeBrain({
 *   apiVersion: "3.4",
 *   seed: seed().host({ name: "ward-3-pc", tags: ["vectra_host_block"] }),
 * });
 * brain.fault({ kind: "status", status: 503 }, { path: "/hosts", times: 2 });
 * // ... run var against brain.url with brain.credentials ...
 * brain.tags("host", "ward-3-pc"); // ["vectra_host_block", "VAR Host Blocked", ...]
 * ```
 *
 * @module
 */

import { checkParams, type FakeApiVersion, type ParamEndpoint } from "./_brain_params.ts";
import {
  pickFields,
  renderAccount,
  type RenderContext,
  renderDetection,
  renderEntity,
  renderGroup,
  renderHost,
  renderNote,
} from "./_brain_render.ts";
import {
  BrainStore,
  type CommaReading,
  type FakeKind,
  type FakeNote,
  QueryError,
} from "./_brain_store.ts";
import {
  type AccountSeedOptions,
  type DetectionSeedOptions,
  type GroupSeedOptions,
  type HostSeedOptions,
  makeAccount,
  makeDetection,
  makeHost,
  type SeedAccount,
  type SeedData,
  type SeedDetection,
  type SeedGroup,
  type SeedHost,
} from "./seed.ts";

export type { FakeApiVersion } from "./_brain_params.ts";
export type { CommaReading, FakeKind, FakeNote } from "./_brain_store.ts";
export { COMMA_READINGS } from "./_brain_store.ts";

/** Options of {@linkcode startFakeBrain}. */
export interface FakeBrainOptions {
  /**
   * The API flavour: `2.5` (base `/api/v2.5`, `Token` auth or OAuth2 at
   * `/api/v2.5/oauth2/token`), `3.3` or `3.4` (OAuth2 at `/oauth2/token` with refresh).
   * @default {"3.4"}
   */
  apiVersion?: FakeApiVersion;
  /** The data the brain starts with (a builder or its built data). @default {empty} */
  seed?: SeedData | { build(): SeedData };
  /** The v2.5 personal API token. @default {a random 40-character hex string} */
  token?: string;
  /** The OAuth2 client id. @default {"var-test-client"} */
  clientId?: string;
  /** The OAuth2 client secret. @default {a random 32-character hex string} */
  clientSecret?: string;
  /** Lifetime of access tokens, in seconds. @default {3600} */
  expiresIn?: number;
  /** Lifetime of refresh tokens (v3), in seconds. @default {86400} */
  refreshExpiresIn?: number;
  /** Length of issued access tokens (real ones are ~1,930-character JWTs). @default {1930} */
  accessTokenLength?: number;
  /** Length of issued refresh tokens. @default {2460} */
  refreshTokenLength?: number;
  /** The clock (epoch ms) for token expiry and timestamps. @default {Date.now} */
  now?: () => number;
  /** Latency added to every request, in ms. @default {0} */
  latencyMs?: number;
  /** Page size when a request gives none. @default {50} */
  defaultPageSize?: number;
  /** Largest page size honoured; larger requests are capped. @default {5000} */
  maxPageSize?: number;
  /** The author of notes posted through the API. @default {"api-client"} */
  noteAuthor?: string;
  /**
   * How a comma in a `tags`, `id` or `host_id` value is read (undocumented by Vectra):
   * any-of list, literal value, first item only, or the parameter ignored.
   * @default {"anyof"}
   */
  commaReading?: CommaReading;
  /**
   * Ignore list filters no Vectra documentation lists (`id=` on `/hosts`, `/accounts`,
   * `/detections`), as a brain that does not know them would: every object is answered.
   * @default {false}
   */
  documentedOnly?: boolean;
  /** PEM certificate chain: serve HTTPS (with `key`). @default {plain HTTP} */
  cert?: string;
  /** PEM private key of `cert`. */
  key?: string;
  /** The port to listen on. @default {0 (any free port)} */
  port?: number;
  /**
   * Longest path plus query string accepted; longer requests get nginx's HTML 414
   * (inferred: nginx's default 8 KiB request-line buffer in front of a brain).
   * @default {8192}
   */
  maxUrlLength?: number;
}

/** What a client needs to log in. */
export interface FakeBrainCredentials {
  /** The v2.5 personal API token; null on v3. */
  readonly token: string | null;
  /** The OAuth2 client id. */
  readonly clientId: string;
  /** The OAuth2 client secret. */
  readonly clientSecret: string;
}

/** One logged request. */
export interface FakeRequest {
  readonly method: string;
  /** The full path, e.g. `/api/v3.4/hosts`. */
  readonly path: string;
  /** The path below the API root (`/hosts`), or `/oauth2/token` for the token endpoint. */
  readonly route: string;
  /** The endpoint template, e.g. `GET /hosts/{id}` or `PATCH /tagging/host/{id}`. */
  readonly endpoint: string;
  /** The query string without `?`. */
  readonly query: string;
  /** The answered status; 0 for a connection reset. */
  readonly status: number;
  /** When the request arrived (the `now` clock, epoch ms). */
  readonly time: number;
  /** For token requests: the `grant_type`. */
  readonly grantType: string | null;
  /** Bytes of the answer's body (GET answers; 0 for others and cut connections). */
  readonly bytes: number;
}

/** A fault to inject (see {@linkcode FakeBrain.fault}). */
export type FakeFault =
  /** Answer with this status (e.g. 503, or 429 with `retryAfter` seconds or HTTP date). */
  | {
    kind: "status";
    status: number;
    /** JSON body. @default {{"detail": "Injected fault <status>"}} */
    body?: unknown;
    retryAfter?: number | string;
  }
  /** Wait `ms` (cut short when the brain closes), then answer normally. */
  | { kind: "delay"; ms: number }
  /** Hold the request until {@linkcode FakeBrain.release} or close, then answer normally. */
  | { kind: "hold" }
  /**
   * Abort the connection: the client sees headers (200) and then a network error while
   * reading the body (`TypeError: error reading a body from connection`). Deno.serve
   * cannot drop a connection before the headers are written.
   */
  | { kind: "reset" }
  /** Answer 200 with a truncated JSON body. */
  | { kind: "malformed" }
  /** Answer normally, but the list's `next` link points at another origin. */
  | {
    kind: "foreignNext";
    /** @default {"https://attacker.example"} */
    origin?: string;
  }
  /** Run `mutate` on the brain, then answer normally (e.g. change data between pages). */
  | { kind: "mutate"; mutate: (brain: FakeBrain) => void }
  /** On a tagging call: answer `status: failure` without changing the tags. */
  | {
    kind: "tagFailure";
    /** HTTP status of the failure body. @default {200} */
    status?: number;
    /** @default {"Invalid tags"} */
    message?: string;
    /** @default {the requested tags} */
    invalidTags?: string[];
  };

/** Which requests a fault applies to. */
export interface FaultOptions {
  /** HTTP method. @default {any} */
  method?: string;
  /**
   * A path prefix or pattern, matched against the route: the path below the API root
   * (`/hosts/12`, `/tagging/host/3`), or `/oauth2/token` for the token endpoint.
   * @default {every path}
   */
  path?: string | RegExp;
  /**
   * Query parameters that must all be present with these values. `tags` is an any-of
   * list, so a fault on `tags` applies to every request whose comma-separated `tags`
   * include each of the fault's tags (`{tags: "x"}` matches `tags=x,y`). @default {none}
   */
  query?: Record<string, string>;
  /** How many matching requests it applies to; `Infinity` keeps it. @default {1} */
  times?: number;
}

/** A fault that was installed. */
export interface FaultHandle {
  /** Matching requests it has applied to so far. */
  readonly hits: number;
  /** Removes the fault. */
  cancel(): void;
}

interface ActiveFault {
  fault: FakeFault;
  options: FaultOptions;
  remaining: number;
  hits: number;
}

type Json = Record<string, unknown>;

const KIND_PATHS: Record<string, FakeKind> = {
  hosts: "host",
  accounts: "account",
  detections: "detection",
};

function json(body: unknown, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json", ...headers },
  });
}

function notFound(): Response {
  return json({ detail: "Not Found." }, 404);
}

function randomToken(length: number): string {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  const bytes = crypto.getRandomValues(new Uint8Array(length));
  let out = "";
  for (const b of bytes) out += alphabet[b & 63];
  return out;
}

function randomHex(length: number): string {
  const bytes = crypto.getRandomValues(new Uint8Array(Math.ceil(length / 2)));
  return [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("").slice(0, length);
}

/** Whether a request's query value satisfies a fault's (see {@linkcode FaultOptions.query}). */
function queryMatches(key: string, actual: string | null, wanted: string | undefined): boolean {
  if (actual === null || wanted === undefined) return actual === wanted;
  if (key !== "tags") return actual === wanted;
  const asked = new Set(actual.split(","));
  return wanted.split(",").every((tag) => asked.has(tag));
}

function endpointTemplate(method: string, route: string): string {
  let ids = 0;
  const parts = route.split("/").map((seg) => {
    if (!/^\d+$/.test(seg)) return seg;
    ids++;
    return ids === 1 ? "{id}" : "{note_id}";
  });
  return `${method} ${parts.join("/")}`;
}

/** Waits `ms`, or less when a signal aborts; never rejects. */
function sleep(ms: number, signals: AbortSignal[]): Promise<void> {
  return new Promise((resolve) => {
    if (signals.some((s) => s.aborted)) return resolve();
    const done = () => {
      clearTimeout(timer);
      for (const s of signals) s.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    for (const s of signals) s.addEventListener("abort", done, { once: true });
  });
}

function listParam(value: string | null): string[] | null {
  if (value === null || value === "") return null;
  return value.split(",").map((f) => f.trim()).filter((f) => f !== "");
}

/** A running fake brain. Create it with {@linkcode startFakeBrain}. */
export class FakeBrain {
  /** The origin, e.g. `http://127.0.0.1:4711` (`https://` with TLS). */
  readonly url: string;
  /** The API version spoken. */
  readonly apiVersion: FakeApiVersion;
  /** The API root, e.g. `http://127.0.0.1:4711/api/v3.4`. */
  readonly apiRoot: string;
  /** The OAuth2 token endpoint URL. */
  readonly tokenUrl: string;
  /** Valid credentials. */
  readonly credentials: FakeBrainCredentials;

  #server: Deno.HttpServer<Deno.NetAddr>;
  #store: BrainStore;
  #base: string;
  #tokenPath: string;
  #now: () => number;
  #options: FakeBrainOptions;
  #latencyMs: number;
  #faults: ActiveFault[] = [];
  #log: FakeRequest[] = [];
  #access = new Map<string, number>();
  #refresh = new Map<string, number>();
  #closing = new AbortController();
  #held = new Set<() => void>();
  #resets = new WeakSet<Response>();
  #closed = false;

  /** Use {@linkcode startFakeBrain}. */
  constructor(
    options: FakeBrainOptions,
    start: (handler: (req: Request) => Promise<Response>) => Deno.HttpServer<Deno.NetAddr>,
  ) {
    this.#options = options;
    this.apiVersion = options.apiVersion ?? "3.4";
    this.#now = options.now ?? Date.now;
    this.#latencyMs = options.latencyMs ?? 0;
    const data = options.seed === undefined
      ? { hosts: [], accounts: [], detections: [], groups: [] }
      : "build" in options.seed
      ? options.seed.build()
      : options.seed;
    this.#store = new BrainStore(data, this.#now);
    this.#store.commaReading = options.commaReading ?? "anyof";
    this.#store.documentedOnly = options.documentedOnly ?? false;
    this.#base = `/api/v${this.apiVersion}`;
    this.#tokenPath = this.apiVersion === "2.5" ? `${this.#base}/oauth2/token` : "/oauth2/token";
    this.credentials = {
      token: this.apiVersion === "2.5" ? options.token ?? randomHex(40) : null,
      clientId: options.clientId ?? "var-test-client",
      clientSecret: options.clientSecret ?? randomHex(32),
    };
    this.#server = start((req) => this.#handle(req));
    const scheme = options.cert === undefined ? "http" : "https";
    this.url = `${scheme}://127.0.0.1:${this.#server.addr.port}`;
    this.apiRoot = `${this.url}${this.#base}`;
    this.tokenUrl = this.apiVersion === "2.5"
      ? `${this.apiRoot}/oauth2/token`
      : `${this.url}/oauth2/token`;
  }

  /** Stops the server; held and delayed requests end at once. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#closing.abort();
    for (const release of this.#held) release();
    await this.#server.shutdown();
  }

  /** Same as {@linkcode close}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  // ---- faults and latency ----------------------------------------------------------

  /** Injects a fault into matching requests (the first matching installed fault wins). */
  fault(fault: FakeFault, options: FaultOptions = {}): FaultHandle {
    const active: ActiveFault = { fault, options, remaining: options.times ?? 1, hits: 0 };
    this.#faults.push(active);
    return {
      get hits() {
        return active.hits;
      },
      cancel: () => {
        this.#faults = this.#faults.filter((f) => f !== active);
      },
    };
  }

  /** Answers the next `times` matching requests with `status` (a `status` fault). */
  failNext(status: number, options: FaultOptions = {}): FaultHandle {
    return this.fault({ kind: "status", status }, options);
  }

  /** Removes every fault. */
  clearFaults(): void {
    this.#faults = [];
  }

  /** Lets every request held by a `hold` fault go on. */
  release(): void {
    for (const release of this.#held) release();
    this.#held.clear();
  }

  /** Requests currently held by a `hold` fault. */
  get heldCount(): number {
    return this.#held.size;
  }

  /** Sets the latency added to every request, in ms. */
  setLatency(ms: number): void {
    this.#latencyMs = ms;
  }

  // ---- tokens ----------------------------------------------------------------------

  /** Makes every issued access token expired (refresh tokens stay valid). */
  expireTokens(): void {
    for (const token of this.#access.keys()) this.#access.set(token, -Infinity);
  }

  /** Makes every issued refresh token expired. */
  expireRefreshTokens(): void {
    for (const token of this.#refresh.keys()) this.#refresh.set(token, -Infinity);
  }

  /** Revokes every issued access and refresh token. */
  revokeTokens(): void {
    this.#access.clear();
    this.#refresh.clear();
  }

  // ---- request log -----------------------------------------------------------------

  /** Every request so far, oldest first. */
  get requests(): readonly FakeRequest[] {
    return this.#log;
  }

  /** Requests per endpoint template (`GET /hosts`, `PATCH /tagging/host/{id}`, ...). */
  requestCounts(): Map<string, number> {
    const counts = new Map<string, number>();
    for (const r of this.#log) counts.set(r.endpoint, (counts.get(r.endpoint) ?? 0) + 1);
    return counts;
  }

  /** Empties the request log. */
  clearRequests(): void {
    this.#log = [];
  }

  // ---- inspection and analyst edits ------------------------------------------------

  /** The id of a host (by name), account (by name or uid) or detection (by id). */
  idOf(kind: FakeKind, ref: string | number): number {
    if (typeof ref === "number") {
      if (!this.#store.records(kind).has(ref)) {
        throw new RangeError(`Cannot find ${kind} ${ref}: the fake brain has no such id`);
      }
      return ref;
    }
    for (const rec of this.#store.records(kind).values()) {
      if ("name" in rec && rec.name === ref) return rec.id;
      if ("uid" in rec && rec.uid === ref) return rec.id;
    }
    throw new RangeError(`Cannot find ${kind} "${ref}": the fake brain has no such name`);
  }

  /** A host record. */
  host(ref: string | number): SeedHost {
    return this.#store.hosts.get(this.idOf("host", ref))!;
  }

  /** An account record. */
  account(ref: string | number): SeedAccount {
    return this.#store.accounts.get(this.idOf("account", ref))!;
  }

  /** A detection record. */
  detection(id: number): SeedDetection {
    return this.#store.detections.get(this.idOf("detection", id))!;
  }

  /** All records of a kind, ascending id. */
  all(kind: "host"): SeedHost[];
  all(kind: "account"): SeedAccount[];
  all(kind: "detection"): SeedDetection[];
  all(kind: FakeKind): (SeedHost | SeedAccount | SeedDetection)[] {
    return [...this.#store.records(kind).values()].sort((a, b) => a.id - b.id);
  }

  /** How a comma in a list filter value is read; settable while running. */
  get commaReading(): CommaReading {
    return this.#store.commaReading;
  }

  set commaReading(reading: CommaReading) {
    this.#store.commaReading = reading;
  }

  /** An object's current tags. */
  tags(kind: FakeKind, ref: string | number): string[] {
    return [...this.#store.records(kind).get(this.idOf(kind, ref))!.tags];
  }

  /** Replaces an object's tags, as an analyst would. */
  setTags(kind: FakeKind, ref: string | number, tags: readonly string[]): void {
    this.#store.setTags(kind, this.idOf(kind, ref), tags);
  }

  /** An object's notes, oldest first. */
  notes(kind: FakeKind, ref: string | number): FakeNote[] {
    return [...this.#store.notes(kind, this.idOf(kind, ref))];
  }

  /** Adds a note, as an analyst would. */
  addNote(kind: FakeKind, ref: string | number, text: string, author = "analyst"): FakeNote {
    return this.#store.addNote(kind, this.idOf(kind, ref), text, author)!;
  }

  /** Changes a host's or account's scores (and urgency). */
  setScores(
    kind: "host" | "account" | "detection",
    ref: string | number,
    scores: { threat?: number; certainty?: number; urgency?: number },
  ): void {
    const id = this.idOf(kind, ref);
    const rec = this.#store.records(kind).get(id)!;
    const next = { ...rec, ...scores };
    if (kind === "host") this.#store.putHost(next as SeedHost);
    else if (kind === "account") this.#store.putAccount(next as SeedAccount);
    else this.#store.putDetection(next as SeedDetection);
    this.#store.touch(kind, id);
  }

  /** Changes a host's or account's state. */
  setState(kind: "host" | "account", ref: string | number, state: "active" | "inactive"): void {
    const id = this.idOf(kind, ref);
    if (kind === "host") this.#store.putHost({ ...this.#store.hosts.get(id)!, state });
    else this.#store.putAccount({ ...this.#store.accounts.get(id)!, state });
  }

  /** Changes a detection's state and, optionally, its triage flag. */
  setDetectionState(
    id: number,
    state: "active" | "inactive" | "fixed",
    options: { isTriaged?: boolean } = {},
  ): void {
    const rec = this.detection(id);
    this.#store.putDetection({ ...rec, state, isTriaged: options.isTriaged ?? rec.isTriaged });
  }

  /** Adds a host; returns its id (default: the largest host id + 1). */
  addHost(options: HostSeedOptions): number {
    const id = options.id ?? this.#nextId(this.#store.hosts);
    this.#store.putHost(makeHost({ ...options, id }));
    return id;
  }

  /** Adds an account; returns its id. */
  addAccount(options: AccountSeedOptions): number {
    const id = options.id ?? this.#nextId(this.#store.accounts);
    this.#store.putAccount(makeAccount({ ...options, id }));
    return id;
  }

  /** Adds a detection (`src`/`srcAccount` name existing objects); returns its id. */
  addDetection(options: DetectionSeedOptions): number {
    const id = options.id ?? this.#nextId(this.#store.detections);
    const hostId = options.src === undefined ? null : this.idOf("host", options.src);
    const accountId = options.srcAccount === undefined
      ? null
      : this.idOf("account", options.srcAccount);
    const srcIp = options.srcIp === undefined
      ? hostId === null ? null : this.#store.hosts.get(hostId)!.ip
      : options.srcIp;
    this.#store.putDetection(makeDetection({ ...options, id, hostId, accountId, srcIp }));
    return id;
  }

  /** Adds a group; returns its id. */
  addGroup(options: GroupSeedOptions): number {
    const id = options.id ?? this.#nextId(this.#store.groups);
    const members = options.members ?? [];
    this.#store.putGroup({
      id,
      name: options.name,
      type: options.type,
      description: options.description ?? "",
      importance: options.importance ?? "medium",
      hostIds: options.type === "host" ? members.map((m) => this.idOf("host", m)) : [],
      values: options.type === "host"
        ? []
        : members.map((m) =>
          options.type === "account" && typeof m === "number"
            ? this.#store.accounts.get(this.idOf("account", m))!.uid
            : String(m)
        ),
    });
    return id;
  }

  /** Removes a host, account, detection or group. */
  remove(kind: FakeKind | "group", ref: string | number): void {
    const id = kind === "group" ? this.#groupId(ref, null) : this.idOf(kind, ref);
    this.#store.remove(kind, id);
  }

  /** A group record by id or by name and type. */
  group(ref: string | number, type: SeedGroup["type"] | null = null): SeedGroup {
    return this.#store.groups.get(this.#groupId(ref, type))!;
  }

  /** Adds a member (host name or id; account uid, name or id; IP; domain) to a group. */
  addGroupMember(group: string | number, type: SeedGroup["type"], member: string | number): void {
    const g = this.group(group, type);
    if (g.type === "host") {
      const id = this.idOf("host", member);
      if (!g.hostIds.includes(id)) this.#store.putGroup({ ...g, hostIds: [...g.hostIds, id] });
      return;
    }
    const value = g.type === "account" ? this.#uidOf(member) : String(member);
    if (!g.values.includes(value)) this.#store.putGroup({ ...g, values: [...g.values, value] });
  }

  /** Removes a member from a group. */
  removeGroupMember(
    group: string | number,
    type: SeedGroup["type"],
    member: string | number,
  ): void {
    const g = this.group(group, type);
    if (g.type === "host") {
      const id = this.idOf("host", member);
      this.#store.putGroup({ ...g, hostIds: g.hostIds.filter((h) => h !== id) });
      return;
    }
    const value = g.type === "account" ? this.#uidOf(member) : String(member);
    this.#store.putGroup({ ...g, values: g.values.filter((v) => v !== value) });
  }

  #uidOf(member: string | number): string {
    if (typeof member === "number") return this.account(member).uid;
    for (const a of this.#store.accounts.values()) if (a.name === member) return a.uid;
    return member;
  }

  #groupId(ref: string | number, type: SeedGroup["type"] | null): number {
    for (const g of this.#store.groups.values()) {
      if (
        typeof ref === "number"
          ? g.id === ref
          : g.name === ref && (type === null || g.type === type)
      ) {
        return g.id;
      }
    }
    throw new RangeError(`Cannot find group "${ref}": the fake brain has no such group`);
  }

  #nextId(map: Map<number, unknown>): number {
    let max = 0;
    for (const id of map.keys()) if (id > max) max = id;
    return max + 1;
  }

  // ---- request handling ------------------------------------------------------------

  async #handle(req: Request): Promise<Response> {
    const time = this.#now();
    const url = new URL(req.url);
    const method = req.method.toUpperCase();
    const route = this.#route(url.pathname);
    const entry = {
      method,
      path: url.pathname,
      route: route ?? url.pathname,
      endpoint: endpointTemplate(method, route ?? url.pathname),
      query: url.search.replace(/^\?/, ""),
      status: 0,
      time,
      grantType: null as string | null,
      bytes: 0,
    };
    this.#log.push(entry);
    const signals = [this.#closing.signal];
    if (url.pathname.length + url.search.length > (this.#options.maxUrlLength ?? 8192)) {
      entry.status = 414;
      return new Response(
        "<html>\r\n<head><title>414 Request-URI Too Large</title></head>\r\n<body>\r\n" +
          "<center><h1>414 Request-URI Too Large</h1></center>\r\n</body>\r\n</html>\r\n",
        { status: 414, headers: { "content-type": "text/html" } },
      );
    }
    if (this.#latencyMs > 0) await sleep(this.#latencyMs, signals);
    let response: Response;
    try {
      response = await this.#withFaults(req, url, method, route, entry, signals);
    } catch (error) {
      if (!(error instanceof QueryError)) throw error;
      response = json(error.body, error.status);
    }
    if (!this.#resets.has(response)) {
      entry.status = response.status;
      if (method === "GET" && response.body !== null) {
        entry.bytes = (await response.clone().arrayBuffer()).byteLength;
      }
    }
    return response;
  }

  #route(pathname: string): string | null {
    const path = pathname.length > 1 ? pathname.replace(/\/+$/, "") : pathname;
    if (path === this.#tokenPath) return "/oauth2/token";
    if (path === this.#base) return "/";
    if (path.startsWith(`${this.#base}/`)) return path.slice(this.#base.length);
    return null;
  }

  #matchFault(method: string, route: string | null, url: URL): ActiveFault | null {
    for (const active of this.#faults) {
      const { options } = active;
      if (options.method !== undefined && options.method.toUpperCase() !== method) continue;
      const path = route ?? url.pathname;
      if (options.path !== undefined) {
        const ok = typeof options.path === "string"
          ? path.startsWith(options.path)
          : options.path.test(path);
        if (!ok) continue;
      }
      if (options.query !== undefined) {
        const q = options.query;
        if (!Object.keys(q).every((k) => queryMatches(k, url.searchParams.get(k), q[k]))) {
          continue;
        }
      }
      active.hits++;
      active.remaining--;
      if (active.remaining <= 0) this.#faults = this.#faults.filter((f) => f !== active);
      return active;
    }
    return null;
  }

  async #withFaults(
    req: Request,
    url: URL,
    method: string,
    route: string | null,
    entry: { grantType: string | null },
    signals: AbortSignal[],
  ): Promise<Response> {
    const active = this.#matchFault(method, route, url);
    const fault = active?.fault;
    let foreignOrigin: string | null = null;
    let tagFailure: Extract<FakeFault, { kind: "tagFailure" }> | null = null;
    switch (fault?.kind) {
      case "status": {
        const headers: Record<string, string> = {};
        if (fault.retryAfter !== undefined) headers["retry-after"] = String(fault.retryAfter);
        return json(
          fault.body ?? { detail: `Injected fault ${fault.status}` },
          fault.status,
          headers,
        );
      }
      case "delay":
        await sleep(fault.ms, signals);
        break;
      case "hold":
        await new Promise<void>((resolve) => {
          const done = () => {
            this.#held.delete(done);
            resolve();
          };
          this.#held.add(done);
          for (const s of signals) s.addEventListener("abort", done, { once: true });
          if (signals.some((s) => s.aborted)) done();
        });
        break;
      case "reset": {
        const encoder = new TextEncoder();
        let sent = false;
        const body = new ReadableStream<Uint8Array>({
          pull(controller) {
            if (!sent) {
              sent = true;
              controller.enqueue(encoder.encode('{"count": 1, "results": ['));
            } else {
              controller.error(new Error("Injected connection reset"));
            }
          },
        });
        const response = new Response(body, { headers: { "content-type": "application/json" } });
        this.#resets.add(response);
        return response;
      }
      case "malformed":
        return new Response('{"count": 3, "next": null, "results": [{"id": 1, "name": ', {
          headers: { "content-type": "application/json" },
        });
      case "foreignNext":
        foreignOrigin = fault.origin ?? "https://attacker.example";
        break;
      case "mutate":
        fault.mutate(this);
        break;
      case "tagFailure":
        tagFailure = fault;
        break;
    }
    if (url.pathname.replace(/\/+$/, "") === this.#tokenPath) {
      return await this.#token(req, method, entry);
    }
    if (route === null) return notFound();
    const denied = this.#authenticate(req);
    if (denied !== null) return denied;
    return await this.#dispatch(req, url, method, route, { foreignOrigin, tagFailure });
  }

  // ---- auth ------------------------------------------------------------------------

  #authenticate(req: Request): Response | null {
    const header = req.headers.get("authorization") ?? "";
    const [scheme = "", value = ""] = header.split(/\s+/, 2);
    if (header === "") {
      return json({ detail: "Authentication credentials were not provided." }, 401, {
        "www-authenticate": this.apiVersion === "2.5" ? "Token" : "Bearer",
      });
    }
    if (scheme.toLowerCase() === "token" && this.credentials.token !== null) {
      return value === this.credentials.token ? null : json({ details: "Invalid token." }, 401);
    }
    if (scheme.toLowerCase() === "bearer") {
      const expiresAt = this.#access.get(value);
      if (expiresAt === undefined) return json({ detail: "Invalid token." }, 401);
      if (this.#now() >= expiresAt) return json({ detail: "Token has expired." }, 401);
      return null;
    }
    return json({ detail: "Invalid token header." }, 401);
  }

  async #token(
    req: Request,
    method: string,
    entry: { grantType: string | null },
  ): Promise<Response> {
    if (method !== "POST") return json({ detail: `Method "${method}" not allowed.` }, 405);
    const form = new URLSearchParams(await req.text());
    const grant = form.get("grant_type");
    entry.grantType = grant;
    if (grant === "client_credentials") {
      const header = req.headers.get("authorization") ?? "";
      const match = /^Basic\s+(.+)$/i.exec(header);
      let id = "";
      let secret = "";
      if (match?.[1] !== undefined) {
        try {
          const decoded = atob(match[1]);
          const colon = decoded.indexOf(":");
          id = decoded.slice(0, colon);
          secret = decoded.slice(colon + 1);
        } catch {
          return json({ error: "invalid_client" }, 401);
        }
      }
      if (id !== this.credentials.clientId || secret !== this.credentials.clientSecret) {
        return json({ error: "invalid_client" }, 401);
      }
      return json(this.#issue(this.apiVersion !== "2.5"));
    }
    if (grant === "refresh_token" && this.apiVersion !== "2.5") {
      const refresh = form.get("refresh_token") ?? "";
      const expiresAt = this.#refresh.get(refresh);
      if (expiresAt === undefined || this.#now() >= expiresAt) {
        return json(
          { error: "invalid_grant", detail: "Refresh token is invalid or expired." },
          401,
        );
      }
      return json(this.#issue(true));
    }
    return json({ error: "unsupported_grant_type" }, 400);
  }

  #issue(withRefresh: boolean): Json {
    const expiresIn = this.#options.expiresIn ?? 3600;
    const access = randomToken(this.#options.accessTokenLength ?? 1930);
    this.#access.set(access, this.#now() + expiresIn * 1000);
    const body: Json = { access_token: access, expires_in: expiresIn, token_type: "Bearer" };
    if (withRefresh) {
      const refreshIn = this.#options.refreshExpiresIn ?? 86400;
      const refresh = randomToken(this.#options.refreshTokenLength ?? 2460);
      this.#refresh.set(refresh, this.#now() + refreshIn * 1000);
      body.refresh_token = refresh;
      body.refresh_expires_in = refreshIn;
    }
    return body;
  }

  // ---- API -------------------------------------------------------------------------

  async #dispatch(
    req: Request,
    url: URL,
    method: string,
    route: string,
    extra: {
      foreignOrigin: string | null;
      tagFailure: Extract<FakeFault, { kind: "tagFailure" }> | null;
    },
  ): Promise<Response> {
    const ctx: RenderContext = {
      origin: url.origin,
      base: this.#base,
      version: this.apiVersion,
      store: this.#store,
    };
    const parts = route.split("/").slice(1);
    const [first = "", second, third, fourth, fifth] = parts;
    const kind = KIND_PATHS[first];
    const params = url.searchParams;

    if (first === "tagging" && parts.length === 2 && second !== undefined) {
      return await this.#bulkTagging(req, method, second, extra.tagFailure);
    }
    if (first === "tagging" && parts.length === 3 && second !== undefined && third !== undefined) {
      return await this.#tagging(req, method, second, third, extra.tagFailure);
    }
    if (kind !== undefined && fourth === "notes" && /^\d+$/.test(third ?? "")) {
      return notFound();
    }
    if (kind !== undefined && third === "notes" && second !== undefined && /^\d+$/.test(second)) {
      return await this.#notes(req, method, kind, Number(second), fourth, fifth);
    }
    if (kind === undefined && first !== "groups" && first !== "entities") return notFound();
    if (method !== "GET") {
      return json({ detail: `Method "${method}" not allowed.` }, 405);
    }
    if (kind !== undefined && parts.length === 1) {
      this.#check(`${first}` as ParamEndpoint, params);
      const ids = this.#store.listIds(kind, params);
      return this.#page(url, ids, extra.foreignOrigin, (id) => this.#render(ctx, kind, id));
    }
    if (kind !== undefined && parts.length === 2 && second !== undefined) {
      this.#check(kind as ParamEndpoint, params);
      if (!/^\d+$/.test(second)) return notFound();
      const object = this.#render(ctx, kind, Number(second));
      if (object === null) return notFound();
      return json(pickFields(object, listParam(params.get("fields")), null));
    }
    if (first === "groups" && parts.length === 1) {
      this.#check("groups", params);
      const include = this.apiVersion !== "3.4" || params.get("include_members") === "true";
      const groups = this.#store.listGroups(params);
      return this.#page(url, groups, extra.foreignOrigin, (g) => renderGroup(ctx, g, include));
    }
    if (first === "entities" && this.apiVersion !== "2.5") {
      if (parts.length === 1) {
        this.#check("entities", params);
        const refs = this.#store.listEntities(params);
        return this.#page(url, refs, extra.foreignOrigin, (ref) => {
          const rec = ref.type === "host"
            ? this.#store.hosts.get(ref.id)
            : this.#store.accounts.get(ref.id);
          return rec === undefined ? null : pickFields(
            renderEntity(ctx, ref.type, rec),
            listParam(params.get("fields")),
            listParam(params.get("exclude_fields")),
          );
        });
      }
      if (parts.length === 2 && second !== undefined && /^\d+$/.test(second)) {
        this.#check("entity", params);
        const type = params.get("type") ?? params.get("entity_type");
        if (type !== "host" && type !== "account") {
          return json({ detail: 'Query parameter "type" must be host or account.' }, 400);
        }
        const rec = type === "host"
          ? this.#store.hosts.get(Number(second))
          : this.#store.accounts.get(Number(second));
        if (rec === undefined) return notFound();
        return json(pickFields(
          renderEntity(ctx, type, rec),
          listParam(params.get("fields")),
          listParam(params.get("exclude_fields")),
        ));
      }
    }
    return notFound();
  }

  #check(endpoint: ParamEndpoint, params: URLSearchParams): void {
    const { invalid, unimplemented } = checkParams(this.apiVersion, endpoint, params.keys());
    if (invalid.length > 0) {
      throw new QueryError(400, {
        detail: `The following query parameter(s) are invalid: ${invalid.join(", ")}.`,
      });
    }
    if (unimplemented.length > 0) {
      throw new QueryError(501, {
        detail: `The fake brain does not implement the query parameter(s): ${
          unimplemented.join(", ")
        }`,
      });
    }
  }

  #render(ctx: RenderContext, kind: FakeKind, id: number): Json | null {
    if (kind === "host") {
      const rec = this.#store.hosts.get(id);
      return rec === undefined ? null : renderHost(ctx, rec);
    }
    if (kind === "account") {
      const rec = this.#store.accounts.get(id);
      return rec === undefined ? null : renderAccount(ctx, rec);
    }
    const rec = this.#store.detections.get(id);
    return rec === undefined ? null : renderDetection(ctx, rec);
  }

  #page<T>(
    url: URL,
    items: readonly T[],
    foreignOrigin: string | null,
    render: (item: T) => Json | null,
  ): Response {
    const params = url.searchParams;
    const maxSize = this.#options.maxPageSize ?? 5000;
    const sizeParam = Number(params.get("page_size") ?? "");
    const size = Number.isInteger(sizeParam) && sizeParam > 0
      ? Math.min(sizeParam, maxSize)
      : this.#options.defaultPageSize ?? 50;
    const pageParam = params.get("page") ?? "1";
    const page = /^\d+$/.test(pageParam) ? Number(pageParam) : NaN;
    if (!Number.isInteger(page) || page < 1) return json({ detail: "Invalid page." }, 404);
    const pages = Math.max(1, Math.ceil(items.length / size));
    if (page > pages) {
      return json({ detail: `Invalid page "${page}": That page contains no results.` }, 404);
    }
    const link = (target: number | null): string | null => {
      if (target === null) return null;
      const next = new URL(url.href);
      if (target === 1) next.searchParams.delete("page");
      else next.searchParams.set("page", String(target));
      const origin = foreignOrigin ?? url.origin;
      return `${origin}${next.pathname}${next.search}`;
    };
    const fields = listParam(params.get("fields"));
    const results: Json[] = [];
    for (const item of items.slice((page - 1) * size, page * size)) {
      const object = render(item);
      if (object !== null) {
        results.push(fields === null ? object : pickFields(object, fields, null));
      }
    }
    return json({
      count: items.length,
      next: link(page < pages ? page + 1 : null),
      previous: page > 1 ? link(page - 1) : null,
      results,
    });
  }

  /**
   * v2 only (404 on v3): `POST /tagging/<kind>` adds one tag to many objects, `DELETE`
   * removes it; body `{"objectIds": [int, ...], "tag": string}`. The answer's shape and the
   * handling of unknown ids are inferred: an unknown id fails the whole request (400,
   * `status: failure`, nothing changed); success is `{"status": "success", ...}`.
   */
  async #bulkTagging(
    req: Request,
    method: string,
    kindName: string,
    failure: Extract<FakeFault, { kind: "tagFailure" }> | null,
  ): Promise<Response> {
    if (this.apiVersion !== "2.5") return notFound();
    if (kindName !== "host" && kindName !== "account" && kindName !== "detection") {
      return notFound();
    }
    if (method !== "POST" && method !== "DELETE") {
      return json({ detail: `Method "${method}" not allowed.` }, 405);
    }
    let body: unknown;
    try {
      body = await req.json();
    } catch {
      return json({ status: "failure", message: "Request body is not valid JSON" }, 400);
    }
    const { objectIds, tag } = (typeof body === "object" && body !== null ? body : {}) as {
      objectIds?: unknown;
      tag?: unknown;
    };
    if (
      !Array.isArray(objectIds) || objectIds.length === 0 ||
      !objectIds.every((id) => Number.isSafeInteger(id) && id > 0) ||
      typeof tag !== "string" || tag.trim() === ""
    ) {
      return json({
        status: "failure",
        message: 'Body must be {"objectIds": [positive int, ...], "tag": non-empty string}',
      }, 400);
    }
    const records = this.#store.records(kindName);
    const ids = [...new Set(objectIds as number[])];
    const unknown = ids.filter((id) => !records.has(id));
    if (unknown.length > 0) {
      return json({
        status: "failure",
        message: `Unknown ${kindName} ids: ${unknown.join(", ")}`,
        invalid_ids: unknown,
      }, 400);
    }
    if (failure !== null) {
      return json({
        status: "failure",
        message: failure.message ?? "Invalid tags",
        invalid_tags: failure.invalidTags ?? [tag],
      }, failure.status ?? 200);
    }
    let changed = 0;
    for (const id of ids) {
      const rec = records.get(id);
      if (rec === undefined) continue;
      const has = rec.tags.includes(tag);
      if (method === "POST" && !has) {
        this.#store.setTags(kindName, id, [...rec.tags, tag]);
        changed++;
      } else if (method === "DELETE" && has) {
        this.#store.setTags(kindName, id, rec.tags.filter((t) => t !== tag));
        changed++;
      }
    }
    return json({ status: "success", message: `${changed} objects changed`, changed });
  }

  async #tagging(
    req: Request,
    method: string,
    kindName: string,
    idText: string,
    failure: Extract<FakeFault, { kind: "tagFailure" }> | null,
  ): Promise<Response> {
    if (kindName !== "host" && kindName !== "account" && kindName !== "detection") {
      return notFound();
    }
    if (!/^\d+$/.test(idText)) return notFound();
    const id = Number(idText);
    const rec = this.#store.records(kindName).get(id);
    if (rec === undefined) return notFound();
    if (method === "GET") {
      return json({ status: "success", tag_id: idText, tags: [...rec.tags] });
    }
    if (method !== "PATCH") return json({ detail: `Method "${method}" not allowed.` }, 405);
    let body: unknown;
    try {
      body = await req.json();
    } catch {
      return json({ status: "failure", message: "Request body is not valid JSON" }, 400);
    }
    const tags = (body as { tags?: unknown } | null)?.tags;
    if (!Array.isArray(tags) || !tags.every((t) => typeof t === "string")) {
      return json({ status: "failure", message: 'Body must be {"tags": [string, ...]}' }, 400);
    }
    if (failure !== null) {
      return json({
        status: "failure",
        message: failure.message ?? "Invalid tags",
        invalid_tags: failure.invalidTags ?? tags,
      }, failure.status ?? 200);
    }
    this.#store.setTags(kindName, id, tags);
    return json({ status: "success", tag_id: idText, tags: [...tags] });
  }

  async #notes(
    req: Request,
    method: string,
    kind: FakeKind,
    id: number,
    noteIdText: string | undefined,
    rest: string | undefined,
  ): Promise<Response> {
    if (rest !== undefined) return notFound();
    if (!this.#store.records(kind).has(id)) return notFound();
    const author = this.#options.noteAuthor ?? "api-client";
    const readNote = async (): Promise<string | Response> => {
      let body: unknown;
      try {
        body = await req.json();
      } catch {
        return json({ detail: "Request body is not valid JSON." }, 400);
      }
      const note = (body as { note?: unknown } | null)?.note;
      if (typeof note !== "string" || note === "") {
        return json({ note: ["This field is required."] }, 400);
      }
      return note;
    };
    if (noteIdText === undefined) {
      if (method === "GET") return json(this.#store.notes(kind, id).map(renderNote));
      if (method !== "POST") return json({ detail: `Method "${method}" not allowed.` }, 405);
      const text = await readNote();
      if (typeof text !== "string") return text;
      return json(renderNote(this.#store.addNote(kind, id, text, author)!), 201);
    }
    if (!/^\d+$/.test(noteIdText)) return notFound();
    const noteId = Number(noteIdText);
    const existing = this.#store.notes(kind, id).find((n) => n.id === noteId);
    if (existing === undefined) return notFound();
    if (method === "GET") return json(renderNote(existing));
    if (method === "DELETE") {
      this.#store.deleteNote(kind, id, noteId);
      return new Response(null, { status: 204 });
    }
    if (method === "PATCH") {
      const text = await readNote();
      if (typeof text !== "string") return text;
      return json(renderNote(this.#store.editNote(kind, id, noteId, text, author)!));
    }
    return json({ detail: `Method "${method}" not allowed.` }, 405);
  }
}

/** Starts a fake brain on 127.0.0.1 (a free port unless `port` is given). */
export function startFakeBrain(options: FakeBrainOptions = {}): Promise<FakeBrain> {
  const brain = new FakeBrain(options, (handler) => {
    const base = {
      hostname: "127.0.0.1",
      port: options.port ?? 0,
      onListen() {},
      onError() {
        return new Response(null, { status: 500 });
      },
    };
    if (options.cert !== undefined && options.key !== undefined) {
      return Deno.serve({ ...base, cert: options.cert, key: options.key }, handler);
    }
    return Deno.serve(base, handler);
  });
  return Promise.resolve(brain);
}
