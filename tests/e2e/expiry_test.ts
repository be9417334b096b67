import assert from "node:assert/strict";
import { hostObject, internalMembers, seed, startWorld, withTranscript } from "./_harness.ts";

/** 1.8 seconds: long enough for one run, short enough to wait for. */
const EXPIRE_HOURS = "0.0005";

Deno.test("an automatic block expires across processes: released, recorded on Vectra, not re-blocked until a person tags it", async () => {
  await using world = await startWorld({
    seed: seed()
      .host({ name: "scored-pc", ip: "10.3.0.1", threat: 90, certainty: 90 })
      .host({
        name: "tagged-pc",
        ip: "10.3.0.2",
        threat: 90,
        certainty: 90,
        tags: ["vectra_host_block"],
      })
      .build(),
    env: { BLOCK_HOST_THREAT_CERTAINTY: "50 and 50", HOST_BLOCK_EXPIRE_HOURS: EXPIRE_HOURS },
  });
  await withTranscript(world, async () => {
    const blocked = await world.run();
    assert.equal(blocked.code, 0);
    assert.deepEqual(internalMembers(world).filter((m) => m.startsWith("var-host")), [
      hostObject("10.3.0.1"),
      hostObject("10.3.0.2"),
    ]);
    assert.ok(
      world.brain.tags("host", "scored-pc").some((t) => t.startsWith("VAR Blocked At:")),
    );

    await new Promise((resolve) => setTimeout(resolve, 2_500));
    const released = await world.run();
    assert.equal(released.code, 0);
    assert.deepEqual(
      internalMembers(world).filter((m) => m.startsWith("var-host")),
      [hostObject("10.3.0.2")],
      "only the automatic block is released",
    );
    assert.deepEqual(world.brain.tags("host", "scored-pc"), ["VAR Block Expired"]);
    assert.match(
      world.brain.notes("host", "scored-pc").at(-1)?.note ?? "",
      /^VAR: Unblocked on .* by Fortinet Client \(automatic block expired/,
    );

    // A new process reads the recorded release: no re-block while the scores stay up.
    const held = await world.run();
    assert.equal(held.code, 0);
    assert.deepEqual(internalMembers(world).filter((m) => m.startsWith("var-host")), [
      hostObject("10.3.0.2"),
    ]);

    // A person tags it: blocked again at once.
    world.brain.setTags("host", "scored-pc", ["VAR Block Expired", "vectra_host_block"]);
    const retagged = await world.run();
    assert.equal(retagged.code, 0);
    assert.deepEqual(internalMembers(world).filter((m) => m.startsWith("var-host")), [
      hostObject("10.3.0.1"),
      hostObject("10.3.0.2"),
    ]);
    assert.ok(!world.brain.tags("host", "scored-pc").includes("VAR Block Expired"));
  });
});
