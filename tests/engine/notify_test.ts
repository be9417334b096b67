import assert from "node:assert/strict";
import { createSocket } from "node:dgram";
import { SMTPServer, type SMTPServerOptions } from "smtp-server";
import type { EmailConfig, SyslogConfig } from "../../config_types.ts";
import {
  actionEvent,
  emailBody,
  escapeCefExtension,
  escapeCefHeader,
  formatCef,
  formatEvent,
  notifyCycle,
  sendEmail,
  sendSyslog,
  sendTestEmail,
  sendTestSyslog,
} from "../../engine/notify.ts";
import { makeTestCertificates, type TestCertificates } from "../_tls.ts";
import { UNSAFE_CHARACTERS } from "../../engine/text.ts";
import { BINARY_V8_ARG } from "../../scripts/binary_flags.ts";
import { action, brainReport, cycleReport } from "./_service_fixtures.ts";

const NOW = new Date(Date.UTC(2026, 10, 28, 4, 5, 6, 789));
const RT = String(NOW.getTime());
const PID = String(Deno.pid);

/** An action whose texts need every kind of CEF escaping. */
const TRICKY = action({
  entityName: "pc|1=a\\b",
  message: "Blocked host 42, pc|1=a\\b, 10.1.2.3 with client fortinet\nsecond line",
  reasons: ["tag vectra_host_block", "threat 80 >= 50 and certainty 90 >= 50"],
});
const TRICKY_CEF =
  `CEF:0|Vectra Networks|X Series|var|host-block|Vectra Automated Response|2|rt=${RT} cat=Info ` +
  "act=block outcome=ok dvchost=brain-a.example cs1Label=kind cs1=host cs2Label=client " +
  "cs2=fortinet cs3Label=entity id cs3=42 cs4Label=entity name cs4=pc|1\\=a\\\\b " +
  "cs5Label=elements cs5=10.1.2.3 " +
  "reason=tag vectra_host_block; threat 80 >\\= 50 and certainty 90 >\\= 50 " +
  "msg=Blocked host 42, pc|1\\=a\\\\b, 10.1.2.3 with client fortinet\\nsecond line";

const FAILED = action({
  brain: "brain-b.example",
  kind: "account",
  entityId: 7,
  entityName: "jdoe@corp",
  client: "ad",
  elements: [],
  outcome: "failed",
  error: "Cannot block account jdoe@corp on ad: LDAP answered 50",
  message: "Error encountered trying to block account ID 7: LDAP answered 50",
  category: "Error",
});

const REPORT = cycleReport({
  brains: [
    brainReport({ brain: "brain-a.example" }),
    brainReport({ brain: "brain-b.example", result: "partial" }),
  ],
  actions: [TRICKY, FAILED],
  messages: [{ category: "Warning", text: "fortinet does not support accounts" }],
  exitCode: 2,
});

Deno.test("escapeCefHeader() and escapeCefExtension() escape what each part of CEF needs", () => {
  assert.equal(escapeCefHeader("a|b\\c=d\ne"), "a\\|b\\\\c=d e");
  assert.equal(escapeCefExtension("a|b\\c=d\r\ne\rf\ng"), "a|b\\\\c\\=d\\ne\\rf\\ng");
});

Deno.test("syslog and email keep separators and bidirectional characters from Vectra off the line", () => {
  const hostile = "pc\u2028forged\u2029\u0085line\u202eexe.pdf\u2066x\u0000y";
  const record = action({ entityName: hostile, message: `Blocked host 42, ${hostile}` });
  const unsafe = new RegExp(UNSAFE_CHARACTERS.source);
  const event = actionEvent(record, NOW);
  for (const format of ["CEF", "Standard"] as const) {
    const line = formatEvent(event, format);
    assert.doesNotMatch(line, unsafe, format);
    assert.match(line, /pc forged line exe\.pdf x y/, format);
  }
  assert.equal(escapeCefHeader(hostile), "pc forged line exe.pdf x y");
  const body = emailBody(cycleReport({ actions: [record] }));
  assert.doesNotMatch(body.replaceAll("\n", ""), unsafe);
  assert.match(body, /pc forged line exe\.pdf x y/);
});

