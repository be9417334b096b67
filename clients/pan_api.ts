/**
 * The PAN-OS XML API as the PAN-OS client uses it: one endpoint per `PAN_URLS` entry with
 * its API key (stored, or generated once with `type=keygen`), and per device (URL, vsys,
 * Panorama target) the User-ID uid-messages that register and unregister tagged IPs and
 * the paged `show object registered-ip` that reads them back; every answer checked, every
 * failure explained without a secret. Private to `clients/pan.ts`.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import { XMLBuilder, XMLParser } from "fast-xml-parser";
import { HttpEndpoint, HttpError } from "../engine/http.ts";
import { parseIpOrNetwork } from "../engine/ip.ts";
import { secretValues } from "../engine/secrets.ts";
import type { ClientContext } from "./interface.ts";
import { errorText } from "../engine/error_text.ts";

const logger = getLogger(["var", "client", "pan"]);

/** Secret key of the API key under the `PAN_URLS` entry (the original's name). */
export const PAN_API_KEY_SECRET = "API_Key";
/** Secret key of the admin user name used to generate the API key once. */
export const PAN_USERNAME_SECRET = "username";
/** Secret key of the admin password used to generate the API key once. */
export const PAN_PASSWORD_SECRET = "password";

/** Entries asked for per page of `show object registered-ip` (PAN-OS 8.0+ paging). */
export const PAN_PAGE_SIZE = 500;

/** Upper bound of pages read per tag and device (500 × 2000 = one million entries). */
const MAX_PAGES = 2000;

/** One device every operation is applied to: a URL, and optionally a vsys and a Panorama target. */
export interface PanDeviceConfig {
  /** The `PAN_URLS` entry exactly as written: the secret service name. */
  readonly entry: string;
  /** Scheme, host and port: `https://fw1.example.com` (the `/api/` path is added). */
  readonly baseUrl: string;
  /** `vsys` parameter (`vsys2`), or null to use the device default (vsys1). */
  readonly vsys: string | null;
  /** Panorama `target` parameter (a managed firewall's serial number), or null. */
  readonly target: string | null;
  /** Verify the TLS certificate (`PAN_CHECK_SSL`). */
  readonly verifyTls: boolean;
  /** PEM file of a CA to trust (`PAN_CA_FILE`), or null. */
  readonly caFile: string | null;
}

const builder = new XMLBuilder({
  ignoreAttributes: false,
  attributeNamePrefix: "@_",
  suppressEmptyNode: true,
});

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: "@_",
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: true,
  isArray: (name) => ["entry", "member", "line"].includes(name),
});

export type XmlNode = Record<string, unknown>;

/** Builds the uid-message that registers or unregisters `ips` with `tag`. */
export function buildUidMessage(
  action: "register" | "unregister",
  ips: readonly string[],
  tag: string,
): string {
  return builder.build({
    "uid-message": {
      version: "1.0",
      type: "update",
      payload: {
        [action]: { entry: ips.map((ip) => ({ "@_ip": ip, tag: { member: [tag] } })) },
      },
    },
  }) as string;
}

/** Builds the op command that lists the IPs registered with `tag`, one page. */
export function buildRegisteredIpQuery(tag: string, startPoint: number, limit: number): string {
  return builder.build({
    show: {
      object: {
        "registered-ip": {
          limit: String(limit),
          "start-point": String(startPoint),
          tag: { entry: { "@_name": tag } },
        },
      },
    },
  }) as string;
}

/** A failure of one call to one device; the message names the device and holds no secret. */
export class PanCallError extends Error {
  readonly status: number | null;
  constructor(message: string, status: number | null, options?: ErrorOptions) {
    super(message, options);
    this.name = "PanCallError";
    this.status = status;
  }
}

