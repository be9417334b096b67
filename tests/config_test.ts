import assert from "node:assert/strict";
import { z } from "zod";
import type { ClientDefinition } from "../clients/interface.ts";
import { CLIENTS } from "../clients/mod.ts";
import {
  AggregateConfigError,
  ConfigError,
  configTemplate,
  CORE_KEYS,
  loadConfig,
  parseConfig,
  readEntries,
} from "../config.ts";
import { resetLogging } from "../engine/log.ts";
import { main } from "../main.ts";
import { runMain } from "./e2e/_run_main.ts";

/** A client with a required key and a validated one, to test client key composition. */
const fakeFirewall = {
  name: "fake_fw",
  aliases: ["ffw"],
  tagName: "Fake FW Client",
  routingKey: "fake_fw",
  keys: [
    { key: "FAKE_FW_IP", default: "", help: "Address of the firewall.", required: true },
    { key: "FAKE_FW_PORT", default: "443", help: "Port 1-65535." },
  ],
  configSchema: z.object({
    FAKE_FW_IP: z.string(),
    FAKE_FW_PORT: z.string().regex(/^\d+$/, "not a port; use 1-65535"),
  }).transform((raw) => ({ ip: raw.FAKE_FW_IP, port: Number(raw.FAKE_FW_PORT) })),
  secrets: (config: { ip: string }) => [
    { service: "FakeFW", key: config.ip, description: "API key" },
  ],
  create: () => ({
    name: "fake_fw",
    tagName: "Fake FW Client",
    routingKey: "fake_fw",
    supports: new Set(),
  }),
} satisfies ClientDefinition<{ ip: string; port: number }>;

const DEFINITIONS: readonly ClientDefinition[] = [...CLIENTS, fakeFirewall as ClientDefinition];

const BASE = ["COGNITO_URL=https://brain.example.com", "BLOCK_TYPES=host,account,detection"];

/** The file text of a case: the base lines (unless the case sets the key), then the case's. */
function caseText(lines: readonly string[]): { text: string; offset: number } {
  const keys = new Set(lines.map((l) => l.split("=")[0]));
  const base = BASE.filter((l) => !keys.has(l.split("=")[0]));
  return { text: [...base, ...lines].join("\n") + "\n", offset: base.length };
}

interface BadCase {
  /** What is wrong. */
  readonly name: string;
  readonly lines: readonly string[];
  /** The key the message must name. */
  readonly key: string;
  /** 1-based line within `lines` the message must name. @default {the last line} */
  readonly at?: number;
  /** A part of the message saying what is allowed. */
  readonly says: RegExp;
}

