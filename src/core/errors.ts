/**
 * Every failure the user can cause or meet is a LeakhuntError carrying the exit code the CLI returns.
 * The CLI catches once (src/cli.ts) and prints `leakhunt: <message>` as a single line.
 */
export const ExitCode = {
  ok: 0,
  /** The gate found a leak over its threshold. */
  leak: 1,
  /** Bad usage or unreadable input (a file that is not what it should be). */
  usage: 2,
  /** The run could not have detected the threshold: not enough data to decide. */
  notEnoughData: 3,
  /** The environment lacks something leakhunt needs (shim not built, no compiler, no symbolizer). */
  environment: 4,
  /** Refusing to overwrite existing output without --force. */
  outputExists: 5,
  /** `leakhunt push`: some profiles could not be sent (they stay in the run directory). */
  pushIncomplete: 6,
  /** `leakhunt attach`/`detach`: the process cannot be attached (not a JVM, another user's, attach disabled, gone). */
  attachRefused: 7,
  /** An internal failure: a bug in leakhunt. */
  internal: 70,
} as const;

export class LeakhuntError extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode: number = ExitCode.usage) {
    super(message);
    this.name = 'LeakhuntError';
    this.exitCode = exitCode;
  }
}

export function usageError(message: string): LeakhuntError {
  return new LeakhuntError(message, ExitCode.usage);
}

export function inputError(path: string, why: string): LeakhuntError {
  return new LeakhuntError(`${path}: ${why}`, ExitCode.usage);
}