/** The text of every `msg` / `line` under a response, joined and shortened. */
function messagesOf(node: unknown): string {
  const texts: string[] = [];
  const walk = (value: unknown, depth: number) => {
    if (depth > 8 || value === null || value === undefined) return;
    if (typeof value === "string") {
      if (value.trim() !== "") texts.push(value.trim());
      return;
    }
    if (Array.isArray(value)) {
      for (const item of value) walk(item, depth + 1);
      return;
    }
    if (typeof value === "object") {
      for (const [key, child] of Object.entries(value as XmlNode)) {
        if (key === "version") continue;
        if (key === "@_message" || !key.startsWith("@_")) walk(child, depth + 1);
      }
    }
  };
  walk(node, 0);
  const text = texts.join("; ").replace(/\s+/g, " ");
  return text.length > 300 ? `${text.slice(0, 300)}…` : text;
}

/** The outcome of one uid-message on one device, per IP. */
export interface UidResult {
  /** IPs whose pair was changed, or already in the wanted state. */
  readonly ok: Set<string>;
  /** IPs this call newly registered (register only): the ones a rollback may remove. */
  readonly added: Set<string>;
  /** IPs the device refused, with its message. */
  readonly failed: Map<string, string>;
}

/** One PAN-OS device (URL, vsys, target) with its shared endpoint and key. */
export class PanDevice {
  readonly config: PanDeviceConfig;
  /** Names the device in messages: `https://fw1 vsys2 target 0123`. */
  readonly label: string;
  #api: PanApi;

  constructor(config: PanDeviceConfig, api: PanApi) {
    this.config = config;
    this.#api = api;
    this.label = [
      config.entry,
      config.vsys ?? "",
      config.target ? `target ${config.target}` : "",
    ].filter((part) => part !== "").join(" ");
  }

  #scopeParams(): Record<string, string> {
    const params: Record<string, string> = {};
    if (this.config.vsys !== null) params.vsys = this.config.vsys;
    if (this.config.target !== null) params.target = this.config.target;
    return params;
  }

  /** Registers or unregisters `ips` with `tag`; per-IP outcome, or throws for the whole call. */
  async uid(action: "register" | "unregister", ips: readonly string[], tag: string) {
    const response = await this.#api.call(this.label, {
      type: "user-id",
      cmd: buildUidMessage(action, ips, tag),
      ...this.#scopeParams(),
    });
    const result: UidResult = { ok: new Set(), added: new Set(), failed: new Map() };
    const status = response["@_status"];
    if (status === "success") {
      for (const ip of ips) {
        result.ok.add(ip);
        if (action === "register") result.added.add(ip);
      }
      return result;
    }
    const entries = findEntryMessages(response);
    if (status !== "error" || entries.size === 0) {
      throw new PanCallError(
        `${this.label} answered ${describeStatus(status)}${detail(messagesOf(response))}`,
        200,
      );
    }
    const benign = action === "register"
      ? /already exists, ignore$/
      : /does not exist, ignore unreg$/;
    for (const ip of ips) {
      const messages = entries.get(ip);
      if (messages === undefined) {
        result.ok.add(ip);
        if (action === "register") result.added.add(ip);
      } else if (messages.every((message) => benign.test(message))) {
        result.ok.add(ip);
      } else {
        result.failed.set(ip, messages.filter((m) => !benign.test(m)).join("; "));
      }
    }
    for (const [ip, messages] of entries) {
      if (!ips.includes(ip)) {
        logger.warn("{device} reported on {ip}, which var did not send: {messages}", {
          device: this.label,
          ip,
          messages: messages.join("; "),
        });
      }
    }
    return result;
  }

  /** Every IP or network registered with `tag`, read page by page. */
  async registered(tag: string): Promise<Set<string>> {
    const found = new Set<string>();
    const seen = new Set<string>();
    let start = 1;
    for (let page = 0; page < MAX_PAGES; page++) {
      const response = await this.#api.call(this.label, {
        type: "op",
        cmd: buildRegisteredIpQuery(tag, start, PAN_PAGE_SIZE),
        ...this.#scopeParams(),
      });
      if (response["@_status"] !== "success") {
        throw new PanCallError(
          `${this.label} answered ${
            describeStatus(response["@_status"])
          } to show object registered-ip${detail(messagesOf(response))}`,
          200,
        );
      }
      const result = response.result;
      const node = typeof result === "object" && result !== null ? result as XmlNode : {};
      if (node.msg !== undefined && JSON.stringify(node.msg).includes("outfile")) {
        throw new PanCallError(
          `${this.label} answered with a log file instead of registered IPs; PAN-OS 8.0 or later is needed`,
          200,
        );
      }
      const entries = (node.entry as XmlNode[] | undefined) ?? [];
      let fresh = 0;
      for (const entry of entries) {
        const ip = entry["@_ip"];
        if (typeof ip !== "string") continue;
        const members = (((entry.tag as XmlNode | undefined)?.member as unknown[]) ?? []).map(
          (m) =>
            typeof m === "object" && m !== null ? String((m as XmlNode)["#text"] ?? "") : String(m),
        );
        if (!seen.has(ip)) fresh++;
        seen.add(ip);
        if (members.includes(tag)) found.add(canonical(ip));
      }
      // A device may cap the page below the limit asked for: read on until a page is empty
      // (or repeats itself, as a device that ignores start-point would).
      if (entries.length === 0 || fresh === 0) return found;
      start += entries.length;
    }
    throw new PanCallError(
      `${this.label} listed more than ${MAX_PAGES * PAN_PAGE_SIZE} registered IPs for tag "${tag}"`,
      null,
    );
  }
}

