/**
 * Test certificates: a small CA and a leaf for 127.0.0.1/localhost signed by it (rustls
 * refuses a CA certificate used as the server's own). Made with `openssl` in a temp dir.
 *
 * @module
 */

/** PEM texts and the CA's file path. */
export interface TestCertificates {
  readonly caPem: string;
  readonly caFile: string;
  readonly cert: string;
  readonly key: string;
  /** Removes the temp dir. */
  cleanup(): Promise<void>;
}

async function openssl(dir: string, args: string[]): Promise<void> {
  const output = await new Deno.Command("openssl", {
    args,
    cwd: dir,
    stdout: "null",
    stderr: "piped",
  })
    .output();
  if (!output.success) {
    throw new Error(`Cannot run openssl ${args[0]}: ${new TextDecoder().decode(output.stderr)}`);
  }
}

/** Makes a fresh CA and a leaf certificate for 127.0.0.1, localhost and ::1. */
export async function makeTestCertificates(): Promise<TestCertificates> {
  const dir = await Deno.makeTempDir({ prefix: "var-tls-" });
  await openssl(dir, [
    "req",
    "-x509",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-keyout",
    "ca.key",
    "-out",
    "ca.pem",
    "-days",
    "2",
    "-subj",
    "/CN=var test CA",
  ]);
  await openssl(dir, [
    "req",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-keyout",
    "leaf.key",
    "-out",
    "leaf.csr",
    "-subj",
    "/CN=localhost",
  ]);
  await Deno.writeTextFile(
    `${dir}/ext.cnf`,
    "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1\nbasicConstraints=CA:FALSE\n",
  );
  await openssl(dir, [
    "x509",
    "-req",
    "-in",
    "leaf.csr",
    "-CA",
    "ca.pem",
    "-CAkey",
    "ca.key",
    "-CAcreateserial",
    "-out",
    "leaf.pem",
    "-days",
    "2",
    "-extfile",
    "ext.cnf",
  ]);
  return {
    caPem: await Deno.readTextFile(`${dir}/ca.pem`),
    caFile: `${dir}/ca.pem`,
    cert: await Deno.readTextFile(`${dir}/leaf.pem`),
    key: await Deno.readTextFile(`${dir}/leaf.key`),
    cleanup: () => Deno.remove(dir, { recursive: true }),
  };
}
