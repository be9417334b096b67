/**
 * The Check Point Management Web API as the Check Point client uses it
 * (vendors/checkpoint.md): `POST /web_api/<command>` with a JSON body and the session id in
 * `X-chkp-sid`; login and logout, host and network objects, group membership, publish,
 * install-policy and the polling of their tasks with a deadline. Every answer is checked
 * and every failure explained (command, status, code and message); an object locked by
 * another session is named as such. Private to `clients/checkpoint.ts`.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import { HttpEndpoint, HttpError } from "../engine/http.ts";
import type { HttpResponse } from "../engine/http_types.ts";
import { parseIpOrNetwork } from "../engine/ip.ts";
import type { Failure } from "./_fanout.ts";
import { pollTask, type TaskTiming } from "./_tasks.ts";
import type { DeviceEndpoint } from "./_devices.ts";
import type { ClientContext } from "./interface.ts";
import { errorText } from "../engine/error_text.ts";

const logger = getLogger(["var", "client", "checkpoint"]);

/** Secret-store service of the Check Point password or API key (key: `CHECKPOINT_USER`). */
export const CHECKPOINT_SECRET_SERVICE = "CheckPoint";

/** How the client logs in, and what it waits for. */
export interface CheckPointLogin {
  readonly user: string;
  /** `password` (user and password) or `api-key` (the secret is an API key). */
  readonly auth: "password" | "api-key";
  /** The domain of a Multi-Domain Server, or "" for a plain management server. */
  readonly domain: string;
  /** Longest wait for a publish or install task, and the pause between two polls. */
  readonly tasks: TaskTiming;
}

/** A group member or object as `show-group` and `show-host` return it. */
export interface CheckPointObject {
  readonly name: string;
  readonly type: string;
  readonly comments: string;
  /** The address it covers, normalised (`10.1.2.3`, `198.51.100.0/24`), or null. */
  readonly address: string | null;
}

/** A failed Check Point call: status, Check Point's code and message. */
export class CheckPointError extends Error {
  readonly status: number | null;
  readonly code: string | null;

  constructor(message: string, status: number | null, code: string | null = null) {
    super(message);
    this.name = "CheckPointError";
    this.status = status;
    this.code = code;
  }

  /** True when Check Point refused because the object does not exist. */
  get notFound(): boolean {
    return this.status === 404 || this.code === "generic_err_object_not_found";
  }
}

/** The Management API of one server. */
export class CheckPointApi {
  /** Names the server in messages. */
  readonly label: string;
  readonly #endpoint: HttpEndpoint;
  readonly #login: CheckPointLogin;
  readonly #signal: AbortSignal | undefined;

