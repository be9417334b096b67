import assert from "node:assert/strict";
import { getLogger, withContext } from "@logtape/logtape";
import { escapeControlsDeep, redactText, resetLogging, setupLogging } from "../../engine/log.ts";
import { SecretValues } from "../../engine/secrets.ts";

const SECRET = 'pa$$w0rd"with\\quote-7f3a9c';

async function capture(
  options: { json?: boolean; debug?: boolean; values: SecretValues },
  body: () => void | Promise<void>,
): Promise<string[]> {
  const lines: string[] = [];
  await setupLogging({ ...options, secrets: options.values, write: (line) => lines.push(line) });
  try {
    await body();
  } finally {
    await resetLogging();
  }
  return lines;
}

Deno.test("setupLogging() writes text lines as DATE TIME LEVEL [brain] message {props}", async () => {
  const values = new SecretValues();
  const lines = await capture({ values }, () => {
    const logger = getLogger(["var", "test"]);
    logger.info("Blocked host {name} on {client}", {
      name: "ward-3-pc",
      client: "fortinet",
      brain: "brain.example.com",
      elements: ["a", "b"],
    });
    logger.warn("No brain here");
    logger.debug("not shown without --debug");
  });
  assert.equal(lines.length, 2);
  assert.match(
    lines[0] ?? "",
    /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d INFO \[brain\.example\.com\] Blocked host ward-3-pc on fortinet \{"elements":\["a","b"\]\}\n$/,
  );
  assert.match(lines[1] ?? "", /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d WARNING No brain here\n$/);
});

Deno.test("setupLogging() with debug writes DEBUG lines, and takes the brain from the context", async () => {
  const lines = await capture({ values: new SecretValues(), debug: true }, () => {
    withContext({ brain: "b2.example.com" }, () => {
      getLogger(["var", "cycle"]).debug("Reading hosts");
    });
  });
  assert.equal(lines.length, 1);
  assert.match(lines[0] ?? "", / DEBUG \[b2\.example\.com\] Reading hosts\n$/);
});

Deno.test("setupLogging() with json writes one parseable object per line", async () => {
  const lines = await capture({ values: new SecretValues(), json: true }, () => {
    getLogger(["var", "act"]).error("Cannot block {name}", {
      name: "ward\n3",
      brain: "b.example.com",
      error: new Error("FortiOS answered 404"),
    });
  });
  assert.equal(lines.length, 1);
  assert.ok(lines[0]?.endsWith("}\n"));
  assert.equal(lines[0]?.split("\n").length, 2, "one line");
  const object = JSON.parse(lines[0] ?? "");
  assert.equal(object.level, "error");
  assert.equal(object.logger, "var.act");
  assert.equal(object.message, "Cannot block ward\n3");
  assert.equal(object.brain, "b.example.com");
  assert.deepEqual(object.error, { name: "Error", message: "FortiOS answered 404" });
  assert.ok(!Number.isNaN(Date.parse(object.time)));
});

Deno.test("setupLogging() makes control characters visible in text lines", async () => {
  const lines = await capture({ values: new SecretValues() }, () => {
    getLogger(["var", "act"]).info("Host {name}", {
      name: "evil\n2026-01-01 00:00:00 INFO forged\x1b[31m",
    });
  });
  assert.equal(lines.length, 1);
  assert.equal(lines[0]?.split("\n").length, 2, "still one line");
  assert.ok(lines[0]?.includes("evil\\n2026-01-01 00:00:00 INFO forged\\x1b[31m"));
});

Deno.test("a known secret value never appears in a log line, text or JSON", async (t) => {
  for (const json of [false, true]) {
    await t.step(json ? "json" : "text", async () => {
      const values = new SecretValues();
      const lines = await capture({ values, json, debug: true }, () => {
        const logger = getLogger(["var", "vectra"]);
        // registered after logging was set up, as secrets are looked up later
        values.add(SECRET);
        logger.debug(`Token ${SECRET} in the message text`);
        logger.info("Value {value} as a placeholder", { value: SECRET });
        logger.info("Nested", { request: { body: { password: SECRET, other: [SECRET] } } });
        logger.error("Failed: {error}", { error: new Error(`server echoed ${SECRET}`) });
        logger.info("Prefix and suffix: x{value}y", { value: SECRET });
      });
      assert.equal(lines.length, 5);
      const all = lines.join("");
      assert.ok(!all.includes(SECRET), all);
      assert.ok(!all.includes("pa$$w0rd"), all);
      assert.ok(!all.includes("quote-7f3a9c"), all);
      assert.ok(all.includes("[REDACTED]"));
    });
  }
});

