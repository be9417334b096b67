/**
 * Commands that hand a script to a shell (`sh -c '…'`, `cmd /c …`, `pwsh -Command …`):
 * finding the script part of an argv, and the character set a value must keep to before
 * it may be spliced into one. Private to `clients/`.
 *
 * @module
 */

/** How a shell takes its script: the one argument after the flag, or every argument after it. */
type ScriptShape = "next" | "rest";

/** Shells by program name (lower case, without `.exe`), with how they take a script. */
const SHELLS: Readonly<Record<string, ScriptShape>> = {
  sh: "next",
  bash: "next",
  dash: "next",
  zsh: "next",
  ksh: "next",
  mksh: "next",
  ash: "next",
  busybox: "next",
  cmd: "rest",
  powershell: "rest",
  pwsh: "rest",
};

/** The flag that makes the following argument(s) a script, per shell family. */
function isScriptFlag(shell: string, arg: string): boolean {
  if (shell === "cmd") return /^\/[ck]$/i.test(arg);
  if (shell === "powershell" || shell === "pwsh") {
    return /^[-/](c|co|com|comm|comma|comman|command|e|ec|enc|encodedcommand)$/i.test(arg);
  }
  // POSIX shells: -c, alone or with other one-letter options (-ec, -lc, -xc).
  return /^-[A-Za-z]*c[A-Za-z]*$/.test(arg);
}

/** The script of a shell command: the shell's name and the arguments that form the script. */
export interface ShellScript {
  /** The shell as written, e.g. `/bin/bash`. */
  readonly shell: string;
  /** The script flag, e.g. `-c`. */
  readonly flag: string;
  /** Indexes in the argv of the arguments that form the script. */
  readonly indexes: readonly number[];
}

/**
 * The script part of an argv that runs a shell with a script, or null. Any argument naming
 * a shell counts, so wrappers (`env`, `sudo`, `timeout 5`) are seen through; that may flag
 * a command that only mentions a shell, which errs on the safe side.
 *
 * @example
 * ```ts
 * shellScript(["/bin/sh", "-c", "isolate {ip}"]); // { shell: "/bin/sh", flag: "-c", indexes: [2] }
 * shellScript(["/usr/local/bin/isolate", "{ip}"]); // null
 * ```
 */
export function shellScript(argv: readonly string[]): ShellScript | null {
  for (let i = 0; i < argv.length; i++) {
    const word = argv[i] ?? "";
    const base = (word.split(/[\\/]/).pop() ?? "").toLowerCase().replace(/\.exe$/, "");
    const shape = SHELLS[base];
    if (shape === undefined) continue;
    for (let j = i + 1; j < argv.length; j++) {
      const arg = argv[j] ?? "";
      if (!isScriptFlag(base, arg)) continue;
      const end = shape === "next" ? Math.min(j + 2, argv.length) : argv.length;
      const indexes: number[] = [];
      for (let k = j + 1; k < end; k++) indexes.push(k);
      return { shell: word, flag: arg, indexes };
    }
  }
  return null;
}

/**
 * The characters a value may hold to be spliced into a shell script: letters and digits of
 * any script, spaces, and `. _ : @ / + , = -`. No quote, `$`, backquote, `;`, `&`, `|`,
 * redirection, glob, bracket, backslash, `%`, `^`, `!` or control character.
 */
export const SHELL_SAFE_VALUE: RegExp = /^[\p{L}\p{M}\p{N} ._:@/+,=-]*$/u;

/** What {@linkcode SHELL_SAFE_VALUE} allows, for error messages. */
export const SHELL_SAFE_DESCRIPTION =
  "letters, digits, spaces and . _ : @ / + , = - (no quotes, $, `, ;, &, |, <, >, " +
  "brackets, globs, backslashes or control characters)";
