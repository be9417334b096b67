/**
 * Runs `var test-syslog` and `var test-smtp` deliveries under the binary's permissions
 * (`deno run -P`: net, run, read); used by `notify_test.ts`. Argument: JSON with
 * `smtpPort`, `syslogPort` and `caFile`. Prints both results as JSON.
 *
 * @module
 */

import { sendTestEmail, sendTestSyslog } from "../../engine/notify.ts";

const { smtpPort, syslogPort, caFile } = JSON.parse(Deno.args[0] ?? "{}");
const syslog = await sendTestSyslog({
  enabled: true,
  server: "localhost",
  port: syslogPort,
  proto: "UDP",
  format: "CEF",
});
const email = await sendTestEmail(
  {
    enabled: true,
    server: "localhost",
    port: smtpPort,
    from: "var@soc.example",
    to: "soc@hospital.example",
    auth: true,
    user: "var-mailer",
    tls: "starttls",
    caFile,
  },
  () => Promise.resolve("s3cret-mail-pw"),
  { timeoutMs: 5_000 },
);
console.log(JSON.stringify({ syslog, email }));
