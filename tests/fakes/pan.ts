/**
 * A stateful fake of the PAN-OS XML API (vendors/pan.md, "Test double"), as a firewall or
 * a Panorama answers it on `/api/`:
 *
 * - `type=keygen` with `user` and `password` (query or form body) answers the API key, or
 *   HTTP 403 `status="error"` for wrong credentials;
 * - every other type needs the key (`X-PAN-KEY` header or `key` parameter): a wrong or
 *   missing key is HTTP 403 with `<response status = 'error' code = '403'>`, written the way
 *   PAN-OS writes it (single quotes, spaces around `=`);
 * - `type=user-id` parses the `cmd` uid-message and registers or unregisters IP-to-tag
 *   mappings per scope (vsys, and Panorama target serial); a pair already registered or
 *   not registered is reported per entry inside a `status="error"` body with HTTP 200
 *   (`tag T already exists, ignore`, `ip X does not exist, ignore unreg`), as PAN-OS does;
 * - `type=op` answers `show object registered-ip` (tag filter, `limit`, `start-point`
 *   paging) and refuses any other command (code 17);
 * - malformed XML in `cmd` is refused (code 18), so that missing escaping is caught.
 *
 * Fault knobs: {@linkcode FakePan.failNext}, {@linkcode FakePan.failAlways},
 * {@linkcode FakePan.xmlErrorNext} (HTTP 200 with `status="error"`),
 * {@linkcode FakePan.beforeNext} (an administrator acting between two calls), and
 * {@linkcode FakePanServer.down} / {@linkcode FakePanServer.up}.
 *
 * @module
 */

import { XMLBuilder, XMLParser, XMLValidator } from "fast-xml-parser";
import { FakeDevice } from "./_device.ts";
import { type FakeServer, serveFake } from "./_serve.ts";

/** One request as the fake received it. */
export interface PanRecordedRequest {
  readonly method: string;
  /** Path and query exactly as sent. */
  readonly url: string;
  /** The request type (`keygen`, `user-id`, `op`, …), from query or body. */
  readonly type: string;
  /** The `X-PAN-KEY` header, or null. */
  readonly keyHeader: string | null;
  /** The raw request body. */
  readonly body: string;
  /** Every parameter, query and body merged. */
  readonly params: Readonly<Record<string, string>>;
}

/** Options for {@linkcode FakePan}. */
export interface FakePanOptions {
  /** The API key the device accepts (and answers to a good keygen). */
  apiKey: string;
  /**
   * Admin credentials accepted by keygen.
   * @default {{ user: "var-api", password: "s3cret" }}
   */
  credentials?: { user: string; password: string };
  /**
   * Virtual systems that exist.
   * @default {["vsys1"]}
   */
  vsys?: readonly string[];
  /**
   * Serial numbers of managed firewalls (Panorama); a `target` naming another is refused.
   * @default {[]}
   */
  targets?: readonly string[];
  /**
   * Accept IPv4 networks in `entry ip=` (PAN-OS 10.0 and later).
   * @default {true}
   */
  supportsNetworks?: boolean;
  /**
   * Entries per page of `show object registered-ip` when no `limit` is sent, and the largest
   * `limit` honoured.
   * @default {500}
   */
  maxPage?: number;
}

/** Where a registration lives: a vsys, on the device itself or on a Panorama target. */
export interface PanScope {
  vsys?: string;
  target?: string;
}

const SUCCESS = "success";
const ERROR = "error";

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: "@_",
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: true,
  isArray: (name) => ["entry", "member", "register", "unregister"].includes(name),
});

const builder = new XMLBuilder({
  ignoreAttributes: false,
  attributeNamePrefix: "@_",
  suppressEmptyNode: true,
});

type XmlNode = Record<string, unknown>;

function xmlResponse(status: number, body: string): Response {
  return new Response(body, {
    status,
    headers: { "Content-Type": "application/xml; charset=UTF-8" },
  });
}

/** The body PAN-OS answers for a refused key or bad credentials (its own quoting). */
function forbidden(message: string): Response {
  return xmlResponse(
    403,
    `<response status = 'error' code = '403'><result><msg>${message}</msg></result></response>`,
  );
}

function errorLine(code: number, line: string, httpStatus = 200): Response {
  return xmlResponse(
    httpStatus,
    builder.build({
      response: { "@_status": ERROR, "@_code": String(code), msg: { line } },
    }) as string,
  );
}

