import { createCipheriv, createDecipheriv, randomBytes, scryptSync } from "node:crypto";
import { chmod, mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import type { ICachePlugin, TokenCacheContext } from "@azure/msal-node";
import { CosellError } from "../shared/errors.js";

/**
 * msal's token cache on disk, encrypted with AES-256-GCM under a key derived from a secret in the
 * environment. The file is written atomically (temp file + rename) with mode 0600, so a crash never
 * leaves half a cache and no other user can read the refresh token. Without the key the file is
 * useless, and a wrong key is reported, never silently replaced.
 */
const FORMAT = "cosell-token-cache/1";
const SALT = "cosell-sync token cache";

interface Envelope {
  format: string;
  iv: string;
  tag: string;
  data: string;
}

export function deriveCacheKey(secret: string): Buffer {
  if (secret.length < 16) {
    throw new CosellError("AUTH_TOKEN_CACHE_KEY_WEAK", "The token cache key must be at least 16 characters; generate one with `openssl rand -base64 32`.");
  }
  return scryptSync(secret, SALT, 32);
}

export function encryptCache(plaintext: string, key: Buffer): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", key, iv);
  const data = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()]);
  const envelope: Envelope = { format: FORMAT, iv: iv.toString("base64"), tag: cipher.getAuthTag().toString("base64"), data: data.toString("base64") };
  return JSON.stringify(envelope);
}

export function decryptCache(text: string, key: Buffer, file: string): string {
  try {
    const envelope = JSON.parse(text) as Envelope;
    if (envelope.format !== FORMAT) throw new Error(`unknown format ${String(envelope.format)}`);
    const decipher = createDecipheriv("aes-256-gcm", key, Buffer.from(envelope.iv, "base64"));
    decipher.setAuthTag(Buffer.from(envelope.tag, "base64"));
    return Buffer.concat([decipher.update(Buffer.from(envelope.data, "base64")), decipher.final()]).toString("utf8");
  } catch (error) {
    throw new CosellError(
      "AUTH_TOKEN_CACHE_UNREADABLE",
      `The token cache ${file} cannot be decrypted (wrong tokenCacheKey, or the file was altered). Restore the key, or delete the file and seed a new refresh token for the service user.`,
      { cause: error },
    );
  }
}

export class EncryptedFileCachePlugin implements ICachePlugin {
  readonly #key: Buffer;

  constructor(
    private readonly file: string,
    secret: string,
  ) {
    this.#key = deriveCacheKey(secret);
  }

  async beforeCacheAccess(context: TokenCacheContext): Promise<void> {
    let text: string;
    try {
      text = await readFile(this.file, "utf8");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return;
      throw error;
    }
    context.tokenCache.deserialize(decryptCache(text, this.#key, this.file));
  }

  async afterCacheAccess(context: TokenCacheContext): Promise<void> {
    if (!context.cacheHasChanged) return;
    await mkdir(dirname(this.file), { recursive: true, mode: 0o700 });
    const temporary = `${this.file}.${process.pid}.tmp`;
    await writeFile(temporary, encryptCache(context.tokenCache.serialize(), this.#key), { mode: 0o600 });
    await chmod(temporary, 0o600);
    await rename(temporary, this.file);
  }
}