Deno.test("formatCef() writes the eight header fields and an escaped extension", () => {
  assert.equal(formatCef(actionEvent(TRICKY, NOW)), TRICKY_CEF);
  assert.equal(
    formatCef({
      category: "Warning",
      signatureId: "odd|id\\",
      extension: [["msg", "x"]],
      text: "",
    }),
    "CEF:0|Vectra Networks|X Series|var|odd\\|id\\\\|Vectra Automated Response|5|msg=x",
  );
});

Deno.test("emailBody() lists Info, Warning and Error sections in order", () => {
  assert.equal(
    emailBody(cycleReport({
      actions: [
        FAILED,
        action(),
        action({ category: "Warning", message: "Did not find any elements to block on host ID 9" }),
      ],
      messages: [{ category: "Info", text: "Outside the response window: nothing was acted on" }],
    })),
    [
      "Info",
      "Outside the response window: nothing was acted on",
      "brain-a.example: Blocked host 42, pc-42, 10.1.2.3 with client fortinet",
      "",
      "Warning",
      "brain-a.example: Did not find any elements to block on host ID 9",
      "",
      "Error",
      "brain-b.example: Error encountered trying to block account ID 7: LDAP answered 50",
      "",
    ].join("\n"),
  );
  assert.equal(emailBody(cycleReport()), "");
});

