import assert from "node:assert/strict";
import { CLIENTS } from "../../clients/mod.ts";
import { findClientDefinition } from "../../config.ts";

const findClient = (name: string) => findClientDefinition(name, CLIENTS);

Deno.test("findClientDefinition() resolves module names case-insensitively", () => {
  assert.equal(findClient("test_client")?.tagName, "Test Client");
  assert.equal(findClient(" External_Call ")?.tagName, "External Call Client");
  assert.equal(findClient("nonesuch"), undefined);
  assert.equal(findClient(""), undefined);
});

Deno.test("findClientDefinition() resolves every registered alias to its definition", () => {
  for (const client of CLIENTS) {
    for (const alias of client.aliases) assert.equal(findClient(alias), client);
  }
});

Deno.test("CLIENTS have unique names, aliases, tag names and prefixed keys", () => {
  const names = CLIENTS.flatMap((c) => [c.name, ...c.aliases].map((n) => n.toLowerCase()));
  assert.equal(new Set(names).size, names.length);
  const tags = CLIENTS.map((c) => c.tagName);
  assert.equal(new Set(tags).size, tags.length);
  for (const client of CLIENTS) {
    for (const key of client.keys) {
      assert.ok(
        key.key.startsWith(`${client.name.toUpperCase()}_`),
        `${key.key} is not prefixed with ${client.name.toUpperCase()}_`,
      );
    }
    const defaults = Object.fromEntries(client.keys.map((k) => [k.key, k.default]));
    const parsed = client.configSchema.safeParse(defaults);
    const required = client.keys.filter((k) => k.required).map((k) => k.key);
    if (required.length === 0) {
      assert.ok(parsed.success, `${client.name} defaults`);
    } else {
      assert.ok(!parsed.success, `${client.name} defaults parse without ${required.join(", ")}`);
      const paths = parsed.error.issues.map((issue) => String(issue.path[0]));
      for (const key of required) assert.ok(paths.includes(key), `${key} is not reported`);
    }
  }
});
