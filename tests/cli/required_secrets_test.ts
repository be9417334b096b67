import assert from "node:assert/strict";
import { requiredSecrets } from "../../cli/required_secrets.ts";
import { CLIENTS } from "../../clients/mod.ts";
import { parseConfig } from "../../config.ts";

function configOf(text: string) {
  return parseConfig(text, { path: "var.env", clients: CLIENTS }).config;
}

Deno.test("requiredSecrets() names each brain's credentials under the entry as written", () => {
  const config = configOf(
    "COGNITO_URL=brain.example.com/,https://1.uw2.portal.vectra.ai,lab.example.com\nAUTH=TOKEN\nVECTRA_API_VERSION=2,auto,3\n",
  );
  assert.deepEqual(requiredSecrets(config, CLIENTS).map((s) => [s.service, s.key]), [
    ["brain.example.com/", "Token"],
    ["https://1.uw2.portal.vectra.ai", "Client_ID"],
    ["https://1.uw2.portal.vectra.ai", "Secret_Key"],
    ["lab.example.com", "Client_ID"],
    ["lab.example.com", "Secret_Key"],
  ]);
});

Deno.test("requiredSecrets() adds VAR/Email only when email is sent with authentication", () => {
  const base = "COGNITO_URL=a.example.com\nSEND_EMAIL=true\nSMTP_SERVER=smtp.example.com\n";
  assert.deepEqual(
    requiredSecrets(configOf(base + "SMTP_AUTH=true\n"), CLIENTS).map((s) =>
      `${s.service}/${s.key}`
    ),
    ["a.example.com/Client_ID", "a.example.com/Secret_Key", "VAR/Email"],
  );
  assert.equal(requiredSecrets(configOf(base), CLIENTS).length, 2);
  assert.equal(
    requiredSecrets(configOf("COGNITO_URL=a.example.com\nSMTP_AUTH=true\n"), CLIENTS).length,
    2,
    "no email, no password",
  );
});
