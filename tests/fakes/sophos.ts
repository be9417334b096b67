/**
 * A stateful fake of the Sophos Firewall XML API (vendors/sophos.md, "Test double"), on the
 * shared device base: `POST /webconsole/APIController` with the document in the form field
 * `reqxml` (a `GET` with it in the query is refused here: credentials never in a URL).
 *
 * - `Login` with `Username` and `Password` (`passwordform` plain, or `encrypt` with the
 *   seeded encrypted form); a failure answers `Authentication Failure` and runs nothing.
 * - `IPHost`: `Get` with `Filter/key[@name="Name"][@criteria="="]`, `Set operation="add"`
 *   (502 for a duplicate name), `Set operation="update"`, `Remove` (541 while a group or
 *   IP list uses it). Types `IP`, `Network` (with `Subnet`) and `IPList`
 *   (`ListOfIPAddresses`, which may not be empty).
 * - `IPHostGroup`: `Get`, `Set operation="update"` replacing `HostList` (every host must
 *   exist and have the group's `IPFamily`).
 *
 * @module
 */

import { XMLBuilder, XMLParser } from "fast-xml-parser";
import { FakeDevice } from "./_device.ts";
import { type FakeServer, serveFake } from "./_serve.ts";

/** One request as the fake received it. */
export interface SophosRequest {
  readonly method: string;
  /** The URL as received (path and query). */
  readonly url: string;
  /** The XML document. */
  readonly xml: string;
}

/** An IP host. */
export interface SophosHost {
  Name: string;
  IPFamily: "IPv4" | "IPv6";
  HostType: "IP" | "Network" | "IPList";
  IPAddress?: string;
  Subnet?: string;
  ListOfIPAddresses?: string;
  Description?: string;
}

/** Options of {@linkcode FakeSophos}. */
export interface FakeSophosOptions {
  readonly username: string;
  readonly password: string;
  /** IP host groups: name → family. */
  readonly groups?: Readonly<Record<string, "IPv4" | "IPv6">>;
  /** IP hosts that exist from the start (the original's IP list). */
  readonly hosts?: readonly SophosHost[];
}

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: "@_",
  parseTagValue: false,
  trimValues: true,
  isArray: (name) => ["IPHost", "IPHostGroup", "Host", "key"].includes(name),
});
const builder = new XMLBuilder({ ignoreAttributes: false, attributeNamePrefix: "@_" });

/** The fake firewall. */
export class FakeSophos extends FakeDevice<SophosRequest> {
  readonly hosts = new Map<string, SophosHost>();
  readonly groups = new Map<string, { family: "IPv4" | "IPv6"; hosts: string[] }>();
  #options: FakeSophosOptions;

  constructor(options: FakeSophosOptions) {
    super();
    this.#options = options;
    const groups: Readonly<Record<string, "IPv4" | "IPv6">> = options.groups ?? {
      "Vectra Blocked Hosts": "IPv4",
      "Vectra Blocked Destinations": "IPv4",
      "Vectra Blocked Hosts6": "IPv6",
      "Vectra Blocked Destinations6": "IPv6",
    };
    for (const [name, family] of Object.entries(groups)) {
      this.groups.set(name, { family, hosts: [] });
    }
    for (const host of options.hosts ?? []) this.hosts.set(host.Name, { ...host });
  }

