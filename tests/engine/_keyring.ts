/**
 * A private, unlocked gnome-keyring in its own D-Bus session, for tests that use the real
 * `secret-tool` (testing.md, "The real keychain, headless"). Each start gets a fresh
 * `XDG_DATA_HOME`, so no keyring left by an earlier run (with another password) is locked.
 *
 * @module
 */

/** A running private keyring; dispose it to stop the session and remove its files. */
export interface PrivateKeyring extends AsyncDisposable {
  /** Environment that points `secret-tool` at this keyring. */
  readonly env: Record<string, string>;
  /** Runs `secret-tool` against this keyring (value on stdin when given). */
  secretTool(args: string[], stdin?: string): Promise<{ code: number; stdout: string }>;
}

const SCRIPT = `
eval "$(printf var-test-password | gnome-keyring-daemon --unlock --components=secrets)"
echo "READY $DBUS_SESSION_BUS_ADDRESS"
cat >/dev/null
`;

/** Starts `dbus-run-session` with an unlocked gnome-keyring-daemon inside. */
export async function startPrivateKeyring(): Promise<PrivateKeyring> {
  const home = await Deno.makeTempDir({ prefix: "var-keyring-" });
  const child = new Deno.Command("dbus-run-session", {
    args: ["--", "sh", "-c", SCRIPT],
    env: { XDG_DATA_HOME: home, XDG_RUNTIME_DIR: home, HOME: home },
    stdin: "piped",
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  const deadline = Date.now() + 15_000;
  while (!text.includes("\n") && Date.now() < deadline) {
    const { value, done } = await reader.read();
    if (done) break;
    text += value;
  }
  const address = /^READY (\S+)/m.exec(text)?.[1];
  const stop = async () => {
    try {
      await child.stdin.close();
    } catch {
      // already closed
    }
    while (!(await reader.read()).done) {
      // drain until the session ends
    }
    await child.status;
    await Deno.remove(home, { recursive: true });
  };
  if (address === undefined) {
    await stop();
    throw new Error(`Cannot start a private keyring: dbus-run-session printed "${text}"`);
  }
  const env = { DBUS_SESSION_BUS_ADDRESS: address, XDG_DATA_HOME: home };
  return {
    env,
    async secretTool(args, stdin) {
      const proc = new Deno.Command("secret-tool", {
        args,
        env,
        stdin: stdin === undefined ? "null" : "piped",
        stdout: "piped",
        stderr: "null",
      }).spawn();
      if (stdin !== undefined) {
        const writer = proc.stdin.getWriter();
        await writer.write(new TextEncoder().encode(stdin));
        await writer.close();
      }
      const out = await proc.output();
      return { code: out.code, stdout: new TextDecoder().decode(out.stdout) };
    },
    [Symbol.asyncDispose]: stop,
  };
}