/** True when `text` is a single IPv4 address in dotted-quad form. */
function isIpv4(text: string): boolean {
  const parts = text.split(".");
  return parts.length === 4 &&
    parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255 && !(p.length > 1 && p[0] === "0"));
}

/** True when `text` looks like an IPv6 address (hex groups, one `::` at most). */
function isIpv6(text: string): boolean {
  if (!/^[0-9a-fA-F:]+$/.test(text) || !text.includes(":")) return false;
  if (text.split("::").length > 2) return false;
  const groups = text.split(":").filter((g) => g !== "");
  return groups.length <= 8 && groups.every((g) => g.length <= 4);
}

/** The fake PAN-OS device: registrations per scope, a request handler, admin helpers, faults. */
export class FakePan extends FakeDevice<PanRecordedRequest> {
  #apiKey: string;
  #credentials: { user: string; password: string };
  #vsys: Set<string>;
  #targets: Set<string>;
  #supportsNetworks: boolean;
  #maxPage: number;
  /** Scope key (`target/vsys`) → IP → tags, in registration order. */
  #state = new Map<string, Map<string, Set<string>>>();
  #xmlErrors: string[] = [];

  constructor(options: FakePanOptions) {
    super();
    this.#apiKey = options.apiKey;
    this.#credentials = options.credentials ?? { user: "var-api", password: "s3cret" };
    this.#vsys = new Set(options.vsys ?? ["vsys1"]);
    this.#targets = new Set(options.targets ?? []);
    this.#supportsNetworks = options.supportsNetworks ?? true;
    this.#maxPage = options.maxPage ?? 500;
  }

  /** The next request answers HTTP 200 with `<response status="error">` and `message`. */
  xmlErrorNext(message: string): void {
    this.#xmlErrors.push(message);
  }

  /** Registers `ip` with `tags` behind the client's back (another system, or an admin). */
  register(ip: string, tags: readonly string[], scope: PanScope = {}): void {
    const map = this.#scope(scope);
    const set = map.get(ip) ?? new Set<string>();
    for (const tag of tags) set.add(tag);
    map.set(ip, set);
  }

  /** Removes `tag` from `ip` behind the client's back. */
  unregister(ip: string, tag: string, scope: PanScope = {}): void {
    const map = this.#scope(scope);
    const set = map.get(ip);
    if (!set) return;
    set.delete(tag);
    if (set.size === 0) map.delete(ip);
  }