/** A UDP syslog receiver on 127.0.0.1 collecting datagrams. */
async function startUdpReceiver() {
  const socket = createSocket("udp4");
  const datagrams: string[] = [];
  const waiters: (() => void)[] = [];
  socket.on("message", (message: Uint8Array) => {
    datagrams.push(new TextDecoder().decode(message));
    waiters.splice(0).forEach((wake) => wake());
  });
  await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", () => resolve()));
  return {
    port: socket.address().port,
    datagrams,
    async waitFor(count: number): Promise<string[]> {
      const deadline = Date.now() + 5_000;
      while (datagrams.length < count && Date.now() < deadline) {
        let timer: ReturnType<typeof setTimeout> | undefined;
        await new Promise<void>((resolve) => {
          waiters.push(resolve);
          timer = setTimeout(resolve, 100);
        });
        clearTimeout(timer);
      }
      return datagrams;
    },
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}

/** A TCP syslog receiver on 127.0.0.1 that reads one connection to its end. */
function startTcpReceiver() {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const received = (async () => {
    const conn = await listener.accept();
    const chunks: Uint8Array[] = [];
    for await (const chunk of conn.readable) chunks.push(chunk);
    const bytes = new Uint8Array(chunks.reduce((n, chunk) => n + chunk.byteLength, 0));
    let offset = 0;
    for (const chunk of chunks) {
      bytes.set(chunk, offset);
      offset += chunk.byteLength;
    }
    return bytes;
  })();
  return { port: listener.addr.port, received, close: () => listener.close() };
}

function syslogConfig(overrides: Partial<SyslogConfig>): SyslogConfig {
  return {
    enabled: true,
    server: "127.0.0.1",
    port: 514,
    proto: "UDP",
    format: "CEF",
    ...overrides,
  };
}

const SUMMARY_CEF =
  "CEF:0|Vectra Networks|X Series|var|cycle-summary|Vectra Automated Response|8|" +
  `rt=${RT} cat=Error act=summary cnt=2 cn1Label=exit code cn1=2 ` +
  "msg=Cycle finished: 2 brain(s) (ok 1, partial 1, failed 0); 2 action(s) " +
  "(ok 1, failed 1, planned 0, warning 0); acted yes; exit code 2";

Deno.test("notifyCycle() sends one CEF event per action and a summary over UDP, exact bytes", async () => {
  const receiver = await startUdpReceiver();
  try {
    const result = await notifyCycle(
      REPORT,
      {
        syslog: syslogConfig({ port: receiver.port }),
        email: emailConfig({ enabled: false }),
      },
      () => Promise.reject(new Error("no secret should be needed")),
      { now: () => NOW, hostname: "var-host.example" },
    );
    assert.deepEqual(result, { syslog: { ok: true, sent: 3 }, email: null });
    const datagrams = await receiver.waitFor(3);
    const header = `1 2026-11-28T04:05:06.789Z var-host.example var ${PID} - - `;
    assert.deepEqual(datagrams, [
      `<14>${header}${TRICKY_CEF}`,
      `<11>${header}CEF:0|Vectra Networks|X Series|var|account-block|Vectra Automated Response|8|` +
      `rt=${RT} cat=Error act=block outcome=failed dvchost=brain-b.example cs1Label=kind cs1=account ` +
      "cs2Label=client cs2=ad cs3Label=entity id cs3=7 cs4Label=entity name cs4=jdoe@corp " +
      "cs6Label=error cs6=Cannot block account jdoe@corp on ad: LDAP answered 50 " +
      "reason=tag vectra_host_block " +
      "msg=Error encountered trying to block account ID 7: LDAP answered 50",
      `<11>${header}${SUMMARY_CEF}`,
    ]);
  } finally {
    await receiver.close();
  }
});

Deno.test("sendSyslog() frames Standard messages with octet counting over TCP, exact bytes", async () => {
  const receiver = startTcpReceiver();
  try {
    const result = await sendSyslog(
      syslogConfig({ proto: "TCP", format: "Standard", port: receiver.port }),
      [actionEvent(TRICKY, NOW), actionEvent(FAILED, NOW)],
      { now: () => NOW, hostname: "var-host.example" },
    );
    assert.deepEqual(result, { ok: true, sent: 2 });
    const header = `1 2026-11-28T04:05:06.789Z var-host.example var ${PID} - - `;
    const first = `<14>${header}Info: Blocked host 42, pc|1=a\\b, 10.1.2.3 with client fortinet ` +
      "second line; outcome ok; reason tag vectra_host_block, threat 80 >= 50 and certainty 90 >= 50; " +
      "brain brain-a.example";
    const second = `<11>${header}Error: Error encountered trying to block account ID 7: ` +
      "LDAP answered 50; outcome failed; reason tag vectra_host_block; brain brain-b.example";
    const encoder = new TextEncoder();
    const expected = `${encoder.encode(first).byteLength} ${first}` +
      `${encoder.encode(second).byteLength} ${second}`;
    assert.equal(new TextDecoder().decode(await receiver.received), expected);
  } finally {
    receiver.close();
  }
});

Deno.test("sendTestSyslog() sends INFO: TEST TEST TEST with CEF severity 2 over TCP", async () => {
  const receiver = startTcpReceiver();
  try {
    const result = await sendTestSyslog(syslogConfig({ proto: "TCP", port: receiver.port }), {
      now: () => NOW,
      hostname: "h",
    });
    assert.deepEqual(result, { ok: true, sent: 1 });
    const message = `<14>1 2026-11-28T04:05:06.789Z h var ${PID} - - ` +
      "CEF:0|Vectra Networks|X Series|var|test|Vectra Automated Response|2|" +
      `rt=${RT} msg=INFO: TEST TEST TEST`;
    assert.equal(
      new TextDecoder().decode(await receiver.received),
      `${new TextEncoder().encode(message).byteLength} ${message}`,
    );
  } finally {
    receiver.close();
  }
});

Deno.test("sendSyslog() returns a failure, never throws, when the collector is unreachable", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  const result = await sendTestSyslog(syslogConfig({ proto: "TCP", port }), { timeoutMs: 2_000 });
  assert.equal(result.ok, false);
  assert.match(
    result.ok ? "" : result.error,
    new RegExp(`^Cannot send syslog to TCP 127\\.0\\.0\\.1:${port}: .+`),
  );
  const empty = await sendTestSyslog(syslogConfig({ server: "" }));
  assert.deepEqual(empty, {
    ok: false,
    error: "Cannot send syslog to UDP :514: SYSLOG_SERVER is empty",
  });
});

