/**
 * A stateful fake of the Tanium API Gateway (GraphQL) for quarantine by package
 * deployment (vendors/tanium.md, "Test double"), on the shared device base: one route,
 * `POST /plugin/products/gateway/graphql`, dispatched on the document's top-level field —
 * no general GraphQL engine.
 *
 * - Header `session: <token>` on every call (401 otherwise).
 * - `endpoints(filter: {path, value, op})`: `op` `EQ` on `id`, `name`, or any of
 *   `ipAddresses` / `macAddresses`; `STARTS_WITH` too, as Tanium offers it.
 * - `packageSpecs(filter: {path: "name", value})`: the package's `params` (`$1`…).
 * - `actionPerform(input)`: an unknown package, endpoint or action group is a GraphQL error
 *   (HTTP 200); else an action whose status goes waiting → running → completed over
 *   `actionPolls` reads (or `failed`, for endpoints in `failFor`), applying or removing the
 *   quarantine when it completes.
 * - `action(ref: {id})`: the action's `results` counters.
 *
 * @module
 */

import { FakeDevice } from "./_device.ts";
import { type FakeServer, serveFake } from "./_serve.ts";

/** One request as the fake received it. */
export interface TaniumRequest {
  readonly session: string | null;
  readonly query: string;
  readonly variables: Record<string, unknown>;
}

/** An endpoint. */
export interface TaniumEndpoint {
  id: string;
  name: string;
  ipAddresses: string[];
  macAddresses: string[];
  platform: "Windows" | "Mac" | "Linux";
  quarantined: boolean;
}

/** Options of {@linkcode FakeTanium}. */
export interface FakeTaniumOptions {
  readonly token: string;
  readonly endpoints?: readonly TaniumEndpoint[];
  /** Package name → whether it applies (true) or removes (false) the quarantine. */
  readonly packages?: Readonly<Record<string, boolean>>;
  readonly actionGroups?: readonly string[];
  readonly actionPolls?: number;
}

/** The fake Tanium. */
export class FakeTanium extends FakeDevice<TaniumRequest> {
  readonly endpoints = new Map<string, TaniumEndpoint>();
  /** Endpoints whose actions fail. */
  failFor = new Set<string>();
  #options: FakeTaniumOptions;
  #actions = new Map<
    number,
    { polls: number; endpoint: string; quarantine: boolean; done?: "completed" | "failed" }
  >();
  #next = 100;

  constructor(options: FakeTaniumOptions) {
    super();
    this.#options = options;
    for (const e of options.endpoints ?? []) this.endpoints.set(e.id, structuredClone(e));
  }

  async handle(request: Request): Promise<Response> {
    const body = await request.json().catch(() => ({})) as { query?: unknown; variables?: unknown };
    const recorded = {
      session: request.headers.get("session"),
      query: String(body.query ?? ""),
      variables: (body.variables ?? {}) as Record<string, unknown>,
    };
    this.record(recorded);
    const injected = await this.interpose(recorded);
    if (injected !== null) return new Response("Injected fault", { status: injected });
    if (recorded.session !== this.#options.token) {
      return new Response("Unauthorized", { status: 401 });
    }
    const v = recorded.variables;
    const error = (message: string) => Response.json({ data: null, errors: [{ message }] });
    if (/\bendpoints\s*\(/.test(recorded.query)) {
      const { path, value, op } = v as { path?: string; value?: string; op?: string };
      const match = (field: string | string[]) =>
        (Array.isArray(field) ? field : [field]).some((f) =>
          op === "STARTS_WITH"
            ? f.toLowerCase().startsWith(String(value).toLowerCase())
            : f.toLowerCase() === String(value).toLowerCase()
        );
      const nodes = [...this.endpoints.values()].filter((e) =>
        path === "id"
          ? e.id === value
          : path === "name"
          ? match(e.name)
          : path === "ipAddresses"
          ? match(e.ipAddresses)
          : path === "macAddresses"
          ? match(e.macAddresses)
          : false
      );
      return Response.json({
        data: {
          endpoints: {
            edges: nodes.map((e) => ({
              node: {
                id: e.id,
                name: e.name,
                ipAddresses: e.ipAddresses,
                macAddresses: e.macAddresses,
                os: { platform: e.platform },
              },
            })),
          },
        },
      });
    }
    if (/\bpackageSpecs\s*\(/.test(recorded.query)) {
      const known = Object.keys(this.#options.packages ?? {}).includes(String(v.name));
      return Response.json({
        data: {
          packageSpecs: {
            edges: known
              ? [{ node: { name: v.name, params: [{ key: "$1", defaultValue: "30" }] } }]
              : [],
          },
        },
      });
    }
    if (/\bactionPerform\s*\(/.test(recorded.query)) {
      const input = (v.input ?? {}) as {
        package?: { name?: string };
        targets?: { actionGroup?: { name?: string }; endpoints?: string[] };
      };
      const packages = this.#options.packages ?? {};
      const name = input.package?.name ?? "";
      if (!(name in packages)) return error(`Package ${name} not found`);
      if (
        !(this.#options.actionGroups ?? ["Default - All Computers"]).includes(
          input.targets?.actionGroup?.name ?? "",
        )
      ) {
        return error("Action group not found");
      }
      const endpoint = input.targets?.endpoints?.[0] ?? "";
      if (!this.endpoints.has(endpoint) || (input.targets?.endpoints?.length ?? 0) !== 1) {
        return error("Unknown endpoint");
      }
      const id = this.#next++;
      this.#actions.set(id, {
        polls: this.#options.actionPolls ?? 1,
        endpoint,
        quarantine: packages[name] === true,
      });
      return Response.json({
        data: {
          actionPerform: {
            scheduledActions: [{
              scheduledAction: { id: id - 50, lastAction: { id: String(id) } },
            }],
            error: null,
          },
        },
      });
    }
    if (/\baction\s*\(/.test(recorded.query)) {
      const id = Number((v.ref as { id?: unknown } | undefined)?.id);
      const action = this.#actions.get(id);
      if (action === undefined) return error(`Action ${id} not found`);
      if (action.done === undefined && action.polls > 0) {
        action.polls--;
        return Response.json({
          data: {
            action: {
              status: "Open",
              results: { completed: 0, failed: 0, running: 1, waiting: 0 },
            },
          },
        });
      }
      if (action.done === undefined) {
        action.done = this.failFor.has(action.endpoint) ? "failed" : "completed";
        if (action.done === "completed") {
          this.endpoints.get(action.endpoint)!.quarantined = action.quarantine;
        }
      }
      const completed = action.done === "completed" ? 1 : 0;
      return Response.json({
        data: {
          action: {
            status: "Closed",
            results: { completed, failed: 1 - completed, running: 0, waiting: 0 },
          },
        },
      });
    }
    return error("Unknown operation");
  }
}

/** Starts a fake Tanium API Gateway on 127.0.0.1. */
export function startFakeTanium(
  options: FakeTaniumOptions & { tls?: { cert: string; key: string } },
): FakeServer<FakeTanium> {
  return serveFake(new FakeTanium(options), options.tls);
}
