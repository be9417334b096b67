import assert from "node:assert/strict";
import { seed } from "../../demo/seed.ts";
import { runCycle } from "../../engine/cycle.ts";
import { resetLogging, setupLogging } from "../../engine/log.ts";
import { SecretValues } from "../../engine/secrets.ts";
import { startEngine, testClientAs } from "./_engine_harness.ts";
import { testConfig } from "./_policy.ts";

const ROOT = new URL("../../", import.meta.url);

/** Every TypeScript source var ships, relative to the repository root. */
async function sources(): Promise<string[]> {
  const files = ["main.ts", "config.ts"];
  const walk = async (dir: string) => {
    for await (const entry of Deno.readDir(new URL(dir, ROOT))) {
      const path = `${dir}${entry.name}`;
      if (entry.isDirectory) await walk(`${path}/`);
      else if (entry.name.endsWith(".ts")) files.push(path);
    }
  };
  for (const dir of ["engine/", "clients/", "cli/"]) await walk(dir);
  return files;
}

Deno.test("every log call's template is a string literal or a named constant, never data", async () => {
  const offenders: string[] = [];
  let calls = 0;
  for (const file of await sources()) {
    const text = await Deno.readTextFile(new URL(file, ROOT));
    for (
      const match of text.matchAll(/\blogger\.(trace|debug|info|warn|warning|error|fatal)\(\s*/g)
    ) {
      calls++;
      const rest = text.slice((match.index ?? 0) + match[0].length);
      if (!/^("|[A-Z][A-Z0-9_]*\b)/.test(rest)) {
        const line = text.slice(0, match.index).split("\n").length;
        offenders.push(`${file}:${line}: ${rest.split("\n")[0]}`);
      }
    }
  }
  assert.ok(calls > 50, `found only ${calls} log calls: the scan is broken`);
  assert.deepEqual(offenders, []);
});

const HOSTILE_NAME = "{constructor} %s ${x} \u202eexe.pdf\u2028next\u0085line\u2066";

for (const json of [false, true]) {
  Deno.test(`brain text in ${json ? "JSON" : "text"} log lines is printed literally, with separators and bidi characters escaped`, async () => {
    const lines: string[] = [];
    await setupLogging({
      json,
      secrets: new SecretValues(),
      write: (line: string) => lines.push(line),
    });
    try {
      await using h = await startEngine(
        seed()
          .host({ name: HOSTILE_NAME, ip: "10.1.2.3", tags: ["vectra_host_block"] })
          .host({ name: `${HOSTILE_NAME} no-ip`, ip: "0.0.0.0/0", tags: ["vectra_host_block"] })
          .group({ name: "NoBlock", type: "host", members: [] })
          .group({ name: "Block", type: "host", members: [] })
          .build(),
      );
      // The note fails, so the warning about it carries the host name too.
      h.brain.fault({ kind: "status", status: 500 }, { path: /\/notes$/, times: 10 });
      const now = new Date(2026, 11, 7, 10, 0, 0);
      await runCycle(testConfig({ blockTypes: new Set(["host"]) }), [h.runtime], [testClientAs()], {
        dryRun: false,
        groom: false,
        now,
        insideWindow: true,
        confirmBlastRadius: false,
        clock: () => now,
      });
    } finally {
      await resetLogging();
    }
    const text = lines.join("");
    const mentions = lines.filter((line) => line.includes("{constructor} %s ${x}"));
    assert.ok(mentions.length >= 3, `the name is printed literally:\n${text}`);
    assert.doesNotMatch(text, /function Object|\[Function/, "no template lookup of {constructor}");
    for (const raw of ["\u202e", "\u2028", "\u0085", "\u2066"]) {
      assert.ok(!text.includes(raw), `U+${raw.charCodeAt(0).toString(16)} is escaped`);
    }
    assert.match(text, /\\u202eexe\.pdf\\u2028next/);
    assert.equal(
      lines.every((line) => line.endsWith("\n") && line.indexOf("\n") === line.length - 1),
      true,
    );
  });
}