// ---------------------------------------------------------------------------------------
// SMTP, against a real smtp-server listener

function emailConfig(overrides: Partial<EmailConfig>): EmailConfig {
  return {
    enabled: true,
    server: "127.0.0.1",
    port: 25,
    from: "var@soc.example",
    to: "soc@hospital.example",
    auth: false,
    user: "var-mailer",
    tls: "starttls",
    ...overrides,
  };
}

interface SmtpRecord {
  connections: number;
  auths: { username: string; password: string; secure: boolean }[];
  messages: { from: string; to: string[]; data: string; secure: boolean }[];
}

async function startSmtp(certs: TestCertificates, options: Partial<SMTPServerOptions> = {}) {
  const record: SmtpRecord = { connections: 0, auths: [], messages: [] };
  const server = new SMTPServer({
    name: "mx.test",
    key: certs.key,
    cert: certs.cert,
    logger: false,
    authOptional: true,
    onConnect(_session, callback) {
      record.connections++;
      callback();
    },
    onAuth(auth, session, callback) {
      record.auths.push({
        username: auth.username ?? "",
        password: auth.password ?? "",
        secure: session.secure,
      });
      callback(null, { user: auth.username });
    },
    onData(stream, session, callback) {
      const chunks: string[] = [];
      const decoder = new TextDecoder();
      stream.on(
        "data",
        (chunk: Uint8Array) => chunks.push(decoder.decode(chunk, { stream: true })),
      );
      stream.on("end", () => {
        record.messages.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : "",
          to: session.envelope.rcptTo.map((rcpt) => rcpt.address),
          data: chunks.join(""),
          secure: session.secure,
        });
        callback();
      });
    },
    ...options,
  });
  // A client refusing the certificate aborts the handshake; the server reports it as an error.
  server.on("error", () => {});
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  const address = server.server.address();
  const port = typeof address === "object" && address !== null ? address.port : 0;
  return {
    port,
    record,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

const secretLookups: string[] = [];
function secret(service: string, key: string): Promise<string> {
  secretLookups.push(`${service}/${key}`);
  return Promise.resolve(service === "VAR" && key === "Email" ? "s3cret-mail-pw" : "wrong");
}

function expectedMessage(
  subject: string,
  body: string,
  messageId: string,
  encoding = "7bit",
): string {
  return [
    "From: var@soc.example",
    "To: soc@hospital.example",
    `Subject: ${subject}`,
    `Message-ID: ${messageId}`,
    "Date: Sat, 28 Nov 2026 04:05:06 +0000",
    `Content-Transfer-Encoding: ${encoding}`,
    "MIME-Version: 1.0",
    "Content-Type: text/plain; charset=utf-8",
    "",
    body.endsWith("\n") ? body.replaceAll("\n", "\r\n") : `${body.replaceAll("\n", "\r\n")}\r\n`,
  ].join("\r\n");
}

Deno.test("sendEmail() over STARTTLS verifies the certificate, logs in, and delivers the summary", async () => {
  const certs = await makeTestCertificates();
  const smtp = await startSmtp(certs);
  try {
    secretLookups.length = 0;
    const result = await notifyCycle(
      REPORT,
      {
        syslog: syslogConfig({ enabled: false }),
        email: emailConfig({ port: smtp.port, auth: true, server: "localhost" }),
      },
      secret,
      { now: () => NOW, caPem: certs.caPem, messageId: "<cycle-1@soc.example>", timeoutMs: 5_000 },
    );
    assert.deepEqual(result, { syslog: null, email: { ok: true, sent: 1 } });
    assert.deepEqual(secretLookups, ["VAR/Email"]);
    assert.deepEqual(smtp.record.auths, [
      { username: "var-mailer", password: "s3cret-mail-pw", secure: true },
    ]);
    assert.equal(smtp.record.messages.length, 1);
    const [message] = smtp.record.messages;
    assert.equal(message?.from, "var@soc.example");
    assert.deepEqual(message?.to, ["soc@hospital.example"]);
    assert.equal(message?.secure, true);
    assert.equal(
      message?.data,
      expectedMessage(
        "Vectra Automated Response",
        // Lines over 76 characters make nodemailer choose quoted-printable.
        [
          "Info",
          "brain-a.example: Blocked host 42, pc|1=3Da\\b, 10.1.2.3 with client =",
          "fortinet second line",
          "",
          "Warning",
          "fortinet does not support accounts",
          "",
          "Error",
          "brain-b.example: Error encountered trying to block account ID 7: LDAP =",
          "answered 50",
          "",
        ].join("\n"),
        "<cycle-1@soc.example>",
        "quoted-printable",
      ),
    );
  } finally {
    await smtp.close();
    await certs.cleanup();
  }
});

Deno.test("sendTestEmail() over implicit TLS sends the original's test subject and body", async () => {
  const certs = await makeTestCertificates();
  const smtp = await startSmtp(certs, { secure: true });
  try {
    const result = await sendTestEmail(
      emailConfig({ port: smtp.port, tls: "implicit" }),
      secret,
      { now: () => NOW, caPem: certs.caPem, messageId: "<test@soc.example>", timeoutMs: 5_000 },
    );
    assert.deepEqual(result, { ok: true, sent: 1 });
    assert.deepEqual(smtp.record.auths, []);
    assert.equal(
      smtp.record.messages[0]?.data,
      expectedMessage(
        "TEST - Vectra Automated Response - TEST ",
        "Info: TEST TEST TEST",
        "<test@soc.example>",
      ),
    );
  } finally {
    await smtp.close();
    await certs.cleanup();
  }
});

Deno.test("sendEmail() refuses a server whose certificate is not trusted", async () => {
  const certs = await makeTestCertificates();
  const smtp = await startSmtp(certs);
  try {
    const result = await sendTestEmail(emailConfig({ port: smtp.port, auth: true }), secret, {
      timeoutMs: 5_000,
    });
    assert.equal(result.ok, false);
    assert.match(
      result.ok ? "" : result.error,
      new RegExp(
        `^Cannot send email to soc@hospital\\.example through 127\\.0\\.0\\.1:${smtp.port}: `,
      ),
    );
    assert.doesNotMatch(result.ok ? "" : result.error, /s3cret-mail-pw/);
    assert.deepEqual(smtp.record.auths, []);
    assert.deepEqual(smtp.record.messages, []);
  } finally {
    await smtp.close();
    await certs.cleanup();
  }
});

Deno.test("sendEmail() never authenticates when the server offers no STARTTLS", async () => {
  const certs = await makeTestCertificates();
  const smtp = await startSmtp(certs, {
    disabledCommands: ["STARTTLS"],
    allowInsecureAuth: true,
  });
  try {
    const result = await sendTestEmail(emailConfig({ port: smtp.port, auth: true }), secret, {
      caPem: certs.caPem,
      timeoutMs: 5_000,
    });
    assert.equal(result.ok, false);
    assert.match(result.ok ? "" : result.error, /STARTTLS/i);
    assert.equal(smtp.record.connections, 1);
    assert.deepEqual(smtp.record.auths, [], "the password never went over the plain session");
    assert.deepEqual(smtp.record.messages, []);
  } finally {
    await smtp.close();
    await certs.cleanup();
  }
});

Deno.test("sendEmail() refuses SMTP_AUTH with SMTP_TLS=none without connecting", async () => {
  const certs = await makeTestCertificates();
  const smtp = await startSmtp(certs, { hideSTARTTLS: true, allowInsecureAuth: true });
  try {
    secretLookups.length = 0;
    const config = emailConfig({ port: smtp.port, auth: true, tls: "none" });
    const result = await sendEmail(config, secret, "Vectra Automated Response", "Info\nx\n");
    assert.deepEqual(result, {
      ok: false,
      error: `Cannot send email to soc@hospital.example through 127.0.0.1:${smtp.port}: ` +
        "SMTP_AUTH needs an encrypted session and SMTP_TLS is none; set SMTP_TLS to implicit or starttls",
    });
    assert.equal(smtp.record.connections, 0);
    assert.deepEqual(secretLookups, []);

    const plain = await sendEmail({ ...config, auth: false }, secret, "S", "Info\nx\n", {
      now: () => NOW,
      messageId: "<plain@soc.example>",
    });
    assert.deepEqual(
      plain,
      { ok: true, sent: 1 },
      "explicitly unencrypted, without auth, is allowed",
    );
    assert.equal(smtp.record.messages[0]?.secure, false);
  } finally {
    await smtp.close();
    await certs.cleanup();
  }
});

Deno.test("notifyCycle() connects to no SMTP server when there is nothing to report", async () => {
  const certs = await makeTestCertificates();
  const smtp = await startSmtp(certs);
  try {
    const result = await notifyCycle(
      cycleReport(),
      { syslog: syslogConfig({ enabled: false }), email: emailConfig({ port: smtp.port }) },
      secret,
    );
    assert.deepEqual(result, { syslog: null, email: null });
    assert.equal(smtp.record.connections, 0);
  } finally {
    await smtp.close();
    await certs.cleanup();
  }
});

Deno.test("notifyCycle() reports undeliverable notifications without throwing", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  const result = await notifyCycle(
    REPORT,
    {
      syslog: syslogConfig({ proto: "TCP", port }),
      email: emailConfig({ port, tls: "implicit" }),
    },
    secret,
    { timeoutMs: 2_000 },
  );
  assert.equal(result.syslog?.ok, false);
  assert.equal(result.email?.ok, false);
});

