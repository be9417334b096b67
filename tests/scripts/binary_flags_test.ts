import assert from "node:assert/strict";
import { compileV8Flags } from "../../scripts/binary_flags.ts";

const target = (flags: string, triple: string) =>
  `deno compile -P --v8-flags=${flags} -o dist/var-${triple} --target ${triple} main.ts`;

Deno.test("compileV8Flags() reads the flags every compile target shares", () => {
  const task = [target("--a,--b", "x86_64-unknown-linux-gnu"), target("--a,--b", "aarch64")]
    .join(" && ");
  assert.equal(compileV8Flags(task), "--a,--b");
});

Deno.test("compileV8Flags() refuses targets whose flags differ, or one without flags", () => {
  const differ = [target("--a", "x86_64"), target("--a,--b", "aarch64")].join(" && ");
  assert.throws(() => compileV8Flags(differ), /same --v8-flags: found "--a", "--a,--b"/);
  const missing = [target("--a", "x86_64"), "deno compile -P -o dist/var main.ts"].join(" && ");
  assert.throws(() => compileV8Flags(missing), /2 target\(s\) must each set the same --v8-flags/);
  assert.throws(() => compileV8Flags("deno compile -P main.ts"), /sets no --v8-flags/);
});
