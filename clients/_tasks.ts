/**
 * Asynchronous device tasks (a publish, a policy install): the `<PREFIX>_TASK_TIMEOUT_SECONDS`
 * and `<PREFIX>_TASK_POLL_SECONDS` keys, and polling a task to its end within the deadline.
 * Private to `clients/`.
 *
 * @module
 */

import type { ConfigKey } from "./interface.ts";

/** How long a task may take, and how often it is polled, in milliseconds. */
export interface TaskTiming {
  readonly timeoutMs: number;
  readonly pollMs: number;
}

/** The two task keys of a vendor; `timeoutSeconds` is the default deadline. */
export function taskKeys(prefix: string, what: string, timeoutSeconds = 600): ConfigKey[] {
  return [
    {
      key: `${prefix}_TASK_TIMEOUT_SECONDS`,
      default: String(timeoutSeconds),
      help:
        `Longest wait for ${what} task (1 to 3600); past it the batch fails and the next cycle retries.`,
    },
    {
      key: `${prefix}_TASK_POLL_SECONDS`,
      default: "2",
      help: "Pause between two polls of a task, in seconds (0.01 to 60).",
    },
  ];
}

/** Parses the task keys; each problem is reported through `fail(key, message)`. */
export function parseTaskTiming(
  raw: Readonly<Record<string, string>>,
  prefix: string,
  fail: (key: string, message: string) => void,
): TaskTiming | null {
  const seconds = (key: string, min: number, max: number): number | null => {
    const text = (raw[key] ?? "").trim();
    const n = Number(text);
    if (text !== "" && Number.isFinite(n) && n >= min && n <= max) return n;
    fail(key, `${key} is "${text}"; use a number of seconds from ${min} to ${max}`);
    return null;
  };
  const timeout = seconds(`${prefix}_TASK_TIMEOUT_SECONDS`, 1, 3600);
  const poll = seconds(`${prefix}_TASK_POLL_SECONDS`, 0.01, 60);
  return timeout === null || poll === null
    ? null
    : { timeoutMs: timeout * 1000, pollMs: poll * 1000 };
}

/**
 * Polls `check` until it answers done (true); throws `late(seconds)` when the next poll
 * would pass the deadline. A failed task is `check`'s to throw.
 */
export async function pollTask(
  timing: TaskTiming,
  check: () => Promise<boolean>,
  late: (seconds: number) => Error,
): Promise<void> {
  const deadline = Date.now() + timing.timeoutMs;
  while (!(await check())) {
    if (Date.now() + timing.pollMs > deadline) throw late(timing.timeoutMs / 1000);
    await new Promise((resolve) => setTimeout(resolve, timing.pollMs));
  }
}