/** Per-IP messages in a uid-response (`<entry ip="…" message="…"/>`), wherever they sit. */
function findEntryMessages(response: XmlNode): Map<string, string[]> {
  const found = new Map<string, string[]>();
  const walk = (value: unknown, depth: number) => {
    if (depth > 12 || value === null || typeof value !== "object") return;
    if (Array.isArray(value)) {
      for (const item of value) walk(item, depth + 1);
      return;
    }
    const node = value as XmlNode;
    const ip = node["@_ip"];
    const message = node["@_message"];
    if (typeof ip === "string" && typeof message === "string") {
      const list = found.get(ip) ?? [];
      list.push(message);
      found.set(ip, list);
    }
    for (const [key, child] of Object.entries(node)) {
      if (!key.startsWith("@_")) walk(child, depth + 1);
    }
  };
  walk(response, 0);
  return found;
}

function describeStatus(status: unknown): string {
  return typeof status === "string" ? `status "${status}"` : "without a status";
}

function detail(text: string): string {
  return text === "" ? "" : `: ${text}`;
}

/** The canonical form of an IP or network read back from a device (as given when unreadable). */
function canonical(ip: string): string {
  const parsed = parseIpOrNetwork(ip);
  return parsed.ok ? parsed.value.entry : ip.trim();
}

/** One XML API endpoint (a `PAN_URLS` entry): the HTTP endpoint and the API key. */
export class PanApi {
  readonly entry: string;
  #endpoint: HttpEndpoint;
  #key: string | null;
  #credentials: { user: string; password: string } | null;
  #pending: Promise<string> | null = null;
  #context: ClientContext;

