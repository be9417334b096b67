/**
 * The `var` command line (engine.md §7): parses arguments, hands each command to its module
 * in `cli/`, and turns typed errors into exit codes: 0 success, 1 usage or configuration
 * error (a missing secret included), 2 a cycle finished but some actions failed, 3 Vectra
 * could not be read.
 *
 * Runs with exactly the `net`, `run` and `read` permissions (`deno run -P main.ts`).
 *
 * @module
 */

import { Command, CommanderError, Option } from "commander";
import { AggregateConfigError, ConfigError } from "./config.ts";
import { runDemo } from "./demo/run.ts";
import { redactText } from "./engine/log.ts";
import { KeychainError, MissingSecretError } from "./engine/secrets.ts";
import { VectraError } from "./engine/vectra/api.ts";
import { configCheckCommand, configTemplateCommand } from "./cli/config_cmd.ts";
import { configInitCommand } from "./cli/config_init.ts";
import type { CommonOptions } from "./cli/context.ts";
import { EXIT_USAGE, EXIT_VECTRA_UNREADABLE, UsageError } from "./cli/exit_codes.ts";
import { rewriteLegacyArgs } from "./cli/legacy_args.ts";
import { testSmtpCommand, testSyslogCommand } from "./cli/notify_cmd.ts";
import { runCommand, type RunOptions } from "./cli/run_cmd.ts";
import { secretsCheckCommand, secretsListCommand, secretsSetCommand } from "./cli/secrets_cmd.ts";
import { VERSION } from "./cli/version.ts";
import { errorText } from "./engine/error_text.ts";

const encoder = new TextEncoder();

function writeErr(text: string): void {
  const bytes = encoder.encode(text);
  let offset = 0;
  while (offset < bytes.length) offset += Deno.stderr.writeSync(bytes.subarray(offset));
}

function writeOut(text: string): void {
  const bytes = encoder.encode(text);
  let offset = 0;
  while (offset < bytes.length) offset += Deno.stdout.writeSync(bytes.subarray(offset));
}

type Action = () => Promise<number>;

function configOption(): Option {
  return new Option("-c, --config <path>", "the configuration file").default("./var.env");
}

function withCommon(command: Command, secretsOptions = true): Command {
  command
    .addOption(configOption())
    .option("--debug", "log DEBUG lines too")
    .option("--json", "one JSON object per line on stdout instead of text");
  if (secretsOptions) {
    command
      .option("--secrets-dir <dir>", "read secrets from files in DIR (see `var secrets list`)")
      .option("--no-store-secrets", "do not store prompted secrets in the keychain")
      .option("--update-secrets", "ask for every secret again and store the new value");
  }
  return command;
}

