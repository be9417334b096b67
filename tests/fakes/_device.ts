/**
 * The base of every fake vendor device: the request log and one set of fault switches
 * (`failNext`, `failAlways`, `heal`, `stall`, `beforeNext`), so each fake keeps only its
 * product's state and protocol. A fake's `handle()` records the request with
 * {@linkcode FakeDevice.record}, then asks {@linkcode FakeDevice.interpose} — at the
 * point of its protocol where a real device would fail (after authentication, for
 * instance) — whether to answer an injected status instead. Private to `tests/fakes/`.
 *
 * @module
 */

/** A change made to the device between two of var's calls, and the requests it waits for. */
interface BeforeHook<R> {
  readonly match: (request: R) => boolean;
  readonly action: () => void;
}

/** One device's request log and fault switches; `R` is the fake's recorded request. */
export class FakeDevice<R> {
  /** Every request received, in order. */
  readonly requests: R[] = [];
  #failures: number[] = [];
  #failAlways: number | null = null;
  #stallMs = 0;
  #before: BeforeHook<R>[] = [];
  #stalls = new Set<() => void>();

  /** The next `count` requests answer `status` without acting. */
  failNext(status: number, count = 1): void {
    for (let i = 0; i < count; i++) this.#failures.push(status);
  }

  /**
   * Every further request answers `status` without acting, until
   * {@linkcode FakeDevice.heal} (or `failAlways(null)`).
   */
  failAlways(status: number | null): void {
    this.#failAlways = status;
  }

  /** Cancels every fault switch: failures, stalls and pending `beforeNext` changes. */
  heal(): void {
    this.#failures = [];
    this.#failAlways = null;
    this.#stallMs = 0;
    this.#before = [];
    for (const release of this.#stalls) release();
  }

  /** Every further request waits `ms` before it is handled (a slow device); 0 stops it. */
  stall(ms: number): void {
    this.#stallMs = ms;
    if (ms === 0) { for (const release of this.#stalls) release(); }
  }

  /**
   * Runs `action` once, right before the first later request that `match`es (any request
   * when omitted) is handled: an administrator changing the device between two calls.
   */
  beforeNext(action: () => void, match: (request: R) => boolean = () => true): void {
    this.#before.push({ match, action });
  }

  /** Logs a request; call first in `handle()`. */
  protected record(request: R): void {
    this.requests.push(request);
  }

  /**
   * The shared fault switches for a recorded request, in the order a device meets them:
   * the pending `beforeNext` change that matches runs, a stall waits, then an injected
   * failure status is returned (null: handle the request normally).
   */
  protected async interpose(request: R): Promise<number | null> {
    const hook = this.#before.findIndex((entry) => entry.match(request));
    if (hook >= 0) this.#before.splice(hook, 1)[0]?.action();
    if (this.#stallMs > 0) {
      await new Promise<void>((resolve) => {
        const release = () => {
          clearTimeout(timer);
          this.#stalls.delete(release);
          resolve();
        };
        const timer = setTimeout(release, this.#stallMs);
        this.#stalls.add(release);
      });
    }
    return this.#failures.shift() ?? this.#failAlways;
  }

  /** Ends every stall in progress (the server is closing). */
  protected releaseStalls(): void {
    for (const release of this.#stalls) release();
  }
}
