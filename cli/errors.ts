/**
 * Exit codes (documented in `rk-sync --help` and the README):
 *   0   done
 *   1   failed items remain, or an error
 *   2   bad arguments or configuration
 *   3   not authorised, or access was revoked
 *   75  another sync is running on the data directory (EX_TEMPFAIL: nothing done, try later)
 *   130 interrupted (Ctrl-C / SIGTERM); everything stored so far is kept
 */
export const EXIT = {
  ok: 0,
  failed: 1,
  usage: 2,
  unauthorised: 3,
  busy: 75,
  interrupted: 130,
} as const;

export const EXIT_CODES_HELP = `Exit codes:
  0    done
  1    failed items remain, or an error
  2    bad arguments or configuration
  3    not authorised (run "rk-sync auth"), or access was revoked
  75   another sync is already running on this data directory (nothing done)
  130  interrupted (Ctrl-C); everything stored so far is kept, run again to resume`;

/** An error meant for the user: printed as one line, never with a stack trace. */
export class CliError extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode: number = EXIT.failed) {
    super(message);
    this.name = 'CliError';
    this.exitCode = exitCode;
  }
}

/** Interrupted by a signal (exit 130). */
export class Interrupted extends CliError {
  constructor(message = 'interrupted') {
    super(message, EXIT.interrupted);
  }
}
