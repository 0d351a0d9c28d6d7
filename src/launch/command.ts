/**
 * Whether the command can be started at all, checked before a run directory is made for it: found (in PATH when
 * its name has no slash, as execvp looks), a file, executable. The answer is the shell's: 127 when it is not found,
 * 126 when it cannot be executed — one line each.
 */
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { ExitCode, LeakhuntError } from '../core/errors.js';

type Candidate = 'runnable' | 'not executable' | 'a directory' | 'missing';

function candidate(path: string): Candidate {
  try {
    if (statSync(path).isDirectory()) return 'a directory';
  } catch {
    return 'missing';
  }
  try {
    accessSync(path, constants.X_OK);
    return 'runnable';
  } catch {
    return 'not executable';
  }
}

function cannotExecute(file: string, why: string): LeakhuntError {
  return new LeakhuntError(`cannot run "${file}": ${why}`, ExitCode.cannotExecute);
}

/** Throws the shell's answer (127 not found, 126 not executable) for a command that cannot start; else nothing. */
export function checkCommandRunnable(file: string, path = process.env['PATH'] ?? ''): void {
  if (file.includes('/')) {
    const found = candidate(file);
    if (found === 'missing') throw new LeakhuntError(`cannot run "${file}": no such file`, ExitCode.commandNotFound);
    if (found === 'a directory') throw cannotExecute(file, 'it is a directory');
    if (found === 'not executable') throw cannotExecute(file, 'permission denied (not executable: chmod +x?)');
    return;
  }
  // As execvp: the first runnable file of that name in PATH; an empty entry is the current directory.
  let unrunnable: string | undefined;
  for (const dir of path.split(delimiter)) {
    const found = candidate(join(dir === '' ? '.' : dir, file));
    if (found === 'runnable') return;
    if (found === 'not executable') unrunnable ??= join(dir === '' ? '.' : dir, file);
  }
  if (unrunnable !== undefined) throw cannotExecute(file, `permission denied (${unrunnable} is not executable)`);
  throw new LeakhuntError(`cannot run "${file}": command not found`, ExitCode.commandNotFound);
}

/** The one line for a command that passed checkCommandRunnable but failed to start anyway (execa's error code). */
export function startFailure(file: string, code: string | undefined, detail = ''): LeakhuntError {
  if (code === 'ENOENT') {
    // The file is there (it passed the check), so what is missing is what the kernel needed to load it.
    const there = (() => { try { checkCommandRunnable(file); return true; } catch { return false; } })();
    return new LeakhuntError(`cannot run "${file}": ${there ? 'its #! interpreter or its ELF loader is missing' : 'command not found'}`, ExitCode.commandNotFound);
  }
  if (code === 'EACCES' || code === 'EPERM' || code === 'ENOEXEC' || code === 'EISDIR') {
    return cannotExecute(file, code === 'ENOEXEC' ? 'not an executable format' : 'permission denied');
  }
  return cannotExecute(file, detail.split('\n')[0] || code || 'it did not start');
}

/** Whether `error` says the command never started (startFailure's, or checkCommandRunnable's). */
export function isStartFailure(error: unknown): boolean {
  return error instanceof LeakhuntError && (error.exitCode === ExitCode.cannotExecute || error.exitCode === ExitCode.commandNotFound);
}
