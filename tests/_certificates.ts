/**
 * Self-signed certificates for the tests that serve HTTPS, made by openssl in a directory
 * of the test file's own.
 *
 * @module
 */
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { tempDir } from "./_harness.ts";

/** A new directory for one test file's certificates, removed when the file ends. */
export function certificateDir(): string {
  return tempDir("multiserve-tls-");
}

/**
 * A self-signed certificate for localhost and 127.0.0.1 in `dir`/`name`.pem, its key in
 * `name`.key (unencrypted unless `keyArgs` say otherwise); `name` is its organisation.
 */
export function certificate(
  dir: string,
  name: string,
  keyArgs: string[] = ["-nodes"],
): { cert: string; key: string } {
  const cert = join(dir, `${name}.pem`);
  const key = join(dir, `${name}.key`);
  execFileSync("openssl", [
    "req",
    "-x509",
    "-newkey",
    "rsa:2048",
    ...keyArgs,
    "-keyout",
    key,
    "-out",
    cert,
    "-days",
    "2",
    "-subj",
    `/CN=localhost/O=${name}`,
    "-addext",
    "subjectAltName=DNS:localhost,IP:127.0.0.1",
  ], { stdio: "ignore" });
  return { cert, key };
}
