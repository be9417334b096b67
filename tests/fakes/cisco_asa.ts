/**
 * A stateful fake of the Cisco ASA HTTP CLI interface (vendors/cisco_asa_http.md, "Test
 * double"), on the shared device base: `GET /admin/exec/<command>` and
 * `GET /admin/config/<line>/<line>/…`, each path segment one CLI line, percent-decoded.
 *
 * - HTTP Basic with the seeded credentials, and a User-Agent on the allow-list
 *   (`http server basic-auth-client`), else 401.
 * - Configuration lines: `object network <name>` then `host <ip>`, `subnet <net> <mask>`
 *   or `subnet <v6>/<len>`, `description <text>`; `no object network <name>` (refused while
 *   a group uses it); `object-group network <name>` (only groups that exist) then
 *   `network-object object <name>`, `network-object host <ip>`, and their `no` forms.
 *   A CLI error is text starting `ERROR:` in a 200 answer, as the ASA does; the lines
 *   after a failing one are not run.
 * - `show running-config object-group id <name>`, `show running-config object network`,
 *   `write memory` (the startup configuration, {@linkcode FakeAsa.saved}), `show version`.
 *
 * @module
 */

import { FakeDevice } from "./_device.ts";
import { type FakeServer, serveFake } from "./_serve.ts";

/** One request as the fake received it. */
export interface AsaRequest {
  /** The raw path, still encoded. */
  readonly rawPath: string;
  /** The CLI lines, decoded. */
  readonly lines: readonly string[];
  readonly userAgent: string | null;
  readonly authorization: string | null;
}

/** The running configuration var touches. */
export interface AsaConfig {
  /** Network objects: name → its lines (`host …` / `subnet …`, `description …`). */
  objects: Map<string, { address: string; description: string }>;
  /** Object groups: name → member lines (`network-object object x`, `network-object host y`). */
  groups: Map<string, string[]>;
}

/** Options of {@linkcode FakeAsa}. */
export interface FakeAsaOptions {
  readonly username: string;
  readonly password: string;
  /** Groups that exist. @default {["VECTRA-BLOCK", "VECTRA-EXTERNAL"]} */
  readonly groups?: readonly string[];
  /** User-Agents allowed to use Basic auth. @default {["ASDM", "CSM", "REST API Agent"]} */
  readonly userAgents?: readonly string[];
}

const clone = (c: AsaConfig): AsaConfig => ({
  objects: new Map([...c.objects].map(([k, v]) => [k, { ...v }])),
  groups: new Map([...c.groups].map(([k, v]) => [k, [...v]])),
});

/** The fake ASA. */
export class FakeAsa extends FakeDevice<AsaRequest> {
  running: AsaConfig;
  /** The startup configuration, as `write memory` left it. */
  saved: AsaConfig;
  /** `write memory` answers an error. */
  failWrite = false;
  #options: FakeAsaOptions;

  constructor(options: FakeAsaOptions) {
    super();
    this.#options = options;
    const groups = options.groups ?? ["VECTRA-BLOCK", "VECTRA-EXTERNAL"];
    this.running = { objects: new Map(), groups: new Map(groups.map((g) => [g, []])) };
    this.saved = clone(this.running);
  }

