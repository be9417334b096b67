/**
 * A recording program for `external_call` tests: a small `/bin/sh` script written into a
 * fresh temporary folder and run by its absolute path. (The client never uses a shell;
 * the program it runs may be one, as an operator's may.)
 *
 * Each run appends its arguments to a record file (NUL-separated, so any argument
 * round-trips exactly), writes the scripted stdout and stderr, optionally hangs, and exits
 * with the scripted code. When the first two arguments are `<kind> block|unblock` it also
 * acts as a device: it holds the remaining arguments as blocked values of that kind, so
 * tests read the effect from the device's state, not from the client's word.
 *
 * @module
 */

/** What the device side can hold. */
export type RecordedKind = "host" | "account" | "detection";

/** A recording program in its own temporary folder. */
export interface RecordingProgram {
  /** Absolute path of the program. */
  readonly path: string;
  /** The temporary folder (also usable for marker files in tests). */
  readonly dir: string;
  /** The arguments of every run so far (without the program), in order. */
  calls(): Promise<string[][]>;
  /** From now on every run writes `stderr` and `stdout`, and exits with `code`. */
  script(options: { code?: number; stderr?: string; stdout?: string }): Promise<void>;
  /** From now on every run hangs for `seconds` (in a child `sleep`) before exiting. */
  hang(seconds: number): Promise<void>;
  /** The pid of the `sleep` the last hanging run started, or null. */
  sleepPid(): Promise<number | null>;
  /** The values the device holds for a kind. */
  enforced(kind: RecordedKind): Promise<Set<string>>;
  /** Forgets every value held for a kind, behind the client's back. */
  vanish(kind: RecordedKind): Promise<void>;
  /** Removes the temporary folder. */
  close(): Promise<void>;
}

/** The script; `DIR` is replaced by the folder's absolute path. */
const SCRIPT = `#!/bin/sh
dir='DIR'
printf '%s\\0' "$#" "$@" >> "$dir/calls"
[ -s "$dir/stdout" ] && cat "$dir/stdout"
[ -s "$dir/stderr" ] && cat "$dir/stderr" >&2
if [ -s "$dir/sleep" ]; then
  sleep "$(cat "$dir/sleep")" &
  echo $! > "$dir/sleep_pid"
  wait
fi
code=0
[ -s "$dir/exit_code" ] && code=$(cat "$dir/exit_code")
[ "$code" != 0 ] && exit "$code"
if [ $# -ge 2 ]; then
  kind=$1
  action=$2
  shift 2
  case "$kind" in host|account|detection) ;; *) exit 0 ;; esac
  mkdir -p "$dir/state/$kind"
  for value in "$@"; do
    file="$dir/state/$kind/$(printf '%s' "$value" | tr '/' '_')"
    case "$action" in
      block) : > "$file" ;;
      unblock) rm -f -- "$file" ;;
    esac
  done
fi
exit 0
`;

/** Parses the NUL-separated record file: a count, then that many arguments, per run. */
function parseCalls(text: string): string[][] {
  const tokens = text.split("\0");
  const calls: string[][] = [];
  let i = 0;
  while (i < tokens.length - 1) {
    const count = Number(tokens[i]);
    calls.push(tokens.slice(i + 1, i + 1 + count));
    i += 1 + count;
  }
  return calls;
}

/** Writes the recording program into a fresh temporary folder. */
export async function createRecordingProgram(): Promise<RecordingProgram> {
  const dir = await Deno.makeTempDir({ prefix: "var_record_argv_" });
  const path = `${dir}/record_argv.sh`;
  await Deno.writeTextFile(path, SCRIPT.replace("DIR", dir));
  await Deno.chmod(path, 0o755);
  const readOr = async (file: string, fallback: string) => {
    try {
      return await Deno.readTextFile(`${dir}/${file}`);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return fallback;
      throw error;
    }
  };
  return {
    path,
    dir,
    calls: async () => parseCalls(await readOr("calls", "")),
    script: async ({ code = 0, stderr = "", stdout = "" }) => {
      await Deno.writeTextFile(`${dir}/exit_code`, String(code));
      await Deno.writeTextFile(`${dir}/stderr`, stderr);
      await Deno.writeTextFile(`${dir}/stdout`, stdout);
    },
    hang: (seconds) => Deno.writeTextFile(`${dir}/sleep`, String(seconds)),
    sleepPid: async () => {
      const text = (await readOr("sleep_pid", "")).trim();
      return text === "" ? null : Number(text);
    },
    enforced: async (kind) => {
      const values = new Set<string>();
      try {
        for await (const entry of Deno.readDir(`${dir}/state/${kind}`)) {
          values.add(entry.name.replaceAll("_", "/"));
        }
      } catch (error) {
        if (!(error instanceof Deno.errors.NotFound)) throw error;
      }
      return values;
    },
    vanish: async (kind) => {
      await Deno.remove(`${dir}/state/${kind}`, { recursive: true }).catch(() => {});
    },
    close: () => Deno.remove(dir, { recursive: true }),
  };
}
