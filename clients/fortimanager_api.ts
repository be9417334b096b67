/**
 * The FortiManager JSON-RPC API as the FortiManager client uses it
 * (vendors/fortimanager.md): `POST <url>/jsonrpc`, login and logout, the ADOM workspace
 * lock and commit, IPv4 address objects and address-group membership, the policy package
 * install with its task polled to a deadline, and the package status. Every answer's
 * status code is checked and every failure explained. Private to `clients/fortimanager.ts`.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import { HttpEndpoint, HttpError } from "../engine/http.ts";
import { parseIpOrNetwork, prefixOfNetmask } from "../engine/ip.ts";
import { type Failure, KeyLocks } from "./_fanout.ts";
import { pollTask, type TaskTiming } from "./_tasks.ts";
import type { ClientContext } from "./interface.ts";
import { errorText } from "../engine/error_text.ts";

const logger = getLogger(["var", "client", "fortimanager"]);

/** One FortiManager as configured. */
export interface FmgServer {
  /** The `FORTIMANAGER_URLS` entry as written: the secret's service name. */
  readonly entry: string;
  /** Scheme, host and port. */
  readonly baseUrl: string;
  readonly verifyTls: boolean;
  readonly caFile: string | null;
}

/** A device and VDOM the policy package is installed on. */
export interface FmgScope {
  readonly name: string;
  readonly vdom: string;
}

/** An address object as FortiManager returns it. */
export interface FmgObject {
  readonly name: string;
  readonly comment: string;
  /** The address or network it covers, canonical (`10.1.2.3`, `198.51.100.0/24`), or null. */
  readonly entry: string | null;
}

/** An address family: its object and group tables. */
export type Family = 4 | 6;

const TABLES: Readonly<Record<Family, { address: string; group: string }>> = {
  4: { address: "address", group: "addrgrp" },
  6: { address: "address6", group: "addrgrp6" },
};

/** A FortiManager answer that is not success: its status code, or the HTTP status. */
export class FmgError extends Error {
  readonly code: number | null;
  readonly status: number | null;

  constructor(message: string, code: number | null, status: number | null = null) {
    super(message);
    this.name = "FmgError";
    this.code = code;
    this.status = status;
  }
}

/** Explanations of the status codes var meets. */
const CODES: Readonly<Record<number, string>> = {
  [-2]: "the object already exists",
  [-3]: "the object does not exist",
  [-10]: "the object is still used",
  [-11]: "no permission, or the session ended",
  [-22]: "login failed",
  [-20055]: "the ADOM's workspace is locked by another administrator: unlock it, or wait",
};

/** The JSON-RPC API of one FortiManager. */
export class FmgApi {
  readonly label: string;
  readonly #endpoint: HttpEndpoint;
  readonly #server: FmgServer;
  readonly #tasks: TaskTiming;
  readonly #signal: AbortSignal | undefined;
  #id = 1;
  /** False once the member sub-URL was seen not to append or remove one member. */
  #memberSubUrl = true;
  /** One member change at a time per group. */
  readonly #groupLocks = new KeyLocks();

