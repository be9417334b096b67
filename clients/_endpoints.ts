/**
 * A `ResponseClient` for an EDR that isolates endpoints, built from a small per-vendor
 * endpoint adapter: the vendor says how to find endpoints, read one, and start or stop its
 * isolation; the kit matches the host to exactly one endpoint, never isolates a
 * disconnected endpoint (its isolation would only be queued, out of var's sight), follows
 * each change until the product confirms it within the deadline, and reports every doubt
 * as a `ClientError`. Private to `clients/`.
 *
 * Matching: the endpoints with one of the host's MACs, where the product matches by MAC,
 * else the endpoints with the host's IP (exactly, compared canonically); several are
 * narrowed to the one with the host's IP, then the one whose name is the host's name; none
 * falls back to the endpoints with the host's name. Names are equal ignoring case, or when one is the other's first
 * DNS label (`ward-3-pc` and `ward-3-pc.hospital.local`); never a substring.
 *
 * @module
 */

import { ClientError, type Operation, type ResponseClient } from "../engine/client.ts";
import { HttpError } from "../engine/http.ts";
import { singleHostAddress } from "../engine/ip.ts";
import type { Host } from "../engine/model.ts";
import type { Failure } from "./_fanout.ts";
import { pollTask, type TaskTiming } from "./_tasks.ts";
import { hostAddress } from "./_targets.ts";
import { errorText } from "../engine/error_text.ts";

/** Where an endpoint's isolation stands. */
export type Isolation =
  | "isolated"
  | "pending-isolation"
  | "not-isolated"
  | "pending-release"
  /** The product cannot isolate this endpoint (no agent capability, a server type). */
  | "unavailable"
  /** The product does not say; its isolate and release jobs confirm each change. */
  | "unknown";

/** One endpoint as the EDR reports it. */
export interface Endpoint {
  /** The product's id: the element id var records. */
  readonly id: string;
  readonly name: string;
  readonly ips: readonly string[];
  readonly isolation: Isolation;
  /** False when the agent is not connected now; null when the product does not say. */
  readonly connected: boolean | null;
  /** The MAC addresses, in any notation (products that match by MAC). */
  readonly macs?: readonly string[];
}

/** What a vendor implements for its EDR. */
export interface EndpointAdapter {
  readonly name: string;
  readonly tagName: string;
  readonly routingKey: string;
  /** Names the product's tenant or console in messages. */
  readonly label: string;
  /** How long a change may take to be confirmed, and how often it is polled. */
  readonly timing: TaskTiming;
  /**
   * True when `release` also cancels an isolation that is still pending (the agent is
   * offline): var then cancels the isolation it asked for when it is not confirmed in time,
   * and releases a pending one on unblock. False: a pending isolation cannot be touched.
   */
  readonly cancelsPending: boolean;
  /** The endpoints that report the address (the product's filter; the kit checks it). */
  byIp(ip: string): Promise<Endpoint[]>;
  /**
   * The endpoints with one of the MACs (12 hex digits, lower case), for products that match
   * by MAC first; the kit checks them, and narrows several by the host's IP, then its name.
   */
  byMac?(macs: readonly string[]): Promise<Endpoint[]>;
  /** The endpoints with a name (the product's filter; the kit checks it). */
  byName(name: string): Promise<Endpoint[]>;
  /** One endpoint by id, or null when the product no longer knows it. */
  get(id: string): Promise<Endpoint | null>;
  /**
   * Asks for the endpoint's isolation; resolves once the product accepted the request, or
   * with `"confirmed"` once the product reported it done (a job that finished).
   */
  isolate(endpoint: Endpoint): Promise<void | "confirmed">;
  /** Asks for the end of the endpoint's isolation; as `isolate`. */
  release(endpoint: Endpoint): Promise<void | "confirmed">;
  /** An error as a failure. */
  failureOf(error: unknown): Failure;
  close(): void;
}

/**
 * A vendor error as a failure: its message, and the HTTP status of the `HttpError` that
 * caused it, if any.
 */
export function failureOfCause(error: unknown): Failure {
  const cause = error instanceof Error ? error.cause : undefined;
  return {
    message: errorText(error),
    status: cause instanceof HttpError
      ? cause.status
      : error instanceof HttpError
      ? error.status
      : null,
  };
}

/** A MAC address as 12 lower-case hex digits, whatever its notation. */
export function macKey(mac: string): string {
  return mac.toLowerCase().replace(/[^0-9a-f]/g, "");
}

/** True when two host names name one host: equal ignoring case, or one the other's first label. */
export function sameHostName(a: string, b: string): boolean {
  const x = a.trim().toLowerCase().replace(/\.$/, "");
  const y = b.trim().toLowerCase().replace(/\.$/, "");
  if (x === "" || y === "") return false;
  if (x === y) return true;
  const first = (name: string) => name.split(".")[0] ?? "";
  return (!x.includes(".") && x === first(y)) || (!y.includes(".") && y === first(x));
}

