/**
 * The V8 flags the compiled binary carries, read from the one place they are set: the
 * `--v8-flags=` of every target of `deno task compile` in `deno.json`. The benchmark and
 * the tests that run `main.ts` as a process pass the same flags, so what they measure and
 * prove is the binary's configuration.
 *
 * @module
 */

import denoJson from "../deno.json" with { type: "json" };

/**
 * The `--v8-flags=` value of a `deno compile` task: the same on every target, or an error
 * naming what differs.
 */
export function compileV8Flags(task: string): string {
  const values = [...task.matchAll(/--v8-flags=(\S+)/g)].map((m) => m[1] ?? "");
  const targets = task.split("&&").filter((part) => part.includes("deno compile")).length;
  if (values.length === 0) throw new Error(`The compile task sets no --v8-flags: ${task}`);
  if (values.length !== targets || new Set(values).size !== 1) {
    throw new Error(
      `The compile task's ${targets} target(s) must each set the same --v8-flags: found ${
        values.map((v) => `"${v}"`).join(", ")
      }`,
    );
  }
  return values[0] as string;
}

/** The binary's V8 flags, comma-separated (`--optimize-for-size,--jitless`). */
export const BINARY_V8_FLAGS: string = compileV8Flags(denoJson.tasks.compile);

/** The `deno run` argument that gives a process the binary's V8 flags. */
export const BINARY_V8_ARG = `--v8-flags=${BINARY_V8_FLAGS}`;
