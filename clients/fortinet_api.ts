/**
 * The FortiOS CMDB REST API of one FortiGate or VDOM, as the FortiGate client uses it:
 * address objects (`firewall/address`, `address6`) and address groups (`addrgrp`,
 * `addrgrp6`) with their member sub-tables, every answer checked and every failure
 * explained (status, CLI error code and text). Private to `clients/fortinet.ts`.
 *
 * @module
 */

import { HttpEndpoint, HttpError } from "../engine/http.ts";
import type { HttpResponse } from "../engine/http_types.ts";
import { parseIpOrNetwork, prefixOfNetmask } from "../engine/ip.ts";
import type { Failure } from "./_fanout.ts";
import { isOwned } from "./_names.ts";
import type { Session } from "./_session.ts";
import type { ClientContext } from "./interface.ts";
import { errorText } from "../engine/error_text.ts";

/** Secret-store service of the FortiGate API tokens (key: the firewall's `FORTINET_IP` entry). */
export const FORTINET_SECRET_SERVICE = "Fortinet";

/** One FortiGate (or one VDOM of it) that every operation is applied to. */
export interface FortinetFirewall {
  /** The `FORTINET_IP` entry without scheme: host name or IP; the secret's key. */
  readonly host: string;
  /** `https`, or `http` when the entry was written `http://…` (labs and tests). */
  readonly scheme: "https" | "http";
  readonly port: number;
  readonly vdom: string;
  /** Verify the TLS certificate (`FORTINET_CHECK_SSL`). */
  readonly verifyTls: boolean;
  /** PEM file of a CA to trust (`FORTINET_CA_FILE`), or null. */
  readonly caFile: string | null;
  /** IPv4 group for hosts (`firewall/addrgrp`). */
  readonly internalGroup: string;
  /** IPv4 group for detection and static destinations. */
  readonly externalGroup: string;
  /** IPv6 group for hosts (`firewall/addrgrp6`). */
  readonly internalGroup6: string;
  /** IPv6 group for detection and static destinations. */
  readonly externalGroup6: string;
}

/** An address object as FortiOS returns it. */
export interface FortiObject {
  readonly name: string;
  readonly type?: string;
  readonly comment?: string;
  readonly subnet?: string;
  readonly "start-ip"?: string;
  readonly "end-ip"?: string;
  readonly ip6?: string;
}

/** True when the object carries var's comment. */
export function isVarObject(object: FortiObject): boolean {
  return isOwned(object.comment);
}