  constructor(
    device: PanDeviceConfig,
    secrets: { key: string | null; credentials: { user: string; password: string } | null },
    context: ClientContext,
  ) {
    this.entry = device.entry;
    this.#key = secrets.key;
    this.#credentials = secrets.credentials;
    this.#context = context;
    this.#endpoint = new HttpEndpoint({
      ...context.http,
      system: `pan ${device.entry}`,
      baseUrl: device.baseUrl,
      verifyTls: device.verifyTls,
      ...(device.caFile !== null ? { caFile: device.caFile } : {}),
    });
  }

  /** The API key: the stored one, or one generated once from the credentials. */
  async #apiKey(): Promise<string> {
    if (this.#key !== null) return this.#key;
    this.#pending ??= this.#keygen().finally(() => {
      this.#pending = null;
    });
    return await this.#pending;
  }

  async #keygen(): Promise<string> {
    const credentials = this.#credentials;
    if (credentials === null) {
      throw new PanCallError(`${this.entry} has no API key and no credentials`, null);
    }
    const response = await this.#post(this.entry, {
      type: "keygen",
      user: credentials.user,
      password: credentials.password,
    }, null);
    const result = response.result as XmlNode | undefined;
    const key = typeof result?.key === "string" ? result.key : "";
    if (response["@_status"] !== "success" || key === "") {
      throw new PanCallError(
        `${this.entry} refused to generate an API key for user "${credentials.user}"${
          detail(messagesOf(response))
        }`,
        200,
      );
    }
    this.#key = key;
    // A key var generated is a secret like one it looked up: no log line may show it.
    secretValues.add(key);
    if (this.#context.storeSecret) {
      try {
        await this.#context.storeSecret(this.entry, PAN_API_KEY_SECRET, key);
        logger.info("Generated and stored the API key of {entry}", { entry: this.entry });
      } catch (error) {
        logger.warn("Cannot store the generated API key of {entry}: {error}; kept in memory", {
          entry: this.entry,
          error: errorText(error),
        });
      }
    } else {
      logger.info(
        "Generated the API key of {entry}; kept in memory only (secret storage is off)",
        { entry: this.entry },
      );
    }
    return key;
  }

  /** Sends one authenticated XML API request and parses the answer. */
  async call(label: string, params: Record<string, string>): Promise<XmlNode> {
    let key: string;
    try {
      key = await this.#apiKey();
    } catch (error) {
      if (error instanceof PanCallError) throw error;
      throw new PanCallError(`${label}: ${safeMessage(error)}`, null, { cause: error });
    }
    return await this.#post(label, params, key);
  }

  async #post(label: string, params: Record<string, string>, key: string | null) {
    const headers: Record<string, string> = {
      "Content-Type": "application/x-www-form-urlencoded",
      Accept: "application/xml, text/xml",
    };
    if (key !== null) headers["X-PAN-KEY"] = key;
    let text: string;
    try {
      const response = await this.#endpoint.request("POST", "/api/", {
        body: new URLSearchParams(params).toString(),
        headers,
        retry: true,
        ...(this.#context.signal ? { signal: this.#context.signal } : {}),
      });
      text = response.text;
    } catch (error) {
      if (error instanceof HttpError && error.status === 403) {
        throw new PanCallError(
          key === null
            ? `${label} refused the credentials (403); check the secrets ${PAN_USERNAME_SECRET} and ${PAN_PASSWORD_SECRET} of service "${this.entry}"`
            : `${label} refused the API key (403); the admin's password may have changed or its role lacks XML API User-ID and operational rights: update the secret ${PAN_API_KEY_SECRET} of service "${this.entry}"`,
          403,
          { cause: error },
        );
      }
      const status = error instanceof HttpError ? error.status : null;
      throw new PanCallError(`${label}: ${transportDetail(error)}`, status, { cause: error });
    }
    let parsed: XmlNode;
    try {
      parsed = parser.parse(text) as XmlNode;
    } catch (cause) {
      throw new PanCallError(`${label} answered a body that is not XML`, 200, { cause });
    }
    const response = parsed.response;
    if (typeof response !== "object" || response === null) {
      throw new PanCallError(`${label} answered without a PAN-OS <response> element`, 200);
    }
    return response as XmlNode;
  }

  close(): void {
    this.#endpoint.close();
  }
}

/**
 * What went wrong in a transport error, without the `Cannot POST /api/ on pan <url>: ` prefix
 * (the device label says it). Transport errors never carry secrets.
 */
function transportDetail(error: unknown): string {
  const message = safeMessage(error);
  if (!(error instanceof HttpError)) return message;
  const prefix = `Cannot ${error.method} ${error.path} on ${error.system}: `;
  return message.startsWith(prefix) ? message.slice(prefix.length) : message;
}

/** An error's message, for errors that never carry secrets (transport and XML errors). */
export function safeMessage(error: unknown): string {
  return errorText(error);
}