Deno.test("every secret field name is redacted in any case, at any depth; names that only contain one are not", async () => {
  const secretNames = [
    "authorization",
    "Proxy-Authorization",
    "api_key",
    "api-key",
    "apikey",
    "X-API-Key",
    "password",
    "passwd",
    "SECRET",
    "secret_key",
    "secretKey",
    "client_secret",
    "clientSecret",
    "access_token",
    "refreshToken",
    "id-token",
    "token",
    "cookie",
    "Set-Cookie",
  ];
  const plainNames = ["tokens", "secretary", "keyName", "password_hint", "cookies", "id"];
  const values = new SecretValues();
  const lines = await capture({ values, json: true }, () => {
    const logger = getLogger(["var", "test"]);
    for (const [index, name] of [...secretNames, ...plainNames].entries()) {
      logger.info("Field {where}", { where: name, nested: { deeper: { [name]: `v-${index}-v` } } });
    }
  });
  const names = [...secretNames, ...plainNames];
  assert.equal(lines.length, names.length);
  for (const [index, line] of lines.entries()) {
    const name = names[index] ?? "";
    const value = JSON.parse(line).nested.deeper[name];
    if (secretNames.includes(name)) assert.equal(value, "[REDACTED]", `${name}: ${line}`);
    else assert.equal(value, `v-${index}-v`, `${name}: ${line}`);
  }
});

Deno.test("Authorization headers and bearer credentials are redacted even when unknown", async () => {
  const values = new SecretValues();
  const lines = await capture({ values, debug: true }, () => {
    const logger = getLogger(["var", "http"]);
    logger.debug("Request headers {headers}", {
      headers: { Authorization: "Bearer eyJhbGciOi.payload.sig", Accept: "application/json" },
    });
    logger.debug("Raw: Authorization: Token 0123456789abcdef0123 sent");
    logger.debug('Raw JSON: {"authorization":"Bearer abcdefghijklmnop"}');
    logger.debug("Header line Bearer zyxwvutsrqponmlk in text");
    logger.debug("Fields", { api_key: "k-123", client_secret: "s-456", token: "t-789" });
  });
  const all = lines.join("");
  for (
    const leaked of [
      "eyJhbGciOi",
      "0123456789abcdef0123",
      "abcdefghijklmnop",
      "zyxwvutsrqponmlk",
      "k-123",
      "s-456",
      "t-789",
    ]
  ) {
    assert.ok(!all.includes(leaked), `${leaked} leaked: ${all}`);
  }
  assert.ok(all.includes("application/json"), "other headers stay");
  assert.ok(all.includes("Authorization: [REDACTED] sent"), all);
});

Deno.test("redactText() removes secret values and credentials from free text", () => {
  const values = new SecretValues();
  values.add("s3cr3t-value");
  assert.equal(
    redactText("Cannot log in with s3cr3t-value: Authorization: Bearer abcdefghijkl", values),
    "Cannot log in with [REDACTED]: Authorization: [REDACTED]",
  );
  assert.equal(redactText("nothing to hide", values), "nothing to hide");
});

Deno.test("escapeControlsDeep() escapes strings in plain objects and arrays, keeping other objects", () => {
  const when = new Date(0);
  const copy = escapeControlsDeep({
    name: "a\nb",
    list: ["c\rd", 3],
    nested: { when, text: "\x1b[31m" },
  });
  assert.deepEqual(copy, {
    name: "a\\nb",
    list: ["c\\rd", 3],
    nested: { when, text: "\\x1b[31m" },
  });
  assert.equal(copy.nested.when, when);
});

Deno.test("log lines and printed errors mask the credentials of any URL", async () => {
  for (const json of [false, true]) {
    const lines = await capture({ values: new SecretValues(), json }, () => {
      getLogger(["var", "test"]).error("Cannot reach {url}", {
        url: "https://admin:hunter2@brain.example.com/api/v2.5",
      });
    });
    assert.equal(lines.length, 1);
    assert.match(lines[0] ?? "", /https:\/\/\*\*\*@brain\.example\.com\/api\/v2\.5/);
    assert.doesNotMatch(lines[0] ?? "", /hunter2|admin:/);
  }
  assert.equal(
    redactText("Cannot POST to http://u:p@fw.example:8443/api/"),
    "Cannot POST to http://***@fw.example:8443/api/",
  );
});
