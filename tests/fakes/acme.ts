/**
 * The fake of the worked example in `docs/clients/_writing-a-client.md`: a NAC appliance
 * that quarantines addresses (`PUT /api/quarantine/<ip>` → 201, or 200 when it already
 * was; `DELETE` → 204, or 404 when it was not), behind a bearer token, on the shared
 * device base.
 *
 * @module
 */

import { FakeDevice } from "./_device.ts";
import { type FakeServer, serveFake } from "./_serve.ts";

/** One request as the fake received it. */
export interface AcmeRequest {
  readonly method: string;
  readonly path: string;
}

/** The fake appliance: the quarantined addresses, and the shared fault switches. */
export class FakeAcme extends FakeDevice<AcmeRequest> {
  readonly quarantined = new Set<string>();
  #token: string;

  constructor(token: string) {
    super();
    this.#token = token;
  }

  /** Handles one request. */
  async handle(request: Request): Promise<Response> {
    const path = decodeURIComponent(new URL(request.url).pathname);
    const recorded = { method: request.method, path };
    this.record(recorded);
    if (request.headers.get("Authorization") !== `Bearer ${this.#token}`) {
      return new Response(null, { status: 401 });
    }
    const status = await this.interpose(recorded);
    if (status !== null) return Response.json({ error: "injected" }, { status });
    const ip = path.match(/^\/api\/quarantine\/([^/]+)$/)?.[1];
    if (ip === undefined) return new Response(null, { status: 404 });
    if (request.method === "PUT") {
      const added = !this.quarantined.has(ip);
      this.quarantined.add(ip);
      return new Response(null, { status: added ? 201 : 200 });
    }
    if (request.method === "DELETE") {
      return new Response(null, { status: this.quarantined.delete(ip) ? 204 : 404 });
    }
    return new Response(null, { status: 405 });
  }
}

/** Starts a fake appliance on 127.0.0.1. */
export function startFakeAcme(token: string): FakeServer<FakeAcme> {
  return serveFake(new FakeAcme(token));
}
