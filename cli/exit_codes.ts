/**
 * The exit codes of the `var` binary (README, "Exit codes"), and the error for a wrong
 * command line.
 *
 * @module
 */

/** The run completed (single run) or stopped cleanly (`--loop`). */
export const EXIT_OK = 0;
/** Usage or configuration error, a missing secret included: nothing was contacted. */
export const EXIT_USAGE = 1;
/** A cycle finished but some actions failed, or a blast-radius limit tripped. */
export const EXIT_ACTIONS_FAILED = 2;
/** Vectra could not be read (a brain or a kind). */
export const EXIT_VECTRA_UNREADABLE = 3;

/** A command line var cannot run; `main.ts` prints it and exits 1. */
export class UsageError extends Error {
  constructor(message: string, options: ErrorOptions = {}) {
    super(message, options);
    this.name = "UsageError";
  }
}