/** Builds the client of an endpoint adapter: host isolation only. */
export function endpointClient(adapter: EndpointAdapter): ResponseClient {
  const { name } = adapter;
  const supports = new Set<Operation>(["blockHost", "unblockHost"]);
  const fail = (operation: Operation, message: string, cause?: unknown) =>
    new ClientError(name, operation, message, {
      status: cause === undefined ? null : adapter.failureOf(cause).status,
      ...(cause === undefined ? {} : { cause }),
    });

  /** The one endpoint of the host, or null when the EDR has none for it. */
  const endpointOf = async (host: Host, address: string): Promise<Endpoint | null> => {
    const names = [...new Set([host.fullName, host.name].filter((n) => n !== ""))];
    const named = (e: Endpoint) => names.some((n) => sameHostName(e.name, n));
    const hasIp = (e: Endpoint) =>
      e.ips.some((ip) => {
        const parsed = singleHostAddress(ip);
        return parsed.ok && parsed.address === address;
      });
    const macs = host.macAddresses.map(macKey);
    const byMac = adapter.byMac && macs.length > 0
      ? (await adapter.byMac(macs)).filter((e) =>
        (e.macs ?? []).some((m) => macs.includes(macKey(m)))
      )
      : [];
    const byIp = byMac.length > 0 ? byMac : (await adapter.byIp(address)).filter(hasIp);
    let found = byIp.length > 1 ? byIp.filter(byMac.length > 0 ? hasIp : named) : byIp;
    if (byMac.length > 1 && found.length !== 1) found = byIp.filter(named);
    if (byIp.length === 0) {
      const all = await Promise.all(names.map((n) => adapter.byName(n)));
      found = [...new Map(all.flat().filter(named).map((e) => [e.id, e])).values()];
    }
    if (found.length > 1 || (found.length === 0 && byIp.length > 1)) {
      const list = (found.length > 1 ? found : byIp).map((e) => `${e.id} (${e.name})`);
      throw fail(
        "blockHost",
        `Cannot block host ${host.id} (${host.name}) with ${name}: ${list.length} endpoints match ${address} on ${adapter.label} (${
          list.join(", ")
        }); var isolates one endpoint or none`,
      );
    }
    return found[0] ?? null;
  };

  /** Polls the endpoint until `done`, failing on the deadline. */
  const follow = async (
    operation: Operation,
    endpoint: Endpoint,
    done: (e: Endpoint | null) => boolean,
    what: string,
  ) => {
    await pollTask(
      adapter.timing,
      async () => done(await adapter.get(endpoint.id)),
      (seconds) =>
        fail(
          operation,
          `${what} of endpoint ${endpoint.id} (${endpoint.name}) on ${adapter.label} was not confirmed within ${seconds} s; the next cycle looks again`,
        ),
    );
  };

  const blockHost = async (host: Host): Promise<string[]> => {
    const address = hostAddress(name, "blockHost", host);
    const what = `host ${host.id} (${host.name})`;
    try {
      const found = await endpointOf(host, address);
      if (found === null) return [];
      // A listing that does not say where the isolation stands: read the endpoint itself.
      const endpoint = found.isolation === "unknown"
        ? (await adapter.get(found.id)) ?? found
        : found;
      if (endpoint.isolation === "unavailable") {
        throw fail(
          "blockHost",
          `Cannot block ${what} with ${name}: ${adapter.label} cannot isolate endpoint ${endpoint.id} (${endpoint.name})`,
        );
      }
      const isolated = (e: Endpoint | null) => e?.isolation === "isolated";
      if (endpoint.isolation === "isolated") return [endpoint.id];
      if (endpoint.isolation === "pending-isolation") {
        await follow("blockHost", endpoint, isolated, "The isolation");
        return [endpoint.id];
      }
      if (endpoint.connected === false) {
        throw fail(
          "blockHost",
          `Cannot block ${what} with ${name}: endpoint ${endpoint.id} (${endpoint.name}) is not connected, so its isolation would only be queued; the next cycle tries again`,
        );
      }
      if (await adapter.isolate(endpoint) === "confirmed") return [endpoint.id];
      try {
        await follow("blockHost", endpoint, isolated, "The isolation");
      } catch (error) {
        // Not confirmed: take back the request var made, where the product can.
        if (!adapter.cancelsPending) throw error;
        await adapter.release(endpoint).catch(() => {});
        throw fail(
          "blockHost",
          `${(error as Error).message}; var cancelled the isolation it asked for`,
        );
      }
      return [endpoint.id];
    } catch (error) {
      if (error instanceof ClientError) throw error;
      throw fail(
        "blockHost",
        `Cannot block ${what} with ${name}: ${adapter.failureOf(error).message}`,
        error,
      );
    }
  };

  const unblockHost = async (host: Host, recorded: readonly string[]): Promise<string[]> => {
    const confirmed: string[] = [];
    const failed: string[] = [];
    for (const id of new Set(recorded)) {
      try {
        const endpoint = await adapter.get(id);
        const pending = endpoint?.isolation === "pending-isolation";
        if (pending && !adapter.cancelsPending) {
          throw new Error(
            `its isolation is still pending (the agent is not connected) and ${adapter.label} cannot cancel it; var releases it once isolated`,
          );
        }
        const state = endpoint?.isolation ?? "not-isolated";
        if (endpoint !== null && state !== "not-isolated" && state !== "unavailable") {
          const asked = state === "pending-release" ? undefined : await adapter.release(endpoint);
          if (asked !== "confirmed") {
            const released = (e: Endpoint | null) => e === null || e.isolation === "not-isolated";
            await follow("unblockHost", endpoint, released, "The release");
          }
        }
        confirmed.push(id);
      } catch (error) {
        failed.push(
          `${id}: ${
            error instanceof ClientError ? error.message : adapter.failureOf(error).message
          }`,
        );
      }
    }
    if (failed.length > 0 && confirmed.length === 0) {
      throw fail(
        "unblockHost",
        `Cannot unblock host ${host.id} (${host.name}) with ${name}: ${failed.join("; ")}`,
      );
    }
    return recorded.filter((id) => confirmed.includes(id));
  };

  return {
    name,
    tagName: adapter.tagName,
    routingKey: adapter.routingKey,
    supports,
    blockHost,
    unblockHost,
    close() {
      adapter.close();
      return Promise.resolve();
    },
  };
}
