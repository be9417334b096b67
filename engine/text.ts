/**
 * Characters that can forge or disguise a line of output when text from Vectra (a host
 * name, a tag) is printed: C0 and C1 control characters (line breaks included), DEL, the
 * line and paragraph separators U+2028 and U+2029, and the bidirectional marks, embeddings,
 * overrides and isolates (U+061C, U+200E, U+200F, U+202A–U+202E, U+2066–U+2069). Logs show
 * them escaped; one-line channels (syslog, email) turn them into spaces.
 *
 * @module
 */

/** The character class of the unsafe characters, as RegExp source. */
const UNSAFE_CLASS =
  "[\\x00-\\x1f\\x7f-\\x9f\\u061c\\u200e\\u200f\\u2028\\u2029\\u202a-\\u202e\\u2066-\\u2069]";

/** Every character {@linkcode escapeUnsafe} escapes. */
export const UNSAFE_CHARACTERS: RegExp = new RegExp(UNSAFE_CLASS, "g");

/** Runs of unsafe characters. */
const UNSAFE_RUNS = new RegExp(`${UNSAFE_CLASS}+`, "g");

/** Visible forms of the common controls. */
const NAMED: Readonly<Record<string, string>> = { "\n": "\\n", "\r": "\\r", "\t": "\\t" };

/**
 * Makes every unsafe character visible: `\n`, `\r`, `\t`, `\xNN` below U+0100, `\uNNNN`
 * above.
 *
 * @example
 * ```ts
 * escapeUnsafe("pc\n2026-12-07 INFO forged\u202e"); // "pc\\n2026-12-07 INFO forged\\u202e"
 * ```
 */
export function escapeUnsafe(text: string): string {
  return text.replace(UNSAFE_CHARACTERS, (c) => {
    const named = NAMED[c];
    if (named !== undefined) return named;
    const code = c.charCodeAt(0);
    return code < 0x100
      ? `\\x${code.toString(16).padStart(2, "0")}`
      : `\\u${code.toString(16).padStart(4, "0")}`;
  });
}

/**
 * Escapes the unsafe characters JSON keeps as they are (DEL, C1, the separators and the
 * bidirectional characters) as `\uNNNN` in a JSON text; JSON itself escapes the C0 ones.
 */
export function escapeUnsafeInJson(json: string): string {
  return json.replace(
    UNSAFE_CHARACTERS,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}

/** Replaces every run of unsafe characters by one space, for text that must stay on one line. */
export function spaceUnsafe(text: string): string {
  return text.replace(UNSAFE_RUNS, " ");
}

/** `scheme://user[:password]@` in a URL; the scheme is group 1. */
export const URL_CREDENTIALS: RegExp = /\b([a-z][a-z0-9+.-]*:\/\/)[^\s/?#@"']+@/gi;

/**
 * Masks the credentials of every URL in a text (`https://user:pass@host` →
 * `https://***@host`), so a URL written with a user and password is never repeated with
 * them in an error, a log line or `var config check`.
 */
export function maskUrlCredentials(text: string): string {
  return text.replace(URL_CREDENTIALS, "$1***@");
}
