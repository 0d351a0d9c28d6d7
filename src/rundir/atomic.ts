/**
 * Every file leakhunt writes into a run directory is written whole or not at all: to `<path>.tmp-<pid>`, then
 * renamed, so a reader (or a kill -9) never meets half a file. Files are private (0600), like the directory.
 */
import { renameSync, writeFileSync } from 'node:fs';
import { copyFile, rename, rm, writeFile } from 'node:fs/promises';
import { stringifyReadable } from '../core/json.js';

function temporaryOf(path: string): string {
  return `${path}.tmp-${process.pid}`;
}

export function writeFileAtomic(path: string, data: string | Uint8Array): void {
  const temporary = temporaryOf(path);
  writeFileSync(temporary, data, { mode: 0o600 });
  renameSync(temporary, path);
}

/** As writeFileAtomic; a failure removes the temporary file before it is thrown. */
export async function writeFileAtomicAsync(path: string, data: string | Uint8Array): Promise<void> {
  const temporary = temporaryOf(path);
  try {
    await writeFile(temporary, data, { mode: 0o600 });
    await rename(temporary, path);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
}

/** A copy of `source` at `target`, written atomically (the copy keeps the source's mode). */
export async function copyFileAtomic(source: string, target: string): Promise<void> {
  const temporary = temporaryOf(target);
  try {
    await copyFile(source, temporary);
    await rename(temporary, target);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
}

/** `value` as leakhunt writes JSON (core/json.ts), atomically. */
export function writeJsonAtomic(path: string, value: unknown): void {
  writeFileAtomic(path, `${stringifyReadable(value)}\n`);
}

export async function writeJsonAtomicAsync(path: string, value: unknown): Promise<void> {
  await writeFileAtomicAsync(path, `${stringifyReadable(value)}\n`);
}
