import assert from "node:assert/strict";
import {
  KeychainError,
  MissingSecretError,
  type Prompter,
  secretFileName,
  secretFileWarning,
  SecretResolver,
  SecretToolKeychain,
  SecretValues,
} from "../../engine/secrets.ts";
import { startPrivateKeyring } from "./_keyring.ts";

const BRAIN = "https://brain.example.com";

/** A prompt that answers from a list and records what it was asked. */
function scriptedPrompt(answers: (string | null)[]): Prompter & { asked: string[] } {
  const asked: string[] = [];
  const prompt = (message: string) => {
    asked.push(message);
    return Promise.resolve(answers.shift() ?? null);
  };
  return Object.assign(prompt, { asked });
}

Deno.test("secretFileName() replaces every character outside A-Za-z0-9.- of the service", () => {
  assert.equal(
    secretFileName("https://brain.example.com", "Token"),
    "https___brain.example.com_Token",
  );
  assert.equal(secretFileName("Cisco_ISE", "Username"), "Cisco_ISE_Username");
  assert.equal(secretFileName("a b/c:d", "Secret_Key"), "a_b_c_d_Secret_Key");
  assert.equal(secretFileName("VAR", "Email"), "VAR_Email");
});

Deno.test("SecretToolKeychain stores, reads, updates and misses items in a real gnome-keyring", async () => {
  await using keyring = await startPrivateKeyring();
  const keychain = new SecretToolKeychain({ env: keyring.env });
  assert.equal(await keychain.get(BRAIN, "Token"), null, "missing");
  await keychain.set(BRAIN, "Token", "first-token-value");
  assert.equal(await keychain.get(BRAIN, "Token"), "first-token-value");
  await keychain.set(BRAIN, "Token", "second token with spaces\tand tab");
  assert.equal(await keychain.get(BRAIN, "Token"), "second token with spaces\tand tab");
  assert.equal(await keychain.get(BRAIN, "Client_ID"), null, "another key is still missing");
  assert.equal(await keychain.get("https://other.example.com", "Token"), null);
  // the original (Python keyring) finds ours by service and username
  const lookup = await keyring.secretTool(["lookup", "service", BRAIN, "username", "Token"]);
  assert.equal(lookup.code, 0);
  assert.equal(lookup.stdout, "second token with spaces\tand tab");
  const search = await keyring.secretTool(["search", "service", BRAIN, "username", "Token"]);
  assert.match(search.stdout, /label = Password for 'Token' on 'https:\/\/brain\.example\.com'/);
});

Deno.test("SecretToolKeychain reads an item written the way Python keyring writes it", async () => {
  await using keyring = await startPrivateKeyring();
  const stored = await keyring.secretTool(
    [
      "store",
      "--label=Password for 'Client_ID' on 'brain.example.com'",
      "service",
      "brain.example.com",
      "username",
      "Client_ID",
      "application",
      "Python keyring library",
    ],
    "client-id-from-python",
  );
  assert.equal(stored.code, 0);
  const keychain = new SecretToolKeychain({ env: keyring.env });
  assert.equal(await keychain.get("brain.example.com", "Client_ID"), "client-id-from-python");
  // the service is the entry as written: another spelling is another item
  assert.equal(await keychain.get("https://brain.example.com", "Client_ID"), null);
});

Deno.test("SecretToolKeychain throws a KeychainError without a session bus or without secret-tool", async () => {
  const noBus = new SecretToolKeychain({
    env: { DBUS_SESSION_BUS_ADDRESS: "unix:path=/nonexistent/bus", DISPLAY: "" },
  });
  await assert.rejects(noBus.get(BRAIN, "Token"), (error: unknown) => {
    assert.ok(error instanceof KeychainError);
    assert.match(error.message, /^Cannot read the keychain with secret-tool: /);
    return true;
  });
  const absent = new SecretToolKeychain({ command: "/nonexistent/secret-tool" });
  await assert.rejects(absent.get(BRAIN, "Token"), {
    name: "KeychainError",
    message: "Cannot run /nonexistent/secret-tool: it is not installed",
  });
});

