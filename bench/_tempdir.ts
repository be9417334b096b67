/**
 * A temporary folder for the benchmark's `var.env` and secrets directory. With write
 * permission it is made with Deno's own calls; without it (the `benchmark` permission
 * set has none) the files are made by `mktemp`, `tee` and `rm`, started as subprocesses
 * with argv arrays. Private to `bench/`.
 *
 * @module
 */

/** A temporary folder that removes itself. */
export interface TempDir extends AsyncDisposable {
  /** Its absolute path. */
  readonly path: string;
  /** Writes a file in it (mode 0600). */
  write(name: string, text: string): Promise<void>;
}

async function run(command: string, args: string[], input?: string): Promise<string> {
  const child = new Deno.Command(command, {
    args,
    stdin: input === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (input !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(input));
    await writer.close();
  }
  const out = await child.output();
  if (!out.success) {
    throw new Error(
      `Cannot run ${command}: it exited ${out.code}: ${new TextDecoder().decode(out.stderr)}`,
    );
  }
  return new TextDecoder().decode(out.stdout);
}

function canWrite(): boolean {
  return Deno.permissions.querySync({ name: "write" }).state === "granted";
}

/** Makes a temporary folder named `var-bench-…`. */
export async function makeTempDir(): Promise<TempDir> {
  if (canWrite()) {
    const path = await Deno.makeTempDir({ prefix: "var-bench-" });
    return {
      path,
      write: (name, text) => Deno.writeTextFile(`${path}/${name}`, text, { mode: 0o600 }),
      [Symbol.asyncDispose]: () => Deno.remove(path, { recursive: true }),
    };
  }
  const path = (await run("mktemp", ["-d", "-t", "var-bench-XXXXXX"])).trim();
  return {
    path,
    write: async (name, text) => {
      await run("tee", [`${path}/${name}`], text);
      await run("chmod", ["600", `${path}/${name}`]);
    },
    [Symbol.asyncDispose]: async () => {
      await run("rm", ["-r", "--", path]);
    },
  };
}