/** The address an object covers, normalised, or null when it is not an ipmask/ipprefix. */
export function addressOf(object: FortiObject): string | null {
  if (typeof object.ip6 === "string" && (object.type ?? "ipprefix") === "ipprefix") {
    const parsed = parseIpOrNetwork(object.ip6);
    return parsed.ok ? parsed.value.entry : null;
  }
  if (typeof object.subnet === "string" && (object.type ?? "ipmask") === "ipmask") {
    const [address = "", mask = ""] = object.subnet.trim().split(/\s+|\//);
    const prefix = mask.includes(".") ? prefixOfNetmask(mask) : Number(mask);
    if (prefix === null || !Number.isInteger(prefix)) return null;
    const parsed = parseIpOrNetwork(`${address}/${prefix}`);
    return parsed.ok ? parsed.value.entry : null;
  }
  return null;
}

/** The CMDB tables of one address family. */
export interface FamilyTables {
  readonly address: "address" | "address6";
  readonly group: "addrgrp" | "addrgrp6";
}

export const TABLES: Readonly<Record<4 | 6, FamilyTables>> = {
  4: { address: "address", group: "addrgrp" },
  6: { address: "address6", group: "addrgrp6" },
};

/** Explanations of FortiOS CLI return codes seen in error envelopes. */
const FORTIOS_CODES: Readonly<Record<number, string>> = {
  [-3]: "entry not found",
  [-5]: "an entry with this name already exists",
  [-23]: "the entry is still used by another object",
  [-56]: "a required attribute would be empty",
  [-651]: "invalid value",
};

/** A FortiOS answer that is not success: status, CLI error code and text. */
export class FortiOsError extends Error {
  readonly status: number | null;
  readonly code: number | null;

  constructor(message: string, status: number | null, code: number | null = null) {
    super(message);
    this.name = "FortiOsError";
    this.status = status;
    this.code = code;
  }
}

/** The FortiOS CMDB API of one firewall/VDOM. */
export class FortiGateApi {
  readonly firewall: FortinetFirewall;
  /** Names the firewall in messages: `10.0.0.1` or `10.0.0.1 VDOM dmz`. */
  readonly label: string;
  #endpoint: HttpEndpoint;
  #signal: AbortSignal | undefined;

  constructor(firewall: FortinetFirewall, session: Session, context: ClientContext) {
    this.firewall = firewall;
    this.label = firewall.vdom === "root"
      ? firewall.host
      : `${firewall.host} VDOM ${firewall.vdom}`;
    this.#signal = context.signal;
    const hostForUrl = firewall.host.includes(":") ? `[${firewall.host}]` : firewall.host;
    this.#endpoint = new HttpEndpoint({
      ...context.http,
      system: `fortinet ${this.label}`,
      baseUrl: `${firewall.scheme}://${hostForUrl}:${firewall.port}/api/v2/cmdb/firewall`,
      verifyTls: firewall.verifyTls,
      ...(firewall.caFile !== null ? { caFile: firewall.caFile } : {}),
      headers: () => session.headers(),
    });
  }

  close(): void {
    this.#endpoint.close();
  }

  /**
   * One CMDB call. Resolves with the envelope on success, with null on an accepted 404,
   * and throws a {@linkcode FortiOsError} that explains any other answer.
   */
  async #call(
    method: string,
    path: string,
    what: string,
    options: { json?: unknown; query?: Record<string, string>; notFoundIsNull?: boolean } = {},
  ): Promise<Record<string, unknown> | null> {
    let response: HttpResponse;
    try {
      response = await this.#endpoint.request(method, path, {
        query: { vdom: this.firewall.vdom, ...options.query },
        ...(options.json !== undefined ? { json: options.json } : {}),
        accept: [400, 401, 403, 404, 405, 424, 500],
        ...(this.#signal ? { signal: this.#signal } : {}),
      });
    } catch (error) {
      if (error instanceof HttpError) {
        throw new FortiOsError(`cannot ${what}: ${error.message}`, error.status);
      }
      const detail = errorText(error);
      throw new FortiOsError(`cannot ${what}: ${detail}`, null);
    }
    const status = response.status;
    let body: Record<string, unknown> | null = null;
    try {
      const parsed = response.json<unknown>();
      if (typeof parsed === "object" && parsed !== null && !Array.isArray(parsed)) {
        body = parsed as Record<string, unknown>;
      }
    } catch {
      body = null;
    }
    if (status === 404 && options.notFoundIsNull) return null;
    if (status >= 200 && status < 300 && body !== null && body.status !== "error") return body;
    throw new FortiOsError(`cannot ${what}: ${this.#explain(status, body)}`, status, codeOf(body));
  }

  #explain(status: number, body: Record<string, unknown> | null): string {
    switch (status) {
      case 401:
        return `FortiOS refused the API token (401); check the secret ${FORTINET_SECRET_SERVICE}/${this.firewall.host} and the trusted hosts of the REST API admin`;
      case 403:
        return "FortiOS answered 403; the admin profile of the API token needs read-write access to firewall addresses";
      case 424:
        return `FortiOS answered 424; VDOM "${this.firewall.vdom}" does not exist`;
    }
    if (body === null) return `FortiOS answered ${status} with a body that is not a JSON object`;
    const code = codeOf(body);
    const cli = typeof body.cli_error === "string" ? body.cli_error.replace(/\s+/g, " ") : "";
    const parts = [`FortiOS answered ${status}`];
    if (code !== null) parts.push(`error ${code} (${FORTIOS_CODES[code] ?? "unknown error"})`);
    if (cli !== "") parts.push(cli);
    if (status >= 200 && status < 300) parts.push(`status "${String(body.status)}"`);
    return parts.join(", ");
  }

  /** Member names of a group; throws when the group does not exist. */
  async groupMembers(tables: FamilyTables, group: string): Promise<Set<string>> {
    const kind = tables.group === "addrgrp6" ? "IPv6 address group" : "address group";
    const body = await this.#call(
      "GET",
      `/${tables.group}/${enc(group)}`,
      `read ${kind} "${group}"`,
      {
        notFoundIsNull: true,
      },
    );
    if (body === null) {
      throw new FortiOsError(
        `${kind} "${group}" does not exist in VDOM ${this.firewall.vdom}; create it (see the README) or fix the group key`,
        404,
      );
    }
    const results = Array.isArray(body.results) ? body.results : [];
    const first = results[0] as { member?: unknown } | undefined;
    if (!first || !Array.isArray(first.member)) {
      throw new FortiOsError(`cannot read ${kind} "${group}": the answer has no member list`, null);
    }
    const names = first.member.map((m) =>
      typeof m === "object" && m !== null && typeof (m as { name?: unknown }).name === "string"
        ? (m as { name: string }).name
        : ""
    );
    return new Set(names.filter((name) => name !== ""));
  }

  /** The address objects whose name starts with `prefix`, by name. */
  async objectsWithPrefix(tables: FamilyTables, prefix: string): Promise<Map<string, FortiObject>> {
    const body = await this.#call("GET", `/${tables.address}`, `list ${tables.address} objects`, {
      query: { filter: `name=@${prefix}` },
    });
    const results = Array.isArray(body?.results) ? body.results : [];
    const objects = new Map<string, FortiObject>();
    for (const item of results) {
      if (typeof item !== "object" || item === null) continue;
      const object = item as FortiObject;
      if (typeof object.name === "string" && object.name.startsWith(prefix)) {
        objects.set(object.name, object);
      }
    }
    return objects;
  }

  /** One address object, or null when it does not exist. */
  async getObject(tables: FamilyTables, name: string): Promise<FortiObject | null> {
    const body = await this.#call("GET", `/${tables.address}/${enc(name)}`, `read "${name}"`, {
      notFoundIsNull: true,
    });
    if (body === null) return null;
    const results = Array.isArray(body.results) ? body.results : [];
    const first = results[0];
    return typeof first === "object" && first !== null ? first as FortiObject : null;
  }

  /** Creates an address object; a duplicate name throws with code -5. */
  async createObject(tables: FamilyTables, object: Record<string, string>): Promise<void> {
    await this.#call("POST", `/${tables.address}`, `create address object "${object.name}"`, {
      json: object,
    });
  }

  /** Deletes an address object; already gone succeeds. */
  async deleteObject(tables: FamilyTables, name: string): Promise<void> {
    await this.#call("DELETE", `/${tables.address}/${enc(name)}`, `delete "${name}"`, {
      notFoundIsNull: true,
    });
  }

  /** True when `name` is a member of the group (member sub-table). */
  async isMember(tables: FamilyTables, group: string, name: string): Promise<boolean> {
    const body = await this.#call(
      "GET",
      `/${tables.group}/${enc(group)}/member/${enc(name)}`,
      `read member "${name}" of "${group}"`,
      { notFoundIsNull: true },
    );
    return body !== null;
  }

  /** Adds one member to a group without touching the others. */
  async addMember(tables: FamilyTables, group: string, name: string): Promise<void> {
    await this.#call(
      "POST",
      `/${tables.group}/${enc(group)}/member`,
      `add "${name}" to "${group}"`,
      {
        json: { name },
      },
    );
  }

  /** Removes one member from a group without touching the others; already gone succeeds. */
  async removeMember(tables: FamilyTables, group: string, name: string): Promise<void> {
    try {
      await this.#call(
        "DELETE",
        `/${tables.group}/${enc(group)}/member/${enc(name)}`,
        `remove "${name}" from "${group}"`,
        { notFoundIsNull: true },
      );
    } catch (error) {
      if (error instanceof FortiOsError && error.code === -56) {
        throw new FortiOsError(
          `${error.message}; FortiOS keeps at least one member in a group: add a placeholder member such as the address "none" to "${group}"`,
          error.status,
          error.code,
        );
      }
      throw error;
    }
  }
}

/** Percent-encodes one path segment (names may hold spaces, `:` and other characters). */
function enc(name: string): string {
  return encodeURIComponent(name);
}

/** The CLI error code of a FortiOS envelope, or null. */
function codeOf(body: Record<string, unknown> | null): number | null {
  return body !== null && typeof body.error === "number" ? body.error : null;
}

/** A firewall's error as a fan-out failure. */
export function failureOf(error: unknown): Failure {
  return error instanceof FortiOsError
    ? { message: error.message, status: error.status }
    : { message: describe(error), status: null };
}

export function describe(error: unknown): string {
  return errorText(error);
}
