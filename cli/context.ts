/**
 * What every command that reads `var.env` starts with: logging, the configuration (refused
 * with every problem listed), and the secret resolver.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import { CLIENTS } from "../clients/mod.ts";
import { loadConfig, type LoadedConfig } from "../config.ts";
import { setupLogging } from "../engine/log.ts";
import { SecretResolver } from "../engine/secrets.ts";

/** Options every configuration-reading command accepts. */
export interface CommonOptions {
  /** `--config PATH`. */
  config: string;
  /** `--debug`. */
  debug?: boolean;
  /** `--json`. */
  json?: boolean;
  /** `--secrets-dir DIR`. */
  secretsDir?: string;
  /** False with `--no-store-secrets`. */
  storeSecrets?: boolean;
  /** `--update-secrets`. */
  updateSecrets?: boolean;
}

/** A loaded configuration with its secret resolver. */
export interface CommandContext extends LoadedConfig {
  readonly secrets: SecretResolver;
}

/** Options of {@linkcode openContext}. */
export interface OpenContextOptions {
  /**
   * Where log lines go (`config` and `secrets` commands keep stdout for their output).
   * @default {"stdout"}
   */
  logStream?: "stdout" | "stderr";
  /**
   * Check that the files the configuration names exist; off for commands that read none.
   * @default {true}
   */
  checkFiles?: boolean;
}

/** Sets up logging, loads the configuration and logs its warnings; throws on a bad file. */
export async function openContext(
  options: CommonOptions,
  openOptions: OpenContextOptions = {},
): Promise<CommandContext> {
  await setupLogging({
    json: options.json ?? false,
    debug: options.debug ?? false,
    stream: openOptions.logStream ?? "stdout",
  });
  const loaded = await loadConfig(options.config, {
    clients: CLIENTS,
    checkFiles: openOptions.checkFiles ?? true,
  });
  const logger = getLogger(["var", "config"]);
  for (const warning of loaded.warnings) logger.warn("{warning}", { warning });
  const secrets = new SecretResolver({
    secretsDir: options.secretsDir ?? null,
    store: options.storeSecrets ?? true,
    update: options.updateSecrets ?? false,
  });
  return { ...loaded, secrets };
}
