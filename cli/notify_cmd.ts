/**
 * `var test-syslog` and `var test-smtp` (the original's `--test_syslog` and `--test_smtp`):
 * send one test message with the configured settings.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import { sendTestEmail, sendTestSyslog } from "../engine/notify.ts";
import { type CommonOptions, openContext } from "./context.ts";
import { UsageError } from "./exit_codes.ts";

/** `var test-syslog`: 0 when the collector took the message, else 1. */
export async function testSyslogCommand(options: CommonOptions): Promise<number> {
  const { config } = await openContext(options);
  if (config.syslog.server === "") {
    throw new UsageError(
      `Cannot send a test syslog message: SYSLOG_SERVER is empty in ${config.path}`,
    );
  }
  const delivery = await sendTestSyslog(config.syslog);
  const logger = getLogger(["var", "main"]);
  if (!delivery.ok) return 1;
  logger.info("Sent the test syslog message to {server}:{port} over {proto}", {
    server: config.syslog.server,
    port: config.syslog.port,
    proto: config.syslog.proto,
  });
  return 0;
}

/** `var test-smtp`: 0 when the server took the test email, else 1. */
export async function testSmtpCommand(options: CommonOptions): Promise<number> {
  const { config, secrets } = await openContext(options);
  const email = config.email;
  const empty = (["SMTP_SERVER", "SRC_EMAIL", "DST_EMAIL", "SMTP_USER"] as const).filter((key) =>
    ({
      SMTP_SERVER: email.server,
      SRC_EMAIL: email.from,
      DST_EMAIL: email.to,
      SMTP_USER: email.user,
    })[key] === ""
  );
  if (empty.length > 0) {
    throw new UsageError(
      `Cannot send a test email: ${empty.join(", ")} ${
        empty.length === 1 ? "is" : "are"
      } empty in ${config.path}`,
    );
  }
  if (email.auth) await secrets.lookup("VAR", "Email");
  const delivery = await sendTestEmail(email, secrets.lookup);
  if (!delivery.ok) return 1;
  getLogger(["var", "main"]).info("Sent the test email to {to} through {server}:{port}", {
    to: email.to,
    server: email.server,
    port: email.port,
  });
  return 0;
}
