import assert from "node:assert/strict";
import { UsageError } from "../../cli/exit_codes.ts";
import { rewriteLegacyArgs } from "../../cli/legacy_args.ts";

Deno.test("rewriteLegacyArgs() maps the original's flags to var's", () => {
  assert.deepEqual(
    rewriteLegacyArgs([
      "--loop",
      "--groom",
      "--alert",
      "--debug",
      "--no_store_secrets",
      "--update_secrets",
    ]),
    ["--loop", "--groom", "--dry-run", "--debug", "--no-store-secrets", "--update-secrets"],
  );
  assert.deepEqual(rewriteLegacyArgs(["run", "--config", "x.env"]), ["run", "--config", "x.env"]);
});

Deno.test("rewriteLegacyArgs() turns --test_smtp and --test_syslog into commands", () => {
  assert.deepEqual(rewriteLegacyArgs(["--debug", "--test_smtp", "--loop", "--config", "a.env"]), [
    "test-smtp",
    "--debug",
    "--config",
    "a.env",
  ]);
  assert.deepEqual(rewriteLegacyArgs(["--test_syslog", "--config=b.env"]), [
    "test-syslog",
    "--config=b.env",
  ]);
});

Deno.test("rewriteLegacyArgs() refuses --plaintext and leaves arguments after -- alone", () => {
  assert.throws(() => rewriteLegacyArgs(["--plaintext"]), UsageError);
  assert.deepEqual(rewriteLegacyArgs(["secrets", "set", "--", "--alert", "Token"]), [
    "secrets",
    "set",
    "--",
    "--alert",
    "Token",
  ]);
});