  async handle(request: Request): Promise<Response> {
    const url = new URL(request.url);
    const form = request.method === "POST"
      ? new URLSearchParams(await request.text())
      : url.searchParams;
    const xml = form.get("reqxml") ?? "";
    const recorded = { method: request.method, url: `${url.pathname}${url.search}`, xml };
    this.record(recorded);
    const injected = await this.interpose(recorded);
    if (injected !== null) return new Response("Injected fault", { status: injected });
    if (url.pathname !== "/webconsole/APIController") {
      return new Response("Not found", { status: 404 });
    }
    if (request.method !== "POST") return new Response("Method not allowed", { status: 405 });
    const doc = parser.parse(xml) as { Request?: Record<string, unknown> };
    const req = doc.Request ?? {};
    const login = (req.Login ?? {}) as { Username?: unknown; Password?: unknown };
    const password = login.Password as
      | string
      | { "#text"?: string; "@_passwordform"?: string }
      | undefined;
    const text = typeof password === "string" ? password : password?.["#text"] ?? "";
    const form_ = typeof password === "object" ? password["@_passwordform"] ?? "plain" : "plain";
    const ok = login.Username === this.#options.username &&
      (form_ === "plain"
        ? text === this.#options.password
        : form_ === "encrypt" && text === `enc:${this.#options.password}`);
    const response: Record<string, unknown> = {
      Login: { status: ok ? "Authentication Successful" : "Authentication Failure" },
    };
    if (ok) {
      for (const [verb, body] of Object.entries(req)) {
        if (verb === "Login") continue;
        Object.assign(response, this.#run(verb, body as Record<string, unknown>));
      }
    }
    return new Response(builder.build({ Response: { "@_APIVersion": "1905.1", ...response } }), {
      headers: { "Content-Type": "text/xml" },
    });
  }

  #run(verb: string, body: Record<string, unknown>): Record<string, unknown> {
    const operation = String(body["@_operation"] ?? "add");
    if (verb === "Get") {
      const out: Record<string, unknown> = {};
      for (const kind of ["IPHost", "IPHostGroup"] as const) {
        const items = body[kind] as Record<string, unknown>[] | undefined;
        if (!items) continue;
        const keys = ((items[0]?.Filter as { key?: unknown[] } | undefined)?.key ?? []) as Record<
          string,
          unknown
        >[];
        const name = keys.find((k) => k["@_name"] === "Name" && k["@_criteria"] === "=")?.["#text"];
        if (kind === "IPHost") {
          out.IPHost = [...this.hosts.values()].filter((h) => name === undefined || h.Name === name)
            .map((h) => ({ ...h }));
        } else {
          out.IPHostGroup = [...this.groups].filter(([n]) => name === undefined || n === name).map((
            [n, g],
          ) => ({
            Name: n,
            IPFamily: g.family,
            HostList: g.hosts.length > 0 ? { Host: [...g.hosts] } : "",
          }));
        }
      }
      return out;
    }
    const status = (code: number, message: string) => ({
      Status: { "@_code": String(code), "#text": message },
    });
    if (verb === "Set" && body.IPHost) {
      const results = (body.IPHost as Record<string, unknown>[]).map((h) => {
        const host = { ...(h as unknown as SophosHost) };
        if (operation === "add" && this.hosts.has(host.Name)) {
          return status(502, "Operation failed. Entity having same name already exists.");
        }
        if (operation === "update" && !this.hosts.has(host.Name)) {
          return status(541, "Entity not found.");
        }
        if (host.HostType === "IPList" && !host.ListOfIPAddresses) {
          return status(500, "ListOfIPAddresses: required");
        }
        if (host.HostType !== "IPList" && !host.IPAddress) {
          return status(500, "IPAddress: required");
        }
        this.hosts.set(host.Name, { ...this.hosts.get(host.Name), ...host });
        return status(200, "Configuration applied successfully.");
      });
      return { IPHost: results };
    }
    if (verb === "Set" && body.IPHostGroup) {
      const results = (body.IPHostGroup as Record<string, unknown>[]).map((g) => {
        const group = this.groups.get(String(g.Name));
        if (group === undefined) return status(541, "Entity not found.");
        const listed =
          ((g.HostList as { Host?: unknown[] } | "" | undefined) || { Host: [] }).Host ?? [];
        const hosts = listed.map(String);
        const bad = hosts.find((h) => this.hosts.get(h)?.IPFamily !== group.family);
        if (bad !== undefined) {
          return status(500, `Host ${bad} does not exist or has another IP family.`);
        }
        group.hosts = hosts;
        return status(200, "Configuration applied successfully.");
      });
      return { IPHostGroup: results };
    }
    if (verb === "Remove" && body.IPHost) {
      const results = (body.IPHost as Record<string, unknown>[]).map((h) => {
        const name = String(h.Name);
        if (!this.hosts.has(name)) return status(541, "Entity not found.");
        if ([...this.groups.values()].some((g) => g.hosts.includes(name))) {
          return status(
            541,
            "Operation could not be performed on Entity as it is being used in IP host group.",
          );
        }
        this.hosts.delete(name);
        return status(200, "Configuration applied successfully.");
      });
      return { IPHost: results };
    }
    return { Status: { "@_code": "500", "#text": `Unsupported ${verb}` } };
  }
}

/** Starts a fake Sophos Firewall API on 127.0.0.1. */
export function startFakeSophos(
  options: FakeSophosOptions & { tls?: { cert: string; key: string } },
): FakeServer<FakeSophos> {
  return serveFake(new FakeSophos(options), options.tls);
}
