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
  /**
   * The environment lacks something leakhunt needs (shim not built, no compiler, no symbolizer), or will not let it
   * write where it must (a read-only file system, no permission, no space left).
   */
  environment: 4,
  /** Refusing to overwrite existing output without --force. */
  outputExists: 5,
  /** `leakhunt push`: some profiles could not be sent (they stay in the run directory). */
  pushIncomplete: 6,
  /** `leakhunt attach`/`detach`: the process cannot be attached (not a JVM, another user's, attach disabled, gone). */
  attachRefused: 7,
  /** `run`: the command was found but cannot be executed (as a shell, `env` or `timeout` say it). */
  cannotExecute: 126,
  /** `run`: the command was not found (as a shell, `env` or `timeout` say it). */
  commandNotFound: 127,
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

/** What an error number of the file system means, in words (Node's own messages add the call and the path). */
const fileSystemReasons: Readonly<Record<string, string>> = {
  EACCES: 'permission denied', EPERM: 'operation not permitted', EROFS: 'read-only file system',
  ENOSPC: 'no space left on device', EDQUOT: 'disk quota exceeded', ENOENT: 'no such file or directory',
  ENOTDIR: 'a part of the path is not a directory', EISDIR: 'is a directory', ELOOP: 'too many levels of symbolic links',
  ENAMETOOLONG: 'file name too long', EEXIST: 'file exists', EIO: 'input/output error', EBUSY: 'device or resource busy',
  EMFILE: 'too many open files', ENFILE: 'too many open files in the system', EFBIG: 'file too large', ENXIO: 'no such device',
};

/** The error number of a failed system call, e.g. "EROFS"; undefined for anything else. */
export function errnoCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^E[A-Z0-9]+$/.test(code) ? code : undefined;
}

/**
 * A file-system failure of the user's environment as one line and exit 4: "cannot write /x/report.json: read-only
 * file system". Anything that is not a system call's error (a bug) is returned as it is, to be an internal error.
 */
export function fileSystemError(error: unknown, doing: string, path: string): unknown {
  if (error instanceof LeakhuntError) return error;
  const code = errnoCode(error);
  if (code === undefined) return error;
  return new LeakhuntError(`cannot ${doing} ${path}: ${fileSystemReasons[code] ?? code}`, ExitCode.environment);
}

/** Error numbers that are always the environment's doing, never a bug: what the CLI's catch turns into exit 4. */
const environmentCodes: ReadonlySet<string> = new Set(['EROFS', 'EACCES', 'EPERM', 'ENOSPC', 'EDQUOT']);

/**
 * A system call's error that only the environment causes (read-only, no permission, no space), wherever it was
 * thrown, as the one line fileSystemError would have made of it; undefined for anything else.
 */
export function environmentErrorOf(error: unknown): LeakhuntError | undefined {
  const code = errnoCode(error);
  if (code === undefined || !environmentCodes.has(code)) return undefined;
  const { path, syscall } = error as { path?: unknown; syscall?: unknown };
  const doing = typeof syscall === 'string' ? syscall : 'write';
  return new LeakhuntError(`cannot ${doing} ${typeof path === 'string' ? path : 'a file'}: ${fileSystemReasons[code] ?? code}`, ExitCode.environment);
}
