/**
 * The text of a thrown value, as messages and records show it.
 *
 * @module
 */

/** An error's message, or any other thrown value as text. */
export function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