  constructor(server: DeviceEndpoint, login: CheckPointLogin, context: ClientContext) {
    this.label = server.host;
    this.#login = login;
    this.#signal = context.signal;
    const hostForUrl = server.host.includes(":") ? `[${server.host}]` : server.host;
    this.#endpoint = new HttpEndpoint({
      ...context.http,
      system: `checkpoint ${server.host}`,
      baseUrl: `${server.scheme}://${hostForUrl}:${server.port}/web_api`,
      verifyTls: server.verifyTls,
      ...(server.caFile !== null ? { caFile: server.caFile } : {}),
    });
  }

  close(): void {
    this.#endpoint.close();
  }

  /**
   * One command. Resolves with the answer's object on 200; throws a
   * {@linkcode CheckPointError} that explains any other answer. Reads are retried.
   */
  async #call(
    command: string,
    sid: string | null,
    body: Record<string, unknown>,
    what: string,
  ): Promise<Record<string, unknown>> {
    let response: HttpResponse;
    try {
      response = await this.#endpoint.request("POST", `/${command}`, {
        json: body,
        headers: sid === null ? {} : { "X-chkp-sid": sid },
        accept: [400, 401, 403, 404, 409, 500],
        retry: command.startsWith("show-"),
        ...(this.#signal ? { signal: this.#signal } : {}),
      });
    } catch (error) {
      const detail = errorText(error);
      const status = error instanceof HttpError ? error.status : null;
      throw new CheckPointError(`cannot ${what}: ${detail}`, status);
    }
    let answer: Record<string, unknown> | null = null;
    try {
      const parsed = response.json<unknown>();
      if (typeof parsed === "object" && parsed !== null && !Array.isArray(parsed)) {
        answer = parsed as Record<string, unknown>;
      }
    } catch {
      answer = null;
    }
    if (response.status === 200 && answer !== null) return answer;
    const code = typeof answer?.code === "string" ? answer.code : null;
    throw new CheckPointError(
      `cannot ${what}: ${this.#explain(command, response.status, code, answer)}`,
      response.status,
      code,
    );
  }

  #explain(
    command: string,
    status: number,
    code: string | null,
    answer: Record<string, unknown> | null,
  ): string {
    if (answer === null) return `Check Point answered ${status} with a body that is not JSON`;
    const message = typeof answer.message === "string" ? answer.message : "";
    const said = `Check Point answered ${status} ${code ?? "without a code"}: ${message}`;
    if (command === "login") {
      return `${said}; check the secret ${CHECKPOINT_SECRET_SERVICE}/${this.#login.user} and that the administrator may use the API`;
    }
    if (status === 401 || code === "generic_err_wrong_session_id") {
      return `${said}; the management session ended (timed out or closed by an administrator), and what it staged is lost`;
    }
    if (status === 409 || /lock/i.test(`${code ?? ""} ${message}`)) {
      return `${said}; another management session holds the object locked: publish or discard that session (SmartConsole, Manage & Settings, Sessions)`;
    }
    if (status === 403) {
      return `${said}; the administrator's permission profile must allow editing network objects, publishing and installing policy`;
    }
    return said;
  }

  /** Logs in and returns the session id; the session is named so an operator can find it. */
  async login(secret: string): Promise<string> {
    const credentials = this.#login.auth === "api-key"
      ? { "api-key": secret }
      : { user: this.#login.user, password: secret };
    const answer = await this.#call("login", null, {
      ...credentials,
      ...(this.#login.domain !== "" ? { domain: this.#login.domain } : {}),
      "session-name": "var",
      "session-description": "Vectra Automated Response (var)",
    }, `log in to ${this.label}`);
    if (typeof answer.sid !== "string" || answer.sid === "") {
      throw new CheckPointError(`cannot log in to ${this.label}: the answer has no sid`, 200);
    }
    return answer.sid;
  }

  async logout(sid: string): Promise<void> {
    await this.#call("logout", sid, {}, "log out");
  }

  async discard(sid: string): Promise<void> {
    await this.#call("discard", sid, {}, "discard the session's changes");
  }

  /** Publishes the session's changes and waits for the publish task. */
  async publish(sid: string): Promise<void> {
    const answer = await this.#call("publish", sid, {}, "publish");
    await this.#waitForTask(sid, answer, "publish");
  }

  /** Installs a policy package on targets and waits until every target installed it. */
  async installPolicy(
    sid: string,
    policyPackage: string,
    targets: readonly string[],
  ): Promise<void> {
    const what = `install policy package "${policyPackage}" on ${targets.join(", ")}`;
    const answer = await this.#call(
      "install-policy",
      sid,
      { "policy-package": policyPackage, targets: [...targets] },
      what,
    );
    await this.#waitForTask(sid, answer, what);
  }

  /** Polls the task of an answer until every task succeeded; throws on failure or deadline. */
  async #waitForTask(sid: string, answer: Record<string, unknown>, what: string): Promise<void> {
    const taskId = answer["task-id"];
    if (typeof taskId !== "string" || taskId === "") {
      throw new CheckPointError(`cannot ${what}: the answer has no task-id`, 200);
    }
    await pollTask(this.#login.tasks, async () => {
      const shown = await this.#call("show-task", sid, { "task-id": taskId }, `follow ${what}`);
      const tasks = Array.isArray(shown.tasks) ? shown.tasks as Record<string, unknown>[] : [];
      const failed = tasks.filter((t) => !["succeeded", "in progress"].includes(String(t?.status)));
      if (tasks.length > 0 && failed.length > 0) {
        const why = failed.map((t) =>
          `${String(t?.status)}${
            typeof t?.comments === "string" && t.comments ? ` (${t.comments})` : ""
          }`
        );
        throw new CheckPointError(`cannot ${what}: task ${taskId} ended ${why.join(", ")}`, 200);
      }
      return tasks.length > 0 && tasks.every((t) => t?.status === "succeeded");
    }, (seconds) =>
      new CheckPointError(
        `cannot ${what}: task ${taskId} did not finish within ${seconds} s; the next cycle tries again`,
        null,
      ));
  }

  /**
   * True when every target last installed `policyPackage` after the groups last changed, so
   * what var published is enforced; false when not, or when the answers do not tell (an
   * install then costs time, never a block).
   */
  async installedSince(
    sid: string,
    groups: readonly string[],
    policyPackage: string,
    targets: readonly string[],
  ): Promise<boolean> {
    try {
      return await this.#installedSince(sid, groups, policyPackage, targets);
    } catch (error) {
      return this.#unsure(errorText(error));
    }
  }

  async #installedSince(
    sid: string,
    groups: readonly string[],
    policyPackage: string,
    targets: readonly string[],
  ): Promise<boolean> {
    let changedAt = 0;
    for (const group of groups) {
      const shown = await this.#call("show-group", sid, { name: group }, `read group "${group}"`);
      const at = posixOf(
        (shown["meta-info"] as Record<string, unknown> | undefined)?.["last-modify-time"],
      );
      if (at === null) return this.#unsure(`group "${group}" has no last-modify-time`);
      changedAt = Math.max(changedAt, at);
    }
    const policies = new Map<string, Record<string, unknown>>();
    for (let offset = 0;; offset += PAGE) {
      const page = await this.#call(
        "show-gateways-and-servers",
        sid,
        { "details-level": "full", limit: PAGE, offset },
        "read the installation state of the gateways",
      );
      const objects = Array.isArray(page.objects) ? page.objects as Record<string, unknown>[] : [];
      for (const o of objects) {
        if (typeof o?.name === "string" && typeof o.policy === "object" && o.policy !== null) {
          policies.set(o.name, o.policy as Record<string, unknown>);
        }
      }
      const total = typeof page.total === "number" ? page.total : 0;
      if (objects.length === 0 || offset + objects.length >= total) break;
    }
    for (const target of targets) {
      const policy = policies.get(target);
      if (policy === undefined) return this.#unsure(`no installation state for ${target}`);
      const at = posixOf(policy["access-policy-installation-date"]);
      if (
        policy["access-policy-installed"] !== true ||
        policy["access-policy-name"] !== policyPackage || at === null || at < changedAt
      ) return false;
    }
    return true;
  }

  #unsure(why: string): boolean {
    logger.info("Installing the policy on {server} although var changed nothing: {why}", {
      server: this.label,
      why,
    });
    return false;
  }

  /** The members of a group by name; throws naming the group when it does not exist. */
  async groupMembers(sid: string, group: string): Promise<Map<string, CheckPointObject>> {
    let answer: Record<string, unknown>;
    try {
      answer = await this.#call("show-group", sid, { name: group }, `read group "${group}"`);
    } catch (error) {
      if (!(error instanceof CheckPointError) || !error.notFound) throw error;
      throw new CheckPointError(
        `group "${group}" does not exist on ${this.label}; create it and use it in a rule of the installed policy, or fix the group key`,
        404,
        error.code,
      );
    }
    const members = Array.isArray(answer.members) ? answer.members : [];
    const found = new Map<string, CheckPointObject>();
    for (const member of members) {
      const object = objectOf(member);
      if (object !== null) found.set(object.name, object);
    }
    return found;
  }

  /** One host or network object, or null when none has that name. */
  async object(
    sid: string,
    type: "host" | "network",
    name: string,
  ): Promise<CheckPointObject | null> {
    try {
      return objectOf(await this.#call(`show-${type}`, sid, { name }, `read ${type} "${name}"`));
    } catch (error) {
      if (error instanceof CheckPointError && error.notFound) return null;
      throw error;
    }
  }

  /** Creates a host or network object, already a member of `group`. */
  async addObject(
    sid: string,
    type: "host" | "network",
    fields: Record<string, unknown>,
    group: string,
  ): Promise<void> {
    await this.#call(
      `add-${type}`,
      sid,
      { ...fields, groups: [group] },
      `create ${type} "${String(fields.name)}"`,
    );
  }

  /** Adds or removes one member of a group, leaving the others. */
  async setMember(
    sid: string,
    group: string,
    change: "add" | "remove",
    name: string,
  ): Promise<void> {
    const verb = change === "add" ? `add "${name}" to` : `remove "${name}" from`;
    await this.#call(
      "set-group",
      sid,
      { name: group, members: { [change]: name } },
      `${verb} group "${group}"`,
    );
  }

  /** Deletes a host or network object. */
  async deleteObject(sid: string, type: "host" | "network", name: string): Promise<void> {
    await this.#call(`delete-${type}`, sid, { name }, `delete ${type} "${name}"`);
  }
}

