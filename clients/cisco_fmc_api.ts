/**
 * The Cisco Secure Firewall Management Center REST API as the FMC client uses it
 * (vendors/cisco_fmc.md): the access token (30 minutes, refreshed at most three times,
 * then generated anew; renewed once after a 401), host and network objects, network
 * groups read whole and written whole, every listing read page by page, and deployment
 * with its task polled to a deadline. Every failure names the call and FMC's description.
 * Private to `clients/cisco_fmc.ts`.
 *
 * @module
 */

import { HttpEndpoint, HttpError } from "../engine/http.ts";
import type { HttpResponse } from "../engine/http_types.ts";
import type { ApiEndpointConfig } from "./_devices.ts";
import { authenticated, expiringToken, type Session } from "./_session.ts";
import { pollTask, type TaskTiming } from "./_tasks.ts";
import type { ClientContext } from "./interface.ts";
import { errorText } from "../engine/error_text.ts";

/** Secret-store service of the FMC user name and password. */
export const FMC_SECRET_SERVICE = "Cisco_FMC";

/** A host or network object, or a group member, as FMC shows it. */
export interface FmcObject {
  readonly id: string;
  readonly type: string;
  readonly name: string;
  readonly value?: string;
  readonly description?: string;
}

/** A network group as read: sent back whole, with `objects` changed. */
export type FmcGroup = Record<string, unknown> & { id: string; objects?: FmcObject[] };

/** The REST API of one FMC and its global domain. */
export class FmcApi {
  readonly label: string;
  readonly #http: HttpEndpoint;
  readonly #session: Session;
  readonly #signal: AbortSignal | undefined;
  readonly #timing: TaskTiming;
  #domain = "";

