/**
 * Which config keys and log fields hold secrets. One list serves both the config loader (a secret
 * written in clear is refused) and the logger (these paths are redacted), so they cannot drift.
 */
const SECRET_KEY_PATTERN = /(secret|password|passphrase|token|privatekey|apikey|credential)s?$/i;

/** Keys that end in a secret-ish word but hold no secret. */
const NOT_SECRET_KEYS = new Set(["tokencachefile", "tokenendpoint", "tokenurl"]);

/** URLs whose query string is the credential (a Teams Workflows trigger carries its signature). */
const SECRET_URL_KEYS = new Set(["webhookurl"]);

export function isSecretKey(key: string): boolean {
  const lower = key.toLowerCase();
  return SECRET_URL_KEYS.has(lower) || (!NOT_SECRET_KEYS.has(lower) && SECRET_KEY_PATTERN.test(lower));
}

/** Field names redacted in every log line, at any of the first few depths. */
export const REDACTED_FIELD_NAMES = [
  "authorization",
  "Authorization",
  "clientSecret",
  "client_secret",
  "privateKey",
  "accessToken",
  "access_token",
  "refreshToken",
  "refresh_token",
  "idToken",
  "id_token",
  "token",
  "password",
  "secret",
  "apiKey",
  "tokenCacheKey",
  "assertion",
  "client_assertion",
  "cookie",
  "webhookUrl",
] as const;

export function redactionPaths(maxDepth = 4): string[] {
  const paths: string[] = [];
  for (const name of REDACTED_FIELD_NAMES) {
    const key = /^[A-Za-z_$][\w$]*$/.test(name) ? name : `["${name}"]`;
    for (let depth = 0; depth <= maxDepth; depth += 1) {
      paths.push([...Array<string>(depth).fill("*"), key].join("."));
    }
  }
  return paths;
}