/** Gateways read per page of `show-gateways-and-servers`. */
const PAGE = 500;

/** The `posix` milliseconds of a Check Point time object, or null. */
function posixOf(time: unknown): number | null {
  const posix = (time as { posix?: unknown } | undefined)?.posix;
  return typeof posix === "number" ? posix : null;
}

/** An object of an answer, its address normalised; null when it has no name. */
function objectOf(value: unknown): CheckPointObject | null {
  if (typeof value !== "object" || value === null) return null;
  const o = value as Record<string, unknown>;
  if (typeof o.name !== "string") return null;
  const text = (key: string) => typeof o[key] === "string" ? o[key] as string : "";
  let address: string | null = null;
  const host = text("ipv4-address") || text("ipv6-address") || text("ip-address");
  const subnet = text("subnet4") || text("subnet6") || text("subnet");
  const mask = o["mask-length4"] ?? o["mask-length6"] ?? o["mask-length"];
  const parsed = host !== ""
    ? parseIpOrNetwork(host)
    : subnet !== "" && mask !== undefined
    ? parseIpOrNetwork(`${subnet}/${String(mask)}`)
    : null;
  if (parsed?.ok) address = parsed.value.entry;
  return { name: o.name, type: text("type"), comments: text("comments"), address };
}

/** A Check Point error as a fan-out failure. */
export function failureOf(error: unknown): Failure {
  return error instanceof CheckPointError
    ? { message: error.message, status: error.status }
    : { message: errorText(error), status: null };
}