  async handle(request: Request): Promise<Response> {
    const url = new URL(request.url);
    const rawPath = url.pathname;
    const [, admin, mode, ...segments] = rawPath.split("/");
    const lines = segments.map((s) => decodeURIComponent(s));
    const recorded = {
      rawPath,
      lines,
      userAgent: request.headers.get("User-Agent"),
      authorization: request.headers.get("Authorization"),
    };
    this.record(recorded);
    const injected = await this.interpose(recorded);
    if (injected !== null) return new Response("Injected fault", { status: injected });
    const basic = `Basic ${btoa(`${this.#options.username}:${this.#options.password}`)}`;
    const agents = this.#options.userAgents ?? ["ASDM", "CSM", "REST API Agent"];
    if (recorded.authorization !== basic || !agents.includes(recorded.userAgent ?? "")) {
      return new Response("Unauthorized", { status: 401 });
    }
    if (admin !== "admin" || (mode !== "exec" && mode !== "config")) {
      return new Response("Not found", { status: 404 });
    }
    return new Response(mode === "exec" ? this.#exec(lines.join("/")) : this.#config(lines));
  }

  #exec(command: string): string {
    if (command === "show version") {
      return "Cisco Adaptive Security Appliance Software Version 9.18(3)\n";
    }
    if (command === "write memory") {
      if (this.failWrite) return "ERROR: Unable to write to flash: disk full\n";
      this.saved = clone(this.running);
      return "Building configuration...\nCryptochecksum: 1a2b3c4d\n[OK]\n";
    }
    const group = command.match(/^show running-config object-group id (\S+)$/);
    if (group) {
      const members = this.running.groups.get(group[1] ?? "");
      if (members === undefined) return "";
      return [`object-group network ${group[1]}`, ...members.map((m) => ` ${m}`)].join("\n") + "\n";
    }
    if (command === "show running-config object network") {
      return [...this.running.objects].map(([name, o]) =>
        [
          `object network ${name}`,
          ` ${o.address}`,
          ...(o.description ? [` description ${o.description}`] : []),
        ].join("\n")
      ).join("\n") + "\n";
    }
    return `ERROR: % Invalid input detected at '^' marker.\n`;
  }

  /** Runs configuration lines in order; the first error stops them. */
  #config(lines: readonly string[]): string {
    let object: string | null = null;
    let group: string | null = null;
    const out: string[] = [];
    for (const line of lines) {
      const error = this.#line(line, { object, group }, (o, g) => {
        object = o;
        group = g;
      });
      if (error !== null) {
        out.push(`ERROR: ${error}`);
        break;
      }
    }
    return out.join("\n") + (out.length > 0 ? "\n" : "");
  }

  #line(
    line: string,
    mode: { object: string | null; group: string | null },
    enter: (object: string | null, group: string | null) => void,
  ): string | null {
    const { objects, groups } = this.running;
    let m: RegExpMatchArray | null;
    if ((m = line.match(/^object network (\S+)$/))) {
      if (!objects.has(m[1] ?? "")) objects.set(m[1] ?? "", { address: "", description: "" });
      enter(m[1] ?? "", null);
      return null;
    }
    if ((m = line.match(/^no object network (\S+)$/))) {
      const name = m[1] ?? "";
      if (!objects.has(name)) return `object (${name}) does not exist`;
      if (
        [...groups.values()].some((members) => members.includes(`network-object object ${name}`))
      ) {
        return `Object (${name}) is in use.`;
      }
      objects.delete(name);
      return null;
    }
    if ((m = line.match(/^object-group network (\S+)$/))) {
      if (!groups.has(m[1] ?? "")) return `object-group (${m[1]}) does not exist`;
      enter(null, m[1] ?? "");
      return null;
    }
    if (mode.object !== null) {
      const object = objects.get(mode.object);
      if (object === undefined) return "no object";
      if ((m = line.match(/^(host \S+|subnet \S+( \S+)?)$/))) object.address = m[1] ?? "";
      else if ((m = line.match(/^description (.*)$/))) object.description = m[1] ?? "";
      else return `% Invalid input detected at '^' marker: ${line}`;
      return null;
    }
    if (mode.group !== null) {
      const members = groups.get(mode.group) ?? [];
      if ((m = line.match(/^(no )?(network-object (object \S+|host \S+))$/))) {
        const entry = m[2] ?? "";
        const named = entry.match(/^network-object object (\S+)$/);
        if (m[1] === undefined) {
          if (named && !objects.has(named[1] ?? "")) return `object (${named[1]}) does not exist`;
          if (members.includes(entry)) return `Duplicate object ${entry}`;
          members.push(entry);
        } else {
          if (!members.includes(entry)) {
            return `${entry} does not exist in object-group ${mode.group}`;
          }
          members.splice(members.indexOf(entry), 1);
        }
        return null;
      }
    }
    return `% Invalid input detected at '^' marker: ${line}`;
  }
}

/** Starts a fake ASA HTTP interface on 127.0.0.1. */
export function startFakeAsa(
  options: FakeAsaOptions & { tls?: { cert: string; key: string } },
): FakeServer<FakeAsa> {
  return serveFake(new FakeAsa(options), options.tls);
}
