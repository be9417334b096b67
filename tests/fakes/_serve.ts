/**
 * A loopback server for a fake device that can be taken down and brought back on the same
 * port, to test a device that stops answering. Private to `tests/fakes/`.
 *
 * @module
 */

/** A fake device's listener. */
export interface RestartableServer {
  /** `http://127.0.0.1:<port>`, or `https://localhost:<port>` with TLS. */
  readonly url: string;
  readonly port: number;
  /** Stops listening: further connections are refused. */
  down(): Promise<void>;
  /** Listens again on the same port. */
  up(): void;
  /** Shuts down; safe after `down()`. */
  close(): Promise<void>;
}

/** Serves `handler` on 127.0.0.1, port 0, over HTTPS when `tls` is given. */
export function serveRestartable(
  handler: (request: Request) => Response | Promise<Response>,
  tls?: { cert: string; key: string },
): RestartableServer {
  const serve = (port: number) =>
    Deno.serve({
      hostname: "127.0.0.1",
      port,
      onListen() {},
      ...(tls ? { cert: tls.cert, key: tls.key } : {}),
    }, handler);
  let server: Deno.HttpServer<Deno.NetAddr> | null = serve(0);
  const port = server.addr.port;
  const stop = async () => {
    const running = server;
    server = null;
    await running?.shutdown();
  };
  return {
    url: tls ? `https://localhost:${port}` : `http://127.0.0.1:${port}`,
    port,
    down: stop,
    up() {
      if (server === null) server = serve(port);
    },
    close: stop,
  };
}

/** A fake device served on 127.0.0.1, with its state and fault switches at hand. */
export interface FakeServer<F> extends RestartableServer, AsyncDisposable {
  /** The fake: its state, admin helpers and fault switches. */
  readonly fake: F;
}

/**
 * Serves a fake device (over HTTPS with `tls`); closing heals its fault switches first,
 * so a stalled request cannot hold the shutdown.
 */
export function serveFake<F extends { handle(request: Request): Promise<Response>; heal(): void }>(
  fake: F,
  tls?: { cert: string; key: string },
): FakeServer<F> {
  const server = serveRestartable((request) => fake.handle(request), tls);
  const close = async () => {
    fake.heal();
    await server.close();
  };
  return { ...server, fake, close, [Symbol.asyncDispose]: close };
}