  constructor(server: FmgServer, tasks: TaskTiming, context: ClientContext) {
    this.#server = server;
    this.label = new URL(server.baseUrl).host;
    this.#tasks = tasks;
    this.#signal = context.signal;
    this.#endpoint = new HttpEndpoint({
      ...context.http,
      system: `fortimanager ${this.label}`,
      baseUrl: server.baseUrl,
      verifyTls: server.verifyTls,
      ...(server.caFile !== null ? { caFile: server.caFile } : {}),
    });
  }

  close(): void {
    this.#endpoint.close();
  }

  /** One call; resolves with the answer (result data, top-level session) or throws. */
  async #call(
    method: string,
    url: string,
    what: string,
    options: { session?: string; data?: unknown; extra?: Record<string, unknown> } = {},
  ): Promise<{ data: unknown; session: unknown }> {
    const body = {
      id: this.#id++,
      method,
      params: [{
        url,
        ...(options.data === undefined ? {} : { data: options.data }),
        ...options.extra,
      }],
      ...(options.session === undefined ? {} : { session: options.session }),
    };
    let answer: Record<string, unknown>;
    try {
      const response = await this.#endpoint.request("POST", "/jsonrpc", {
        json: body,
        retry: method === "get",
        ...(this.#signal ? { signal: this.#signal } : {}),
      });
      answer = response.json<Record<string, unknown>>();
    } catch (error) {
      const detail = errorText(error);
      throw new FmgError(
        `cannot ${what}: ${detail}`,
        null,
        error instanceof HttpError ? error.status : null,
      );
    }
    const result = Array.isArray(answer?.result)
      ? answer.result[0] as Record<string, unknown>
      : undefined;
    const status = result?.status as { code?: unknown; message?: unknown } | undefined;
    const code = typeof status?.code === "number" ? status.code : null;
    if (code === 0) return { data: result?.data, session: answer.session };
    const said = code === null
      ? "FortiManager answered without a status code"
      : `FortiManager answered code ${code} (${CODES[code] ?? "unknown error"}): ${
        String(status?.message ?? "")
      }`;
    const hint = code === -22 || (code === -11 && url === "/sys/login/user")
      ? `; check FORTIMANAGER_FMG_USER and the secret ${this.#server.entry}/password`
      : "";
    throw new FmgError(`cannot ${what}: ${said}${hint}`, code, 200);
  }

  /** Logs in; the session id. */
  async login(user: string, password: string): Promise<string> {
    const { session } = await this.#call("exec", "/sys/login/user", `log in to ${this.label}`, {
      data: { user, passwd: password },
    });
    if (typeof session !== "string" || session === "") {
      throw new FmgError(`cannot log in to ${this.label}: the answer has no session`, null);
    }
    return session;
  }

  async logout(session: string): Promise<void> {
    await this.#call("exec", "/sys/logout", "log out", { session });
  }

  /**
   * True when the FortiManager runs in workspace mode (writes need the ADOM lock); false,
   * with a warning, when the setting cannot be read (a write then fails and says why).
   */
  async workspaceMode(session: string): Promise<boolean> {
    try {
      const { data } = await this.#call(
        "get",
        "/cli/global/system/global",
        "read the workspace mode",
        {
          session,
          extra: { fields: ["workspace-mode"] },
        },
      );
      const mode = String((data as Record<string, unknown> | undefined)?.["workspace-mode"]);
      if (["1", "2", "normal", "workflow"].includes(mode)) return true;
      if (["0", "disabled"].includes(mode)) return false;
      throw new Error(`workspace-mode is "${mode}"`);
    } catch (error) {
      logger.warn(
        "Cannot read the workspace mode of {server}; working without the ADOM lock: {error}",
        {
          server: this.label,
          error: errorText(error),
        },
      );
      return false;
    }
  }

  /** `lock`, `commit` or `unlock` the ADOM's workspace. */
  async workspace(
    session: string,
    adom: string,
    action: "lock" | "commit" | "unlock",
  ): Promise<void> {
    await this.#call(
      "exec",
      `/dvmdb/adom/${enc(adom)}/workspace/${action}`,
      `${action} ADOM ${adom}`,
      {
        session,
      },
    );
  }

  /** One address object, or null when none has that name. */
  async address(
    session: string,
    adom: string,
    family: Family,
    name: string,
  ): Promise<FmgObject | null> {
    try {
      const { data } = await this.#call(
        "get",
        `${objects(adom)}/${TABLES[family].address}/${enc(name)}`,
        `read address "${name}"`,
        {
          session,
        },
      );
      const o = (data ?? {}) as Record<string, unknown>;
      const [address = "", mask = ""] = Array.isArray(o.subnet)
        ? o.subnet.map(String)
        : String(o.subnet ?? "").split(/\s+/);
      const prefix = prefixOfNetmask(mask);
      const parsed = parseIpOrNetwork(
        family === 6 ? String(o.ip6 ?? "") : prefix === null ? "" : `${address}/${prefix}`,
      );
      return {
        name,
        comment: typeof o.comment === "string" ? o.comment : "",
        entry: parsed.ok ? parsed.value.entry : null,
      };
    } catch (error) {
      if (error instanceof FmgError && error.code === -3) return null;
      throw error;
    }
  }

  async addAddress(
    session: string,
    adom: string,
    family: Family,
    object: Record<string, unknown>,
  ): Promise<void> {
    const url = `${objects(adom)}/${TABLES[family].address}`;
    await this.#call("add", url, `create address "${String(object.name)}"`, {
      session,
      data: [object],
    });
  }

  async deleteAddress(session: string, adom: string, family: Family, name: string): Promise<void> {
    await this.#call(
      "delete",
      `${objects(adom)}/${TABLES[family].address}/${enc(name)}`,
      `delete address "${name}"`,
      { session },
    );
  }

  /** The member names of a group; throws naming the group when it does not exist. */
  async members(session: string, adom: string, family: Family, group: string): Promise<string[]> {
    try {
      const { data } = await this.#call(
        "get",
        `${objects(adom)}/${TABLES[family].group}/${enc(group)}`,
        `read group "${group}"`,
        {
          session,
        },
      );
      const member = (data as { member?: unknown } | undefined)?.member;
      const list = Array.isArray(member) ? member : typeof member === "string" ? [member] : [];
      return list.map((m) =>
        typeof m === "object" && m !== null ? String((m as { name?: unknown }).name) : String(m)
      );
    } catch (error) {
      if (!(error instanceof FmgError) || error.code !== -3) throw error;
      throw new FmgError(
        `address group "${group}" does not exist in ADOM ${adom}; create it and use it in a deny policy of the package, or fix the group key`,
        -3,
      );
    }
  }

  /**
   * Adds or removes one member, leaving the others; one change at a time per group.
   * Through the member sub-URL, checked by reading the group before and after; where the
   * sub-URL does not change exactly that member, the member list is written whole
   * (`update`) from then on, from a fresh read.
   */
  setMember(
    session: string,
    adom: string,
    family: Family,
    group: string,
    change: "add" | "delete",
    name: string,
  ): Promise<void> {
    const what = `${
      change === "add" ? `add "${name}" to` : `remove "${name}" from`
    } group "${group}"`;
    const url = `${objects(adom)}/${TABLES[family].group}/${enc(group)}`;
    return this.#groupLocks.with([url], async () => {
      let before = await this.members(session, adom, family, group);
      if (this.#memberSubUrl) {
        const kept = before.filter((m) => m !== name);
        try {
          await this.#call(change, `${url}/member`, what, { session, data: [name] });
          const after = await this.members(session, adom, family, group);
          if (after.includes(name) === (change === "add") && kept.every((m) => after.includes(m))) {
            return;
          }
          before = [...new Set([...after, ...kept])];
        } catch (error) {
          if (!(error instanceof FmgError) || error.code !== -3) throw error;
        }
        this.#memberSubUrl = false;
        logger.warn(
          "FortiManager {server} does not change one group member through the member URL; writing member lists whole",
          { server: this.label },
        );
      }
      const others = before.filter((m) => m !== name);
      await this.#call("update", url, what, {
        session,
        data: { member: change === "add" ? [...others, name] : others },
      });
    });
  }

  /** Installs the package on the scope and waits until every device installed it. */
  async install(
    session: string,
    adom: string,
    pkg: string,
    scope: readonly FmgScope[],
  ): Promise<void> {
    const what = `install policy package "${pkg}" on ${scope.map(scopeLabel).join(", ")}`;
    const { data } = await this.#call("exec", "/securityconsole/install/package", what, {
      session,
      data: { adom, pkg, scope: scope.map((s) => ({ name: s.name, vdom: s.vdom })) },
    });
    const task = (data as { task?: unknown } | undefined)?.task;
    if (typeof task !== "number" && typeof task !== "string") {
      throw new FmgError(`cannot ${what}: the answer has no task`, null);
    }
    await pollTask(
      this.#tasks,
      async () => {
        const { data } = await this.#call("get", `/task/task/${task}`, `follow ${what}`, {
          session,
        });
        const t = (data ?? {}) as Record<string, unknown>;
        if (Number(t.percent) < 100) return false;
        const lines = Array.isArray(t.line) ? t.line as Record<string, unknown>[] : [];
        const failed = lines.filter((l) => Number(l?.err ?? 0) !== 0);
        if (Number(t.num_err ?? 0) === 0 && failed.length === 0) return true;
        const why = failed.map((l) => `${String(l.name)}: ${String(l.detail ?? "failed")}`);
        throw new FmgError(
          `cannot ${what}: task ${task} ended with errors (${
            why.join("; ") || `${String(t.num_err)} errors`
          })`,
          null,
        );
      },
      (seconds) =>
        new FmgError(
          `cannot ${what}: task ${task} did not finish within ${seconds} s; the next cycle tries again`,
          null,
        ),
    );
  }

  /**
   * True when every scope device has the package installed and unmodified since; false when
   * not, or when the answer does not tell (an install then costs time, never a block).
   */
  async installed(
    session: string,
    adom: string,
    pkg: string,
    scope: readonly FmgScope[],
  ): Promise<boolean> {
    try {
      const { data } = await this.#call(
        "get",
        `/pm/config/adom/${enc(adom)}/_package/status`,
        "read the package status",
        {
          session,
        },
      );
      const rows = Array.isArray(data) ? data as Record<string, unknown>[] : [];
      return scope.every((s) =>
        rows.some((r) =>
          r?.dev === s.name && (r.vdom ?? "root") === s.vdom && r.pkg === pkg &&
          r.status === "installed"
        )
      );
    } catch (error) {
      logger.info("Installing on {server} although var changed nothing: {why}", {
        server: this.label,
        why: errorText(error),
      });
      return false;
    }
  }
}

function objects(adom: string): string {
  return `/pm/config/adom/${enc(adom)}/obj/firewall`;
}

function enc(name: string): string {
  return encodeURIComponent(name);
}

function scopeLabel(scope: FmgScope): string {
  return scope.vdom === "root" ? scope.name : `${scope.name}/${scope.vdom}`;
}

/** A FortiManager error as a fan-out failure. */
export function failureOf(error: unknown): Failure {
  return error instanceof FmgError
    ? { message: error.message, status: error.status }
    : { message: errorText(error), status: null };
}
