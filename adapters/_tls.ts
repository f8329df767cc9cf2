/**
 * Reading a certificate and its key for HTTPS, through `node:fs` and `node:crypto`, which
 * Deno, Bun and Node all have: each file is named in the error when it cannot be read, is
 * not PEM, cannot be unlocked, or does not match. See `Adapter.readTls`.
 *
 * @module
 */
import { fs, nodeCrypto } from "./_builtins.ts";
import type { TlsFiles, TlsPem } from "../src/adapter.ts";
import { OptionError } from "../src/errors.ts";

import type { createPrivateKey, X509Certificate } from "node:crypto";

export function readTls({ cert, key, passphrase }: TlsFiles): TlsPem {
  const certPem = read(cert, "certificate");
  const keyPem = read(key, "key");
  let certificate: X509Certificate;
  try {
    certificate = new (nodeCrypto().X509Certificate)(certPem);
  } catch (error) {
    throw new OptionError(`the certificate ${cert} is not a PEM certificate: ${(error as Error).message}`);
  }
  let privateKey: ReturnType<typeof createPrivateKey>;
  try {
    privateKey = nodeCrypto().createPrivateKey({ key: keyPem, passphrase });
  } catch (error) {
    const message = (error as Error).message;
    if (!keyPem.includes("ENCRYPTED")) {
      throw new OptionError(`the key ${key} is not a PEM private key: ${message}`);
    }
    if (passphrase === undefined) {
      throw new OptionError(
        `the key ${key} is encrypted and no passphrase was given (MULTISERVE_KEY_PASSPHRASE)`,
      );
    }
    if (/unsupported/i.test(message)) {
      // Deno's node:crypto decrypts no encrypted key (PKCS#8 or traditional).
      throw new OptionError(
        `the key ${key} is encrypted, and this runtime cannot decrypt it (${message}); ` +
          `store it decrypted, readable by this user only: openssl pkey -in ${key} -out key.pem`,
      );
    }
    throw new OptionError(`the key ${key} is encrypted and the passphrase does not open it`);
  }
  if (!certificate.checkPrivateKey(privateKey)) {
    throw new OptionError(
      `the key ${key} does not belong to the certificate ${cert} (${certificate.subject})`,
    );
  }
  // Unlocked here, once: Deno's TLS listeners take no passphrase, and the workers need none.
  const unlocked = passphrase === undefined
    ? keyPem
    : String(privateKey.export({ format: "pem", type: "pkcs8" }));
  return { cert: certPem, key: unlocked };
}

function read(path: string, what: string): string {
  try {
    return fs().readFileSync(path, "utf8");
  } catch (error) {
    throw new OptionError(`cannot read the ${what} ${path}: ${(error as Error).message}`);
  }
}