/** Builds the command-line parser; `run` receives the action of the chosen command. */
export function buildProgram(run: (action: Action) => void): Command {
  const program = new Command("var")
    .description(
      "Vectra Automated Response: blocks and unblocks hosts, accounts and detections seen by " +
        "Vectra brains on firewalls, EDRs and NACs, by policy.",
    )
    .exitOverride()
    .configureOutput({
      writeOut,
      writeErr,
      getOutHasColors: () => false,
      getErrHasColors: () => false,
      getOutHelpWidth: () => 100,
      getErrHelpWidth: () => 100,
    })
    .showSuggestionAfterError(true)
    .addHelpText(
      "after",
      "\nExit codes: 0 success, 1 usage or configuration error (missing secret included),\n" +
        "2 a cycle finished but some actions failed, 3 Vectra could not be read.\n" +
        "The original's flags (--loop --groom --alert --debug --no_store_secrets\n" +
        "--update_secrets --test_smtp --test_syslog) still work.",
    );

  withCommon(
    program.command("run", { isDefault: true })
      .description("run one cycle (the default command); --loop runs as a service"),
  )
    .option("--loop", "run cycles every SLEEP_MINUTES until SIGINT/SIGTERM")
    .option("--groom", "re-block hosts whose address changed (clients that support it)")
    .option("--dry-run", "decide and report, change nothing (the original's --alert)")
    .option("--confirm-blast-radius", "act beyond the blast-radius limits, this run only")
    .action((options: RunOptions) => run(() => runCommand(options)));

  withCommon(
    program.command("plan")
      .description("show what would be blocked and unblocked, and why (= run --dry-run)"),
  )
    .option("--groom", "include grooming in the plan")
    .option("--confirm-blast-radius", "plan as if the limits were confirmed")
    .action((options: RunOptions) =>
      run(() => runCommand({ ...options, dryRun: true, notify: false }))
    );

  program.command("demo")
    .description("run the main job against the built-in simulated brain (no setup needed)")
    .option("--debug", "log DEBUG lines too")
    .option("--json", "one JSON object per line on stdout instead of text")
    .action((options: { debug?: boolean; json?: boolean }) =>
      run(() => runDemo({ debug: options.debug ?? false, json: options.json ?? false }))
    );

  const config = program.command("config").description("check, write or create var.env");
  withCommon(
    config.command("check")
      .description("validate var.env and print the effective configuration (no secrets)"),
    false,
  ).action((options: CommonOptions) => run(() => configCheckCommand(options)));
  config.command("template")
    .description("print a commented var.env with every key and its default")
    .action(() => run(() => configTemplateCommand()));
  config.command("init")
    .description("interactive helper: asks questions on stderr, prints var.env on stdout")
    .action(() => run(() => configInitCommand()));

  const secrets = program.command("secrets").description("store and inspect secrets");
  secrets.command("set")
    .description("store a secret in the keychain; the value is read from stdin (no echo)")
    .argument("<service>", "the system, e.g. the brain as written in COGNITO_URL, or VAR")
    .argument("<key>", "the secret's name, e.g. Token, Client_ID, Secret_Key, Email")
    .action((service: string, key: string) => run(() => secretsSetCommand(service, key)));
  withCommon(
    secrets.command("list")
      .description("every secret the configuration needs and where it is found (never values)"),
  ).action((options: CommonOptions) => run(() => secretsListCommand(options)));
  withCommon(
    secrets.command("check").description("as list; exits 1 when a secret is missing"),
  ).action((options: CommonOptions) => run(() => secretsCheckCommand(options)));

  withCommon(program.command("test-syslog").description("send a test syslog message"))
    .action((options: CommonOptions) => run(() => testSyslogCommand(options)));
  withCommon(program.command("test-smtp").description("send a test email"))
    .action((options: CommonOptions) => run(() => testSmtpCommand(options)));

  program.command("version")
    .description("print the version")
    .action(() =>
      run(() => {
        writeOut(`var ${VERSION}\n`);
        return Promise.resolve(0);
      })
    );
  return program;
}

function exitCodeFor(error: unknown): number {
  if (error instanceof AggregateConfigError) {
    writeErr(redactText(error.message) + "\n");
    return EXIT_USAGE;
  }
  if (
    error instanceof ConfigError || error instanceof MissingSecretError ||
    error instanceof KeychainError || error instanceof UsageError
  ) {
    writeErr(redactText(error.message) + "\n");
    return EXIT_USAGE;
  }
  if (error instanceof VectraError) {
    writeErr(redactText(error.message) + "\n");
    return EXIT_VECTRA_UNREADABLE;
  }
  const message = errorText(error);
  writeErr(redactText(`Cannot run var: ${message}`) + "\n");
  return EXIT_USAGE;
}

/** Runs var with `args` (without the program name) and resolves to the exit code. */
export async function main(args: readonly string[]): Promise<number> {
  let action: Action | null = null;
  try {
    const program = buildProgram((chosen) => {
      action = chosen;
    });
    await program.parseAsync(rewriteLegacyArgs(args), { from: "user" });
  } catch (error) {
    if (error instanceof CommanderError) {
      return error.exitCode === 0 ? 0 : EXIT_USAGE;
    }
    return exitCodeFor(error);
  }
  if (action === null) return EXIT_USAGE;
  try {
    return await (action as Action)();
  } catch (error) {
    return exitCodeFor(error);
  }
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
