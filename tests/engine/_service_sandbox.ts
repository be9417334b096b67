/**
 * A service under the binary's permissions for the real-signal tests in `service_test.ts`:
 * `--loop` with one cycle of four actions; each action prints `start N`, waits
 * `actionMs` (first argument), then prints `state written N`. Stops like `main.ts` does.
 *
 * @module
 */

import { installShutdownSignals, runService } from "../../engine/service.ts";

const actionMs = Number(Deno.args[0] ?? "300");
const controller = new AbortController();
const removeSignals = installShutdownSignals(controller);
const print = (line: string) => Deno.stdout.writeSync(new TextEncoder().encode(`${line}\n`));
const result = await runService({
  loop: true,
  sleepMinutes: 60,
  window: { days: new Set([0, 1, 2, 3, 4, 5, 6]), startHour: 0, endHour: 0, unblockOutside: false },
  signal: controller.signal,
  cycle: async (now, signal) => {
    for (const n of [1, 2, 3, 4]) {
      if (signal.aborted) break;
      print(`start ${n}`);
      await new Promise((resolve) => setTimeout(resolve, actionMs));
      print(`state written ${n}`);
    }
    return {
      brains: [],
      actions: [],
      messages: [],
      acted: true,
      exitCode: 0,
      startedAt: now,
      durationMs: 0,
    };
  },
});
removeSignals();
print(`stopped after ${result.cycles} cycle(s)`);
Deno.exitCode = result.exitCode;