  /** The IPs registered with `tag` in a scope (default: the device's vsys1). */
  tagged(tag: string, scope: PanScope = {}): Set<string> {
    const result = new Set<string>();
    for (const [ip, tags] of this.#scope(scope)) if (tags.has(tag)) result.add(ip);
    return result;
  }

  /** The IPs registered with `tag` in any scope. */
  taggedAnywhere(tag: string): Set<string> {
    const result = new Set<string>();
    for (const map of this.#state.values()) {
      for (const [ip, tags] of map) if (tags.has(tag)) result.add(ip);
    }
    return result;
  }

  /** A copy of every registration of a scope: IP → sorted tags. */
  registrations(scope: PanScope = {}): Map<string, string[]> {
    return new Map([...this.#scope(scope)].map(([ip, tags]) => [ip, [...tags].sort()]));
  }

  /** Removes every registration of `tag` in every scope (an administrator cleared it). */
  clearTag(tag: string): void {
    for (const map of this.#state.values()) {
      for (const [ip, tags] of map) {
        tags.delete(tag);
        if (tags.size === 0) map.delete(ip);
      }
    }
  }

  #scope(scope: PanScope): Map<string, Set<string>> {
    const key = `${scope.target ?? ""}/${scope.vsys ?? "vsys1"}`;
    let map = this.#state.get(key);
    if (!map) {
      map = new Map();
      this.#state.set(key, map);
    }
    return map;
  }

  /** Handles one request. */
  async handle(request: Request): Promise<Response> {
    const url = new URL(request.url);
    const body = request.method === "POST" ? await request.text() : "";
    const params: Record<string, string> = {};
    for (const [k, v] of url.searchParams) params[k] = v;
    const contentType = request.headers.get("content-type") ?? "";
    if (body !== "" && contentType.startsWith("application/x-www-form-urlencoded")) {
      for (const [k, v] of new URLSearchParams(body)) params[k] = v;
    }
    const type = params.type ?? "";
    const recorded: PanRecordedRequest = {
      method: request.method,
      url: `${url.pathname}${url.search}`,
      type,
      keyHeader: request.headers.get("x-pan-key"),
      body,
      params,
    };
    this.record(recorded);
    const failure = await this.interpose(recorded);
    if (failure !== null) {
      return xmlResponse(failure, `<html><body>Error ${failure}</body></html>`);
    }
    const xmlError = this.#xmlErrors.shift();
    if (xmlError !== undefined) return errorLine(1, xmlError);
    if (url.pathname !== "/api/" && url.pathname !== "/api") {
      return new Response("Not Found", { status: 404 });
    }
    if (request.method !== "POST" && request.method !== "GET") {
      return new Response("Method Not Allowed", { status: 405 });
    }
    if (type === "keygen") return this.#keygen(params);
    const key = request.headers.get("x-pan-key") ?? params.key;
    if (key !== this.#apiKey) return forbidden("Invalid Credential");
    const scope = this.#scopeOf(params);
    if (typeof scope === "string") return errorLine(400, scope, 400);
    switch (type) {
      case "user-id":
        return this.#userId(params.cmd, scope);
      case "op":
        return this.#op(params.cmd, scope);
      case "":
        return errorLine(400, "Missing parameter: type", 400);
      default:
        return errorLine(400, `Illegal value for parameter "type" [${type}].`, 400);
    }
  }

  #keygen(params: Record<string, string>): Response {
    const { user, password } = params;
    if (user !== this.#credentials.user || password !== this.#credentials.password) {
      return forbidden("Invalid credentials.");
    }
    return xmlResponse(
      200,
      builder.build({ response: { "@_status": SUCCESS, result: { key: this.#apiKey } } }) as string,
    );
  }

  #scopeOf(params: Record<string, string>): PanScope | string {
    const scope: PanScope = {};
    if (params.vsys !== undefined) {
      if (!this.#vsys.has(params.vsys)) return `vsys "${params.vsys}" does not exist`;
      scope.vsys = params.vsys;
    }
    if (params.target !== undefined) {
      if (!this.#targets.has(params.target)) {
        return `Target device "${params.target}" is not connected or not managed`;
      }
      scope.target = params.target;
    }
    return scope;
  }

  #parseCmd(cmd: string | undefined): XmlNode | Response {
    if (cmd === undefined || cmd === "") return errorLine(400, "Missing parameter: cmd", 400);
    if (XMLValidator.validate(cmd) !== true) return errorLine(18, "Malformed Request");
    return parser.parse(cmd) as XmlNode;
  }

  #userId(cmd: string | undefined, scope: PanScope): Response {
    const parsed = this.#parseCmd(cmd);
    if (parsed instanceof Response) return parsed;
    const message = parsed["uid-message"] as XmlNode | undefined;
    const payload = message?.payload as XmlNode | undefined;
    if (!message || message.type !== "update" || !payload || typeof payload !== "object") {
      return errorLine(17, "Invalid uid-message: expected type update and a payload");
    }
    for (const key of Object.keys(payload)) {
      if (key !== "register" && key !== "unregister") {
        return errorLine(17, `Unsupported payload element "${key}"`);
      }
    }
    const map = this.#scope(scope);
    const problems: { action: string; ip: string; message: string }[] = [];
    for (const action of ["register", "unregister"] as const) {
      for (const block of (payload[action] as XmlNode[] | undefined) ?? []) {
        const entries = typeof block === "object" && block !== null
          ? (block.entry as XmlNode[] | undefined) ?? []
          : [];
        for (const entry of entries) {
          const ip = String(entry["@_ip"] ?? "");
          const tagNode = entry.tag as XmlNode | undefined;
          const members = ((tagNode?.member as unknown[] | undefined) ?? []).map((m) =>
            typeof m === "object" && m !== null ? String((m as XmlNode)["#text"] ?? "") : String(m)
          );
          const invalid = this.#invalidIp(ip);
          if (invalid !== null) {
            problems.push({ action, ip, message: invalid });
            continue;
          }
          if (members.length === 0 || members.some((m) => m === "")) {
            problems.push({ action, ip, message: `entry ${ip} has no tag` });
            continue;
          }
          for (const tag of members) {
            const tags = map.get(ip);
            if (action === "register") {
              if (tags?.has(tag)) {
                problems.push({ action, ip, message: `tag ${tag} already exists, ignore` });
                continue;
              }
              const set = tags ?? new Set<string>();
              set.add(tag);
              map.set(ip, set);
            } else if (!tags) {
              problems.push({ action, ip, message: `ip ${ip} does not exist, ignore unreg` });
            } else if (!tags.has(tag)) {
              problems.push({ action, ip, message: `tag ${tag} does not exist, ignore unreg` });
            } else {
              tags.delete(tag);
              if (tags.size === 0) map.delete(ip);
            }
          }
        }
      }
    }
    if (problems.length === 0) {
      return xmlResponse(
        200,
        builder.build({
          response: {
            "@_status": SUCCESS,
            result: { "uid-response": { version: "2.0", payload: "" } },
          },
        }) as string,
      );
    }
    const byAction: Record<string, XmlNode[]> = {};
    for (const problem of problems) {
      (byAction[problem.action] ??= []).push({
        "@_ip": problem.ip,
        "@_message": problem.message,
      });
    }
    const payloadOut: XmlNode = {};
    for (const [action, entries] of Object.entries(byAction)) {
      payloadOut[action] = { entry: entries };
    }
    return xmlResponse(
      200,
      builder.build({
        response: {
          "@_status": ERROR,
          msg: { line: { "uid-response": { version: "2.0", payload: payloadOut } } },
        },
      }) as string,
    );
  }

  /** Why `ip` cannot be registered, or null when it can. */
  #invalidIp(ip: string): string | null {
    if (isIpv4(ip) || isIpv6(ip)) return null;
    const [address = "", prefix = "", ...rest] = ip.split("/");
    if (rest.length === 0 && /^\d{1,2}$/.test(prefix) && Number(prefix) <= 32 && isIpv4(address)) {
      return this.#supportsNetworks ? null : `Failed to register: invalid IP address ${ip}`;
    }
    return `Failed to register: invalid IP address ${ip}`;
  }

  #op(cmd: string | undefined, scope: PanScope): Response {
    const parsed = this.#parseCmd(cmd);
    if (parsed instanceof Response) return parsed;
    const show = parsed.show as XmlNode | undefined;
    const object = show?.object as XmlNode | undefined;
    const registered = object?.["registered-ip"] as XmlNode | string | undefined;
    if (!show || !object || registered === undefined) {
      return errorLine(17, "Invalid command: only show object registered-ip is known here");
    }
    const node: XmlNode = typeof registered === "object" ? registered : {};
    const tagEntries = ((node.tag as XmlNode | undefined)?.entry as XmlNode[] | undefined) ?? [];
    const tagFilter = tagEntries.map((e) => String(e["@_name"] ?? ""));
    const limitText = node.limit === undefined ? null : String(node.limit);
    const startText = node["start-point"] === undefined ? "1" : String(node["start-point"]);
    if (
      (limitText !== null && !/^\d+$/.test(limitText)) || !/^\d+$/.test(startText) ||
      Number(startText) < 1
    ) {
      return errorLine(17, "Invalid limit or start-point");
    }
    const limit = Math.min(limitText === null ? this.#maxPage : Number(limitText), this.#maxPage);
    const matching = [...this.#scope(scope)].filter(([, tags]) =>
      tagFilter.length === 0 || tagFilter.some((t) => tags.has(t))
    );
    const page = matching.slice(Number(startText) - 1, Number(startText) - 1 + limit);
    return xmlResponse(
      200,
      builder.build({
        response: {
          "@_status": SUCCESS,
          result: {
            entry: page.map(([ip, tags]) => ({
              "@_ip": ip,
              "@_from_agent": "0",
              "@_persistent": "1",
              tag: { member: [...tags] },
            })),
            count: String(page.length),
          },
        },
      }) as string,
    );
  }
}

/** A fake PAN-OS device listening on 127.0.0.1; its `url` is a `PAN_URLS` entry. */
export type FakePanServer = FakeServer<FakePan>;

/** Options for {@linkcode startFakePan}. */
export interface StartFakePanOptions extends FakePanOptions {
  /** Serve HTTPS with this certificate and key (PEM). */
  tls?: { cert: string; key: string };
}

/** Starts a fake PAN-OS device on 127.0.0.1, port 0. */
export function startFakePan(options: StartFakePanOptions): FakePanServer {
  return serveFake(new FakePan(options), options.tls);
}
