/**
 * HTTPS without certificate verification, for the explicit per-endpoint opt-out only.
 * Deno's `fetch` has no per-request switch for it, so this goes through `node:https`
 * (which needs no permission beyond net).
 *
 * @module
 */

import https from "node:https";

/** What {@linkcode insecureFetch} sends. */
export interface InsecureRequest {
  readonly method: string;
  readonly headers: Headers;
  readonly body?: string;
  readonly signal: AbortSignal;
}

/** What {@linkcode insecureFetch} returns: the status, headers and the whole body. */
export interface InsecureResponse {
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
}

/** Sends one HTTPS request without verifying the server certificate. */
export function insecureFetch(url: URL, init: InsecureRequest): Promise<InsecureResponse> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = {};
    init.headers.forEach((value, key) => headers[key] = value);
    if (init.body !== undefined) {
      headers["content-length"] = String(new TextEncoder().encode(init.body).length);
    }
    const request = https.request({
      host: url.hostname.replace(/^\[|\]$/g, ""),
      port: url.port === "" ? 443 : Number(url.port),
      path: `${url.pathname}${url.search}`,
      method: init.method,
      headers,
      rejectUnauthorized: false,
      ca: [],
      signal: init.signal,
    }, (response) => {
      const chunks: Uint8Array[] = [];
      response.on("data", (chunk: Uint8Array) => chunks.push(chunk));
      response.on("error", reject);
      response.on("end", () => {
        const responseHeaders = new Headers();
        for (const [key, value] of Object.entries(response.headers)) {
          if (value === undefined) continue;
          for (const item of Array.isArray(value) ? value : [value]) {
            responseHeaders.append(key, item);
          }
        }
        const total = chunks.reduce((sum, chunk) => sum + chunk.length, 0);
        const bytes = new Uint8Array(total);
        let offset = 0;
        for (const chunk of chunks) {
          bytes.set(chunk, offset);
          offset += chunk.length;
        }
        resolve({
          status: response.statusCode ?? 0,
          headers: responseHeaders,
          text: new TextDecoder().decode(bytes),
        });
      });
    });
    request.on("error", reject);
    if (init.body !== undefined) request.write(init.body);
    request.end();
  });
}