  constructor(
    api: ApiEndpointConfig,
    credentials: { username: string; password: string },
    timing: TaskTiming,
    context: ClientContext,
  ) {
    this.label = new URL(api.baseUrl).host;
    this.#signal = context.signal;
    this.#timing = timing;
    this.#http = new HttpEndpoint({
      ...context.http,
      system: `cisco_fmc ${this.label}`,
      baseUrl: `${api.baseUrl}/api`,
      verifyTls: api.verifyTls,
      ...(api.caFile !== null ? { caFile: api.caFile } : {}),
    });
    const basic = `Basic ${btoa(`${credentials.username}:${credentials.password}`)}`;
    let refresh: { access: string; refresh: string; count: number } | null = null;
    const token = async (path: string, headers: Record<string, string>) => {
      const response = await this.#http.request("POST", path, {
        headers,
        accept: [401],
        retry: true,
      });
      const access = response.headers.get("X-auth-access-token");
      if (response.status !== 204 || access === null) return null;
      this.#domain = response.headers.get("DOMAIN_UUID") ?? this.#domain;
      return { access, refresh: response.headers.get("X-auth-refresh-token") ?? "" };
    };
    this.#session = expiringToken({
      login: async () => {
        // FMC refreshes a token three times; then, or when a refresh is refused, a new one.
        let issued = refresh !== null && refresh.count < 3
          ? await token("/fmc_platform/v1/auth/refreshtoken", {
            "X-auth-access-token": refresh.access,
            "X-auth-refresh-token": refresh.refresh,
          })
          : null;
        const count = issued === null ? 0 : (refresh?.count ?? 0) + 1;
        issued ??= await token("/fmc_platform/v1/auth/generatetoken", { Authorization: basic });
        if (issued === null) {
          throw new Error(
            `cannot log in to ${this.label}: FMC refused the credentials; check the secrets ${FMC_SECRET_SERVICE}/Username and Password`,
          );
        }
        refresh = { ...issued, count };
        return { token: issued.access, expiresInSeconds: 30 * 60 };
      },
      headers: (access) => ({ "X-auth-access-token": access }),
    });
  }

  close(): void {
    this.#http.close();
  }

  /** One call in the domain; the answer's JSON, or null for an accepted 404. */
  async call(
    method: string,
    path: string,
    what: string,
    options: { json?: unknown; query?: Record<string, string>; notFound?: boolean } = {},
  ): Promise<Record<string, unknown> | null> {
    let response: HttpResponse;
    try {
      response = await authenticated(
        this.#session,
        (headers) =>
          this.#http.request(method, `/fmc_config/v1/domain/${this.#domain}${path}`, {
            headers,
            accept: [400, 401, 404, 409, 422],
            ...(options.json !== undefined ? { json: options.json } : {}),
            ...(options.query ? { query: options.query } : {}),
            ...(this.#signal ? { signal: this.#signal } : {}),
          }),
        (r) => r.status === 401,
      );
    } catch (error) {
      const detail = errorText(error);
      throw new FmcError(
        `cannot ${what}: ${detail}`,
        error instanceof HttpError ? error.status : null,
      );
    }
    if (response.status === 404 && options.notFound) return null;
    const body = parse(response);
    if (response.status < 300) return body ?? {};
    const messages = (body?.error as { messages?: { description?: unknown }[] } | undefined)
      ?.messages;
    const description = messages?.map((m) => String(m.description ?? "")).join("; ") ?? "";
    throw new FmcError(
      `cannot ${what}: FMC answered ${response.status}${description ? `: ${description}` : ""}`,
      response.status,
    );
  }

  /** Every item of a listing, page after page. */
  async list(path: string, what: string): Promise<FmcObject[]> {
    const items: FmcObject[] = [];
    for (let offset = 0;;) {
      const page = await this.call("GET", path, what, {
        query: { offset: String(offset), limit: "1000", expanded: "true" },
      });
      const found = Array.isArray(page?.items) ? page.items as FmcObject[] : [];
      items.push(...found);
      offset += found.length;
      const count = Number((page?.paging as { count?: unknown } | undefined)?.count ?? 0);
      if (found.length === 0 || offset >= count) return items;
    }
  }

  /** Deploys to the devices named that have undeployed changes, and waits for the task. */
  async deploy(devices: readonly string[]): Promise<void> {
    const deployable = await this.list(
      "/deployment/deployabledevices",
      "list the devices to deploy",
    );
    const mine = deployable.filter((d) =>
      devices.includes(String((d as { device?: { name?: unknown } }).device?.name ?? d.name))
    );
    if (mine.length === 0) return;
    const what = `deploy to ${mine.map((d) => d.name).join(", ")}`;
    const version =
      mine.map((d) => String((d as { version?: unknown }).version ?? "")).sort().at(-1) ?? "";
    const request = await this.call("POST", "/deployment/deploymentrequests", what, {
      json: {
        type: "DeploymentRequest",
        version,
        forceDeploy: false,
        ignoreWarning: true,
        deviceList: mine.map((d) =>
          String((d as { device?: { id?: unknown } }).device?.id ?? d.id)
        ),
      },
    });
    const task = (request?.metadata as { task?: { id?: unknown } } | undefined)?.task?.id;
    if (typeof task !== "string") {
      throw new FmcError(`cannot ${what}: the answer has no task id`, null);
    }
    await pollTask(
      this.#timing,
      async () => {
        const status = await this.call(
          "GET",
          `/job/taskstatuses/${encodeURIComponent(task)}`,
          `follow ${what}`,
        );
        const state = String(status?.status ?? "");
        if (/^(deployed|success|succeeded|completed)$/i.test(state)) return true;
        if (/fail|error|abort/i.test(state)) {
          throw new FmcError(
            `cannot ${what}: task ${task} ended ${state}${
              status?.message ? ` (${String(status.message)})` : ""
            }`,
            null,
          );
        }
        return false;
      },
      (seconds) =>
        new FmcError(
          `cannot ${what}: task ${task} did not end within ${seconds} s; the next cycle tries again`,
          null,
        ),
    );
  }
}

/** A failed FMC call: the call, the status and FMC's description. */
export class FmcError extends Error {
  constructor(message: string, readonly status: number | null) {
    super(message);
    this.name = "FmcError";
  }
}

function parse(response: HttpResponse): Record<string, unknown> | null {
  try {
    const value = response.json<unknown>();
    return typeof value === "object" && value !== null ? value as Record<string, unknown> : null;
  } catch {
    return null;
  }
}
