/**
 * The original's command line (`python var.py --loop --groom --alert --no_store_secrets`
 * ...) kept working: its flags are rewritten to var's before the parser sees them.
 *
 * @module
 */

import { UsageError } from "./exit_codes.ts";

const RENAMED: Readonly<Record<string, string>> = {
  "--alert": "--dry-run",
  "--no_store_secrets": "--no-store-secrets",
  "--update_secrets": "--update-secrets",
  "--dry_run": "--dry-run",
  "--secrets_dir": "--secrets-dir",
};

const COMMANDS: Readonly<Record<string, string>> = {
  "--test_smtp": "test-smtp",
  "--test-smtp": "test-smtp",
  "--test_syslog": "test-syslog",
  "--test-syslog": "test-syslog",
};

/**
 * Rewrites the original's flags: `--alert` → `--dry-run`, underscore spellings →
 * hyphenated, `--test_smtp`/`--test_syslog` → the `test-smtp`/`test-syslog` commands.
 * Throws a {@linkcode UsageError} for `--plaintext` (decisions.md #13).
 *
 * @example
 * ```ts
 * rewriteLegacyArgs(["--loop", "--alert"]); // ["--loop", "--dry-run"]
 * ```
 */
export function rewriteLegacyArgs(args: readonly string[]): string[] {
  const out: string[] = [];
  let command: string | null = null;
  for (const [index, arg] of args.entries()) {
    if (arg === "--") {
      out.push(...args.slice(index));
      break;
    }
    if (arg === "--plaintext") {
      throw new UsageError(
        "Cannot use --plaintext: var never keeps secrets in a plaintext keyring file; " +
          "on a host without a keychain, put one file per secret in a folder only var's user can read " +
          "and run with --secrets-dir DIR (see `var secrets list` for the file names)",
      );
    }
    const target = COMMANDS[arg];
    if (target !== undefined) {
      command = target;
      continue;
    }
    out.push(RENAMED[arg] ?? arg);
  }
  if (command === null) return out;
  // The test commands take only --config, --debug, --json and --secrets-dir.
  const kept: string[] = [];
  for (let i = 0; i < out.length; i++) {
    const arg = out[i] ?? "";
    if (["--debug", "--json", "--no-store-secrets", "--update-secrets"].includes(arg)) {
      kept.push(arg);
    } else if (["--config", "--secrets-dir"].includes(arg)) {
      kept.push(arg, out[i + 1] ?? "");
      i++;
    } else if (/^--(config|secrets-dir)=/.test(arg)) {
      kept.push(arg);
    }
  }
  return [command, ...kept];
}