const BAD: readonly BadCase[] = [
  {
    name: "bad tuple operator",
    lines: ["BLOCK_HOST_THREAT_CERTAINTY=50 nand 60"],
    key: "BLOCK_HOST_THREAT_CERTAINTY",
    says: /"50 nand 60" is not a threshold; use `T and C` or `T or C`/,
  },
  {
    name: "tuple in Python syntax",
    lines: ['BLOCK_HOST_THREAT_CERTAINTY=(50, "and", 60)'],
    key: "BLOCK_HOST_THREAT_CERTAINTY",
    says: /is not a threshold/,
  },
  {
    name: "tuple score above 100",
    lines: ["BLOCK_ACCOUNT_THREAT_CERTAINTY=50 and 101"],
    key: "BLOCK_ACCOUNT_THREAT_CERTAINTY",
    says: /score above 100/,
  },
  {
    name: "tuple missing its certainty",
    lines: ["EXTERNAL_BLOCK_HOST_TC=50 and"],
    key: "EXTERNAL_BLOCK_HOST_TC",
    says: /is not a threshold/,
  },
  {
    name: "empty minimum score tuple",
    lines: ["BLOCK_HOST_DETECTION_TYPES_MIN_TC_SCORE="],
    key: "BLOCK_HOST_DETECTION_TYPES_MIN_TC_SCORE",
    says: /it is empty; use `T and C`/,
  },
  {
    name: "non-numeric score",
    lines: ["BLOCK_HOST_THREAT_CERTAINTY=high and 60"],
    key: "BLOCK_HOST_THREAT_CERTAINTY",
    says: /is not a threshold/,
  },
  {
    name: "unknown day",
    lines: ["BLOCK_DAYS=monday,tuesdy"],
    key: "BLOCK_DAYS",
    says: /"tuesdy" is not a day; use week, weekday, weekend or monday \.\.\. sunday/,
  },
  {
    name: "empty day entry",
    lines: ["BLOCK_DAYS=monday,,friday"],
    key: "BLOCK_DAYS",
    says: /has an empty entry/,
  },
  {
    name: "hour 25",
    lines: ["BLOCK_START_TIME=25"],
    key: "BLOCK_START_TIME",
    says: /"25" is not an hour 0-23/,
  },
  {
    name: "negative hour",
    lines: ["BLOCK_END_TIME=-1"],
    key: "BLOCK_END_TIME",
    says: /is not an hour 0-23/,
  },
  {
    name: "fractional hour",
    lines: ["BLOCK_END_TIME=8.5"],
    key: "BLOCK_END_TIME",
    says: /is not an hour 0-23/,
  },
  {
    name: "urgency 102",
    lines: ["BLOCK_HOST_URGENCY=102"],
    key: "BLOCK_HOST_URGENCY",
    says: /is not an integer 0-101/,
  },
  {
    name: "non-numeric urgency",
    lines: ["BLOCK_ACCOUNT_URGENCY=high"],
    key: "BLOCK_ACCOUNT_URGENCY",
    says: /is not an integer 0-101/,
  },
  {
    name: "zero sleep",
    lines: ["SLEEP_MINUTES=0"],
    key: "SLEEP_MINUTES",
    says: /is not a number of minutes/,
  },
  {
    name: "non-numeric sleep",
    lines: ["SLEEP_MINUTES=five"],
    key: "SLEEP_MINUTES",
    says: /"five" is not a number of minutes/,
  },
  {
    name: "unknown client",
    lines: ["THIRD_PARTY_CLIENTS=test_client,fortinett"],
    key: "THIRD_PARTY_CLIENTS",
    says: /"fortinett" is not a known client; use test_client/,
  },
  {
    name: "no client",
    lines: ["THIRD_PARTY_CLIENTS="],
    key: "THIRD_PARTY_CLIENTS",
    says: /give at least one client/,
  },
  {
    name: "client listed twice through an alias",
    lines: ["THIRD_PARTY_CLIENTS=fake_fw,ffw", "FAKE_FW_IP=10.0.0.1"],
    key: "THIRD_PARTY_CLIENTS",
    at: 1,
    says: /"ffw" is listed twice/,
  },
  {
    name: "unknown key",
    lines: ["BLCK_HOST_TAG=x"],
    key: "BLCK_HOST_TAG",
    says: /is not a known key; did you mean BLOCK_HOST_TAG\?/,
  },
  {
    name: "duplicate key",
    lines: ["BLOCK_HOST_TAG=a", "BLOCK_HOST_TAG=b"],
    key: "BLOCK_HOST_TAG",
    at: 2,
    says: /already set on line \d+; keep one of them/,
  },
  {
    name: "empty URL list",
    lines: ["COGNITO_URL="],
    key: "COGNITO_URL",
    says: /give at least one brain/,
  },
  {
    name: "empty URL entry",
    lines: ["COGNITO_URL=a.example.com,,b.example.com"],
    key: "COGNITO_URL",
    says: /has an empty entry/,
  },
  {
    name: "URL with another scheme",
    lines: ["COGNITO_URL=ftp://brain.example.com"],
    key: "COGNITO_URL",
    says: /uses ftp:\/\/; use https:\/\//,
  },
  {
    name: "URL list in Python syntax",
    lines: ['COGNITO_URL=["https://a.example.com"]'],
    key: "COGNITO_URL",
    says: /looks like a Python list/,
  },
  {
    name: "same brain twice",
    lines: ["COGNITO_URL=https://a.example.com,a.example.com/"],
    key: "COGNITO_URL",
    says: /is the same brain as "https:\/\/a\.example\.com"/,
  },
  {
    name: "unknown auth mode",
    lines: ["AUTH=PASSWORD"],
    key: "AUTH",
    says: /"PASSWORD" is not allowed; use OAUTH or TOKEN/,
  },
  {
    name: "unknown API version",
    lines: ["VECTRA_API_VERSION=4"],
    key: "VECTRA_API_VERSION",
    says: /"4" is not an API version/,
  },
  {
    name: "API versions not matching the brains",
    lines: ["VECTRA_API_VERSION=2,3"],
    key: "VECTRA_API_VERSION",
    says: /has 2 entries for 1 brains/,
  },
  {
    name: "comma in a host tag",
    lines: ["BLOCK_HOST_TAG=block,me"],
    key: "BLOCK_HOST_TAG",
    says: /contains a comma/,
  },
  {
    name: "comma in a detection tag",
    lines: ["EXTERNAL_BLOCK_DETECTION_TAG=a,b"],
    key: "EXTERNAL_BLOCK_DETECTION_TAG",
    says: /contains a comma/,
  },
  {
    name: "unblock tag equal to the block tag",
    lines: ["UNBLOCK_HOST_TAG=vectra_host_block"],
    key: "UNBLOCK_HOST_TAG",
    says: /must differ from the block tag/,
  },
  {
    name: "unknown syslog protocol",
    lines: ["SYSLOG_PROTO=SCTP"],
    key: "SYSLOG_PROTO",
    says: /use TCP or UDP/,
  },
  {
    name: "unknown syslog format",
    lines: ["SYSLOG_FORMAT=LEEF"],
    key: "SYSLOG_FORMAT",
    says: /use CEF or Standard/,
  },
  {
    name: "port above 65535",
    lines: ["SMTP_PORT=70000"],
    key: "SMTP_PORT",
    says: /is not a port 1-65535/,
  },
  {
    name: "port 0",
    lines: ["SYSLOG_PORT=0"],
    key: "SYSLOG_PORT",
    says: /is not a port 1-65535/,
  },
  {
    name: "not a boolean",
    lines: ["SEND_EMAIL=maybe"],
    key: "SEND_EMAIL",
    says: /"maybe" is not a boolean; use true or false/,
  },
  {
    name: "unknown SMTP TLS mode",
    lines: ["SMTP_TLS=ssl"],
    key: "SMTP_TLS",
    says: /use starttls, implicit or none/,
  },
  {
    name: "SMTP authentication without TLS",
    lines: ["SMTP_TLS=none", "SMTP_AUTH=true"],
    key: "SMTP_TLS",
    at: 1,
    says: /password would cross the network in clear/,
  },
  {
    name: "syslog on without a server",
    lines: ["SEND_SYSLOG=true", "SYSLOG_SERVER="],
    key: "SYSLOG_SERVER",
    says: /empty while SEND_SYSLOG is true/,
  },
  {
    name: "health address without a host",
    lines: ["HEALTH_LISTEN=8080"],
    key: "HEALTH_LISTEN",
    says: /is not host:port/,
  },
  {
    name: "unknown kind of blocking",
    lines: ["BLOCK_TYPES=host,firewall"],
    key: "BLOCK_TYPES",
    says: /"firewall" is not a kind of blocking/,
  },
  {
    name: "negative limit",
    lines: ["MAX_BLOCKS_PER_CYCLE=-5"],
    key: "MAX_BLOCKS_PER_CYCLE",
    says: /is not an integer 0-1000000/,
  },
  {
    name: "non-numeric verify cadence",
    lines: ["VERIFY_EVERY_CYCLES=often"],
    key: "VERIFY_EVERY_CYCLES",
    says: /is not an integer/,
  },
  {
    name: "bad client value (the client's own schema)",
    lines: ["TEST_CLIENT_DETERMINISTIC=maybe"],
    key: "TEST_CLIENT_DETERMINISTIC",
    says: /"maybe": .*client test_client/,
  },
  {
    name: "required client key empty",
    lines: ["THIRD_PARTY_CLIENTS=fake_fw", "FAKE_FW_IP="],
    key: "FAKE_FW_IP",
    says: /it is empty while THIRD_PARTY_CLIENTS includes fake_fw; Address of the firewall/,
  },
  {
    name: "client key rejected by its schema",
    lines: ["THIRD_PARTY_CLIENTS=fake_fw", "FAKE_FW_IP=10.0.0.1", "FAKE_FW_PORT=https"],
    key: "FAKE_FW_PORT",
    says: /"https": not a port; use 1-65535 \(client fake_fw\)/,
  },
  {
    name: "unknown explicit unblock value",
    lines: ["EXPLICIT_UNBLOCK=sometimes"],
    key: "EXPLICIT_UNBLOCK",
    says: /is not a boolean/,
  },
];