Deno.test("notify works under deno run -P (net, run, read only: no sys, no env)", async () => {
  const certs = await makeTestCertificates();
  const smtp = await startSmtp(certs);
  const udp = await startUdpReceiver();
  try {
    const probe = new URL("./_notify_sandbox.ts", import.meta.url).pathname;
    const config = new URL("../../deno.json", import.meta.url).pathname;
    const output = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-P",
        "--no-prompt",
        BINARY_V8_ARG,
        "--config",
        config,
        probe,
        JSON.stringify({ smtpPort: smtp.port, syslogPort: udp.port, caFile: certs.caFile }),
      ],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stdout = new TextDecoder().decode(output.stdout);
    const stderr = new TextDecoder().decode(output.stderr);
    assert.equal(output.success, true, stderr);
    assert.deepEqual(JSON.parse(stdout), {
      syslog: { ok: true, sent: 1 },
      email: { ok: true, sent: 1 },
    }, stderr);
    assert.equal(smtp.record.auths.length, 1);
    assert.equal(smtp.record.messages.length, 1);
    const [datagram] = await udp.waitFor(1);
    assert.match(
      datagram ?? "",
      /^<14>1 \S+ \S+ var \d+ - - CEF:0\|Vectra Networks\|.*\|2\|rt=\d+ msg=INFO: TEST TEST TEST$/,
    );
  } finally {
    await udp.close();
    await smtp.close();
    await certs.cleanup();
  }
});

Deno.test("notifyCycle() returns a failure for a report it cannot format, without throwing", async () => {
  const broken = cycleReport({
    actions: [{ ...action(), reasons: undefined as unknown as string[] }],
  });
  const result = await notifyCycle(
    broken,
    { syslog: syslogConfig({ port: 9 }), email: emailConfig({ enabled: false }) },
    secret,
  );
  assert.equal(result.email, null);
  assert.equal(result.syslog?.ok, false);
  assert.match(
    result.syslog?.ok === false ? result.syslog.error : "",
    /^Cannot format the notification: /,
  );
});
