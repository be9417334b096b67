import assert from "node:assert/strict";
import { KIND_TAGS, objectName, parseObjectName } from "../../clients/_names.ts";

Deno.test("objectName() makes vendor-safe names from IPs, networks and MACs", () => {
  const table: [string, string, string][] = [
    [KIND_TAGS.host, "10.1.2.3", "var-h-10.1.2.3"],
    [KIND_TAGS.detection, "198.51.100.7", "var-d-198.51.100.7"],
    [KIND_TAGS.static, "2.2.2.0/24", "var-s-2.2.2.0_24"],
    [KIND_TAGS.host, "2001:DB8::1", "var-h-2001-db8--1"],
    [KIND_TAGS.static, "2001:db8::/32", "var-s-2001-db8--_32"],
    [KIND_TAGS.mac, "00:11:22:33:44:55", "var-m-00-11-22-33-44-55"],
  ];
  for (const [tag, value, name] of table) {
    assert.equal(objectName("var", tag, value), name);
    assert.match(name, /^[A-Za-z0-9._-]{1,63}$/);
  }
});

Deno.test("parseObjectName() reverses objectName() and rejects other names", () => {
  for (const value of ["10.1.2.3", "2.2.2.0/24", "2001:db8::1", "00:11:22:33:44:55"]) {
    assert.deepEqual(parseObjectName(objectName("var", "s", value)), {
      prefix: "var",
      kindTag: "s",
      value,
    });
  }
  assert.equal(parseObjectName("Internal-Block"), null);
  assert.equal(parseObjectName("web server 10.1.2.3"), null);
});

Deno.test("objectName() rejects what cannot make a safe name", () => {
  assert.throws(
    () => objectName("var", "h", "10.1.2.3; rm -rf /"),
    new RangeError(
      'Cannot name an object for "10.1.2.3; rm -rf /": only IP addresses, networks and MAC addresses make object names',
    ),
  );
  assert.throws(() => objectName("v-r", "h", "10.1.2.3"), RangeError);
  assert.throws(() => objectName("var", "H", "10.1.2.3"), RangeError);
  assert.throws(
    () => objectName("var", "h", "ffff:".repeat(12) + "1"),
    /is longer than 63 characters/,
  );
});