function problemsOf(text: string, path = "var.env"): AggregateConfigError {
  try {
    parseConfig(text, { path, clients: DEFINITIONS });
  } catch (error) {
    assert.ok(error instanceof AggregateConfigError, String(error));
    return error;
  }
  assert.fail("parseConfig() accepted a bad file");
}

Deno.test("parseConfig() refuses each malformed input naming the file, key, line and what is allowed", async (t) => {
  assert.ok(BAD.length >= 30, `only ${BAD.length} cases`);
  for (const c of BAD) {
    await t.step(c.name, () => {
      const { text, offset } = caseText(c.lines);
      const line = offset + (c.at ?? c.lines.length);
      const aggregate = problemsOf(text);
      const error = aggregate.errors.find((e) => e.key === c.key);
      assert.ok(error, `no problem names ${c.key}: ${aggregate.message}`);
      assert.ok(error instanceof ConfigError);
      assert.equal(error.line, line, error.message);
      assert.equal(error.file, "var.env");
      assert.ok(
        error.message.startsWith(`Cannot read ${c.key} in var.env line ${line}: `),
        error.message,
      );
      assert.match(error.message, c.says);
    });
  }
});

Deno.test("main() exits 1 on config check of each malformed file", async (t) => {
  const dir = await Deno.makeTempDir();
  try {
    for (const [index, c] of BAD.entries()) {
      if (c.lines.some((l) => l.startsWith("THIRD_PARTY_CLIENTS=fake_fw"))) continue;
      await t.step(c.name, async () => {
        const path = `${dir}/case${index}.env`;
        await Deno.writeTextFile(path, caseText(c.lines).text);
        assert.equal(await main(["config", "check", "--config", path]), 1);
      });
    }
    await t.step("a valid file exits 0", async () => {
      const path = `${dir}/valid.env`;
      await Deno.writeTextFile(path, caseText([]).text);
      assert.equal(await main(["config", "check", "--config", path]), 0);
    });
  } finally {
    await resetLogging();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("var config check under deno run -P exits 1 and prints each problem with key and line", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/var.env`;
    await Deno.writeTextFile(
      path,
      [
        "COGNITO_URL=",
        "BLOCK_DAYS=tuesdy",
        "BLOCK_START_TIME=25",
        "BLOCK_HOST_THREAT_CERTAINTY=50 nand 60",
        "THIRD_PARTY_CLIENTS=fortinett",
        "BLCK_HOST_TAG=x",
        "SLEEP_MINUTES=5",
        "SLEEP_MINUTES=6",
        "BLOCK_TYPES=host",
      ].join("\n") + "\n",
    );
    const result = await runMain(["config", "check", "--config", path]);
    assert.equal(result.code, 1, result.stderr);
    assert.equal(result.stdout, "");
    for (
      const [key, line] of [
        ["COGNITO_URL", 1],
        ["BLOCK_DAYS", 2],
        ["BLOCK_START_TIME", 3],
        ["BLOCK_HOST_THREAT_CERTAINTY", 4],
        ["THIRD_PARTY_CLIENTS", 5],
        ["BLCK_HOST_TAG", 6],
        ["SLEEP_MINUTES", 8],
      ] as const
    ) {
      assert.ok(
        result.stderr.includes(`Cannot read ${key} in ${path} line ${line}: `),
        `${key} line ${line} missing from:\n${result.stderr}`,
      );
    }
    assert.match(result.stderr, /Cannot use .*var\.env: 7 problems/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("var config check under deno run -P exits 0 and prints the effective configuration", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/var.env`, "COGNITO_URL=brain.example.com\nBLOCK_TYPES=host\n");
    const result = await runMain(["config", "check", "--config", `${dir}/var.env`]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^COGNITO_URL=brain\.example\.com +# line 1$/m);
    assert.match(result.stdout, /^SLEEP_MINUTES=5 +# default$/m);
    assert.match(
      result.stdout,
      /brain\.example\.com -> https:\/\/brain\.example\.com \(API v2\.5, oauth\)/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("var config check under deno run -P exits 1 for a missing file and a missing static list", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const missing = await runMain(["config", "check", "--config", `${dir}/nope.env`]);
    assert.equal(missing.code, 1);
    assert.match(
      missing.stderr,
      /nope\.env: the file does not exist; create it with `var config init/,
    );
    await Deno.writeTextFile(`${dir}/var.env`, "COGNITO_URL=brain.example.com\n");
    const noStatic = await runMain(["config", "check", "--config", `${dir}/var.env`]);
    assert.equal(noStatic.code, 1);
    assert.ok(
      noStatic.stderr.includes(
        `Cannot read STATIC_BLOCK_DESTINATION_IPS in ${dir}/var.env (default): file "${dir}/static_dst_ips_to_block.txt" does not exist`,
      ),
      noStatic.stderr,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("parseConfig() lists every problem of a file at once, in line order", () => {
  const aggregate = problemsOf(
    "BLOCK_DAYS=funday\nnot an assignment\nSMTP_PORT=x\nAUTH=x\nCOGNITO_URL=a.example.com\n",
  );
  assert.deepEqual(aggregate.errors.map((e) => [e.key, e.line]), [
    ["BLOCK_DAYS", 1],
    [null, 2],
    ["SMTP_PORT", 3],
    ["AUTH", 4],
  ]);
  assert.equal(
    aggregate.errors[1]?.message,
    "Cannot read var.env line 2: the line is not a KEY=value assignment; write KEY=value, or start a comment with #",
  );
  assert.match(aggregate.message, /^Cannot use var\.env: 4 problems\n {2}- Cannot read BLOCK_DAYS/);
});

Deno.test("parseConfig() never repeats the value of an unknown key (it may be a misplaced secret)", () => {
  const aggregate = problemsOf(caseText(["FORTINET_PASSWORD=hunter2-very-secret"]).text);
  const error = aggregate.errors.find((e) => e.key === "FORTINET_PASSWORD");
  assert.ok(error);
  assert.ok(!error.message.includes("hunter2"), error.message);
  assert.match(error.message, /secrets never go in this file: use `var secrets set`/);
});

Deno.test("parseConfig() applies the original's defaults", () => {
  const { config, warnings } = parseConfig("COGNITO_URL=brain.example.com\n", {
    path: "/etc/var/var.env",
    clients: DEFINITIONS,
  });
  assert.deepEqual(warnings, [
    "THIRD_PARTY_CLIENTS includes test_client, which enforces nothing: entities are tagged as blocked but no device blocks them",
  ]);
  assert.deepEqual(config.brains, [{
    entry: "brain.example.com",
    baseUrl: "https://brain.example.com",
    apiVersion: "2.5",
    auth: "oauth",
  }]);
  assert.deepEqual(config.clients, ["test_client"]);
  assert.equal(config.sleepMinutes, 5);
  assert.deepEqual([...config.blockTypes], ["host", "account", "detection", "static"]);
  assert.deepEqual([...config.window.days].sort(), [0, 1, 2, 3, 4, 5, 6]);
  assert.equal(config.window.startHour, 0);
  assert.equal(config.window.endHour, 0);
  assert.equal(config.window.unblockOutside, false);
  assert.equal(config.explicitUnblock, false);
  assert.deepEqual(config.host, {
    blockTag: "vectra_host_block",
    unblockTag: "vectra_host_unblock",
    noBlockGroup: "NoBlock",
    blockGroup: "Block",
    threatCertainty: { threat: 100, op: "and", certainty: 100 },
    urgency: 101,
    detectionTypes: [],
    detectionTypesMinScore: { threat: 100, op: "and", certainty: 100 },
  });
  assert.equal(config.account.blockTag, "vectra_account_block");
  assert.equal(config.account.unblockTag, "vectra_account_unblock");
  assert.deepEqual(config.detection, {
    hostThreatCertainty: { threat: 100, op: "and", certainty: 100 },
    blockTag: "block",
    unblockTag: "unblock",
    detectionTypes: [],
  });
  assert.equal(config.staticIpsFile, "/etc/var/static_dst_ips_to_block.txt");
  assert.deepEqual(config.limits, {
    maxBlocksPerCycle: 10,
    maxBlockedTotal: 100,
    maxUnblocksPerCycle: 25,
  });
  assert.equal(config.verifyEveryCycles, 1);
  assert.deepEqual(config.email, {
    enabled: false,
    server: "",
    port: 25,
    from: "example@email.com",
    to: "example@email.com",
    auth: false,
    user: "user",
    tls: "starttls",
    caFile: null,
  });
  assert.deepEqual(config.syslog, {
    enabled: false,
    server: "",
    port: 514,
    proto: "TCP",
    format: "CEF",
  });
  assert.equal(config.vectraVerifyTls, true);
  assert.equal(config.vectraCaFile, null);
  assert.deepEqual(config.healthListen, { hostname: "127.0.0.1", port: 8080 });
  assert.deepEqual(config.clientConfigs.get("test_client"), {
    deterministic: false,
    failOperations: new Set(),
  });
});

Deno.test("parseConfig() reads lists, tuples, days, empty values and versions as written", () => {
  const { config, warnings } = parseConfig(
    [
      "COGNITO_URL=brain.example.com/, http://lab.example.com:8443, https://123.uw2.portal.vectra.ai",
      "VECTRA_API_VERSION=auto,auto,3.3",
      "AUTH=token",
      "BLOCK_DAYS=Monday, FRIDAY",
      "BLOCK_START_TIME=",
      "BLOCK_END_TIME=17",
      "BLOCK_HOST_THREAT_CERTAINTY=50 OR 60",
      "BLOCK_HOST_URGENCY=",
      "BLOCK_ACCOUNT_GROUP_NAME=",
      "BLOCK_HOST_DETECTION_TYPES=External Remote Access, Hidden DNS Tunnel",
      "EXTERNAL_BLOCK_HOST_TC=",
      "BLOCK_TYPES=host,detection",
      "STATIC_BLOCK_DESTINATION_IPS=",
      "HEALTH_LISTEN=[::1]:0",
      "SYSLOG_PROTO=udp",
      'EXTERNAL_BLOCK_DETECTION_TAG="block #1"',
      "export SLEEP_MINUTES=0.5 # half a minute",
      "FAKE_FW_IP=10.0.0.1",
    ].join("\n"),
    { path: "var.env", clients: DEFINITIONS },
  );
  assert.deepEqual(config.brains.map((b) => [b.entry, b.baseUrl, b.apiVersion, b.auth]), [
    ["brain.example.com/", "https://brain.example.com", "2.5", "token"],
    ["http://lab.example.com:8443", "http://lab.example.com:8443", "2.5", "token"],
    ["https://123.uw2.portal.vectra.ai", "https://123.uw2.portal.vectra.ai", "3.3", "token"],
  ]);
  assert.equal(warnings.length, 2);
  assert.match(warnings[1] ?? "", /includes test_client, which enforces nothing/);
  assert.match(warnings[0] ?? "", /Brain "http:\/\/lab\.example\.com:8443" uses http:\/\//);
  assert.deepEqual([...config.window.days].sort(), [1, 5]);
  assert.equal(config.window.startHour, null);
  assert.equal(config.window.endHour, 17);
  assert.deepEqual(config.host.threatCertainty, { threat: 50, op: "or", certainty: 60 });
  assert.equal(config.host.urgency, null);
  assert.equal(config.account.blockGroup, null);
  assert.deepEqual(config.host.detectionTypes, ["External Remote Access", "Hidden DNS Tunnel"]);
  assert.equal(config.detection.hostThreatCertainty, null);
  assert.equal(config.detection.blockTag, "block #1");
  assert.deepEqual([...config.blockTypes], ["host", "detection"]);
  assert.equal(config.staticIpsFile, "");
  assert.deepEqual(config.healthListen, { hostname: "::1", port: 0 });
  assert.equal(config.syslog.proto, "UDP");
  assert.equal(config.sleepMinutes, 0.5);
  assert.equal(config.clientConfigs.has("fake_fw"), false, "unlisted clients are not parsed");
});

Deno.test("parseConfig() warns when day keywords and names are mixed, and when TLS checks are off", () => {
  const { config, warnings } = parseConfig(
    "COGNITO_URL=a.example.com\nBLOCK_DAYS=weekday,saturday\nVECTRA_VERIFY_TLS=false\nTHIRD_PARTY_CLIENTS=fake_fw\nFAKE_FW_IP=10.0.0.1\n",
    { path: "var.env", clients: DEFINITIONS },
  );
  assert.deepEqual([...config.window.days].sort(), [1, 2, 3, 4, 5]);
  assert.equal(config.vectraVerifyTls, false);
  assert.equal(warnings.length, 2);
  assert.match(warnings[0] ?? "", /the day names saturday are ignored/);
  assert.match(warnings[1] ?? "", /VECTRA_VERIFY_TLS is false/);
});

Deno.test("parseConfig() never repeats the credentials of a URL written with them", () => {
  const problems = problemsOf(
    "COGNITO_URL=https://admin:hunter2@brain.example.com\nBLOCK_TYPES=host\n" +
      "THIRD_PARTY_CLIENTS=fake_fw\nFAKE_FW_IP=https://fw:s3cr3t@fw.example\n",
  );
  const text = problems.errors.map((e) => e.message).join("\n");
  assert.match(text, /"https:\/\/\*\*\*@brain\.example\.com"/);
  assert.doesNotMatch(text, /hunter2|admin:|s3cr3t/);
});

Deno.test("parseConfig() warns when HEALTH_LISTEN is not a loopback address", () => {
  const warned = (listen: string) =>
    parseConfig(`COGNITO_URL=a.example.com\nBLOCK_TYPES=host\nHEALTH_LISTEN=${listen}\n`, {
      path: "var.env",
      clients: DEFINITIONS,
    }).warnings.filter((w) => w.startsWith("HEALTH_LISTEN"));
  for (const listen of ["127.0.0.1:8080", "[::1]:8080", "localhost:9100", "127.0.0.2:80"]) {
    assert.deepEqual(warned(listen), [], listen);
  }
  for (const listen of ["0.0.0.0:8080", "10.1.2.3:8080", "[::]:8080", "monitor.example:9100"]) {
    assert.match(warned(listen)[0] ?? "", /not a loopback address/, listen);
  }
});

Deno.test("parseConfig() reads an empty VECTRA_VERIFY_TLS= as its default: verify", () => {
  const { config, warnings } = parseConfig(
    "COGNITO_URL=a.example.com\nVECTRA_VERIFY_TLS=\nBLOCK_TYPES=host\n",
    { path: "var.env", clients: DEFINITIONS },
  );
  assert.equal(config.vectraVerifyTls, true);
  assert.ok(!warnings.some((w) => w.includes("VECTRA_VERIFY_TLS")), warnings.join("\n"));
});

Deno.test("parseConfig() composes the keys of the configured clients through their schemas", () => {
  const { config } = parseConfig(
    "COGNITO_URL=a.example.com\nTHIRD_PARTY_CLIENTS=test_client, FFW\nFAKE_FW_IP=10.0.0.9\n",
    { path: "var.env", clients: DEFINITIONS },
  );
  assert.deepEqual(config.clients, ["test_client", "fake_fw"]);
  assert.deepEqual(config.clientConfigs.get("fake_fw"), { ip: "10.0.0.9", port: 443 });
});

Deno.test("readEntries() ties every assignment to its line, multi-line values included", () => {
  const { entries, errors } = readEntries(
    '# comment\n\nA=1\nB="two\nlines"\n  C = three # note\nD=\n',
    "x.env",
  );
  assert.deepEqual(errors, []);
  assert.deepEqual([...entries.values()], [
    { key: "A", value: "1", line: 3 },
    { key: "B", value: "two\nlines", line: 4 },
    { key: "C", value: "three", line: 6 },
    { key: "D", value: "", line: 7 },
  ]);
});

Deno.test("configTemplate() lists every key with its default and parses back", () => {
  const text = configTemplate(DEFINITIONS);
  for (const spec of CORE_KEYS) {
    assert.ok(text.includes(`\n${spec.key}=`), `${spec.key} missing`);
  }
  assert.ok(text.includes("\nTEST_CLIENT_DETERMINISTIC=false\n"));
  assert.ok(text.includes("\n# FAKE_FW_IP=\n"), "unlisted clients' keys are commented out");
  assert.ok(text.includes("# Address of the firewall. (required)"));
  const { config } = parseConfig(
    text.replace("\nCOGNITO_URL=\n", "\nCOGNITO_URL=b.example.com\n"),
    {
      path: "var.env",
      clients: DEFINITIONS,
    },
  );
  const defaults = parseConfig("COGNITO_URL=b.example.com\n", {
    path: "var.env",
    clients: DEFINITIONS,
  }).config;
  assert.deepEqual(config, defaults);
});

Deno.test("loadConfig() resolves the static list against the config file's folder", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/var.env`, "COGNITO_URL=a.example.com\n");
    await Deno.writeTextFile(`${dir}/static_dst_ips_to_block.txt`, "# none\n");
    const { config } = await loadConfig(`${dir}/var.env`, { clients: DEFINITIONS });
    assert.equal(config.staticIpsFile, `${dir}/static_dst_ips_to_block.txt`);
    await Deno.writeTextFile(
      `${dir}/var.env`,
      "COGNITO_URL=a.example.com\nVECTRA_CA_FILE=ca.pem\n",
    );
    await assert.rejects(
      loadConfig(`${dir}/var.env`, { clients: DEFINITIONS }),
      (error: unknown) => {
        assert.ok(error instanceof AggregateConfigError);
        assert.equal(error.errors[0]?.key, "VECTRA_CA_FILE");
        assert.equal(error.errors[0]?.line, 2);
        assert.match(error.message, new RegExp(`file "${dir}/ca.pem" does not exist`));
        return true;
      },
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("var.env.example and static_dst_ips_to_block.txt pass config check", async () => {
  const { config } = await loadConfig(new URL("../var.env.example", import.meta.url).pathname, {
    clients: CLIENTS,
  });
  assert.deepEqual(config.brains.map((b) => b.baseUrl), ["https://brain.example.com"]);
  assert.ok(config.staticIpsFile.endsWith("/static_dst_ips_to_block.txt"));
  const lines = (await Deno.readTextFile(config.staticIpsFile)).split("\n");
  assert.ok(lines.every((l) => l === "" || l.startsWith("#")), "comments only");
});