Deno.test("SecretResolver.lookup() reads the secrets directory first, then the keychain", async () => {
  await using keyring = await startPrivateKeyring();
  const dir = await Deno.makeTempDir();
  try {
    const keychain = new SecretToolKeychain({ env: keyring.env });
    await keychain.set(BRAIN, "Token", "keychain-token");
    await keychain.set(BRAIN, "Client_ID", "keychain-client-id");
    await Deno.writeTextFile(`${dir}/${secretFileName(BRAIN, "Token")}`, "file-token\n\n");
    await Deno.writeTextFile(`${dir}/${secretFileName(BRAIN, "Secret_Key")}`, "");
    const values = new SecretValues();
    const resolver = new SecretResolver({ secretsDir: dir, keychain, prompt: null, values });
    assert.equal(await resolver.lookup(BRAIN, "Token"), "file-token");
    assert.equal(await resolver.lookup(BRAIN, "Client_ID"), "keychain-client-id");
    await assert.rejects(resolver.lookup(BRAIN, "Secret_Key"), MissingSecretError);
    assert.deepEqual(values.values().sort(), ["file-token", "keychain-client-id"]);
    assert.deepEqual(await resolver.locate(BRAIN, "Token"), {
      kind: "file",
      path: `${dir}/https___brain.example.com_Token`,
    });
    assert.deepEqual(await resolver.locate(BRAIN, "Client_ID"), {
      kind: "keychain",
      name: "secret-tool",
    });
    assert.equal((await resolver.locate(BRAIN, "Secret_Key")).kind, "missing");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("SecretResolver.lookup() names a missing secret and the commands that set it", async () => {
  await using keyring = await startPrivateKeyring();
  const keychain = new SecretToolKeychain({ env: keyring.env });
  const resolver = new SecretResolver({ secretsDir: "/etc/var/secrets", keychain, prompt: null });
  await assert.rejects(resolver.lookup("https://brain.example.com/", "Secret_Key"), {
    name: "MissingSecretError",
    message: "Cannot find the secret Secret_Key for https://brain.example.com/: " +
      "not in /etc/var/secrets/https___brain.example.com__Secret_Key; not in secret-tool; " +
      "stdin is not a terminal to ask; set it with " +
      "`var secrets set https://brain.example.com/ Secret_Key` (the value is read from stdin), " +
      "or write it to /etc/var/secrets/https___brain.example.com__Secret_Key and run with " +
      "--secrets-dir /etc/var/secrets",
  });
});

Deno.test("SecretResolver.lookup() prompts once, stores the answer, and not with store false", async () => {
  await using keyring = await startPrivateKeyring();
  const keychain = new SecretToolKeychain({ env: keyring.env });
  const prompt = scriptedPrompt(["prompted-token"]);
  const resolver = new SecretResolver({ keychain, prompt });
  const [a, b] = await Promise.all([
    resolver.lookup(BRAIN, "Token"),
    resolver.lookup(BRAIN, "Token"),
  ]);
  assert.equal(a, "prompted-token");
  assert.equal(b, "prompted-token");
  assert.deepEqual(prompt.asked, [`Enter the ${BRAIN} Token: `]);
  assert.equal(await keychain.get(BRAIN, "Token"), "prompted-token");

  const noStore = new SecretResolver({
    keychain,
    prompt: scriptedPrompt(["not-stored"]),
    store: false,
  });
  assert.equal(await noStore.lookup(BRAIN, "Client_ID"), "not-stored");
  assert.equal(await keychain.get(BRAIN, "Client_ID"), null);
});

Deno.test("SecretResolver.lookup() with update prompts again and overwrites the keychain", async () => {
  await using keyring = await startPrivateKeyring();
  const keychain = new SecretToolKeychain({ env: keyring.env });
  await keychain.set(BRAIN, "Token", "old-token");
  const prompt = scriptedPrompt(["new-token"]);
  const resolver = new SecretResolver({ keychain, prompt, update: true });
  assert.equal(await resolver.lookup(BRAIN, "Token"), "new-token");
  assert.equal(prompt.asked.length, 1);
  assert.equal(await keychain.get(BRAIN, "Token"), "new-token");

  const noTerminal = new SecretResolver({ keychain, prompt: null, update: true });
  await assert.rejects(noTerminal.lookup(BRAIN, "Token"), {
    name: "MissingSecretError",
    message: /--update-secrets asks on the terminal, but stdin is not a terminal/,
  });
});

Deno.test("SecretResolver.lookup() reports a keychain failure and an empty answer", async () => {
  const keychain = new SecretToolKeychain({ command: "/nonexistent/secret-tool" });
  const resolver = new SecretResolver({ keychain, prompt: null });
  await assert.rejects(resolver.lookup("Fortinet", "10.0.0.1"), {
    name: "MissingSecretError",
    message:
      /^Cannot find the secret 10\.0\.0\.1 for Fortinet: Cannot run \/nonexistent\/secret-tool: it is not installed; stdin is not a terminal to ask; /,
  });
  const empty = new SecretResolver({ keychain: null, prompt: scriptedPrompt([""]) });
  await assert.rejects(empty.lookup("VAR", "Email"), {
    name: "MissingSecretError",
    message: /^Cannot use the secret Email for VAR: nothing was entered; /,
  });
});

Deno.test("SecretResolver.store() writes through to the keychain and registers the value", async () => {
  await using keyring = await startPrivateKeyring();
  const keychain = new SecretToolKeychain({ env: keyring.env });
  const values = new SecretValues();
  const resolver = new SecretResolver({ keychain, prompt: null, values });
  await resolver.store("PAN", "10.0.0.2", "derived-api-key");
  assert.equal(await keychain.get("PAN", "10.0.0.2"), "derived-api-key");
  assert.equal(await resolver.lookup("PAN", "10.0.0.2"), "derived-api-key");
  assert.deepEqual(values.values(), ["derived-api-key"]);
});

Deno.test("SecretResolver.findStored() reads the directory and keychain and never prompts", async () => {
  await using keyring = await startPrivateKeyring();
  const keychain = new SecretToolKeychain({ env: keyring.env });
  await keychain.set("https://fw.example", "username", "api-admin");
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/${secretFileName("https://fw.example", "password")}`, "pw\n");
    const prompt = scriptedPrompt([]);
    const values = new SecretValues();
    const resolver = new SecretResolver({ secretsDir: dir, keychain, prompt, values });
    assert.equal(await resolver.findStored("https://fw.example", "username"), "api-admin");
    assert.equal(await resolver.findStored("https://fw.example", "password"), "pw");
    assert.equal(await resolver.findStored("https://fw.example", "API_Key"), null);
    assert.deepEqual(prompt.asked, []);
    assert.deepEqual(values.values().sort(), ["api-admin", "pw"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("secretFileWarning() names a secret file its group or others can open, and the mode to use", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/${secretFileName(BRAIN, "Token")}`;
    await Deno.writeTextFile(path, "file-token\n");
    await Deno.chmod(path, 0o644);
    assert.equal(
      await secretFileWarning(path),
      `The secret file ${path} can be read or written by its group or others (mode 644); make it readable by var's user only: chmod 600 ${path}`,
    );
    await Deno.chmod(path, 0o660);
    assert.match((await secretFileWarning(path)) ?? "", /mode 660/);
    await Deno.chmod(path, 0o600);
    assert.equal(await secretFileWarning(path), null);
    await Deno.chmod(path, 0o400);
    assert.equal(await secretFileWarning(path), null);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
