/** Where the built shim lives, and the check that it is there. */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ExitCode, LeakhuntError } from '../core/errors.js';

/** native/build/libleakhunt.so of this package (dist/src/launch/ → package root). */
export function defaultShimPath(): string {
  return fileURLToPath(new URL('../../../native/build/libleakhunt.so', import.meta.url));
}

export function requireShim(path = process.env.LEAKHUNT_SHIM ?? defaultShimPath()): string {
  if (!existsSync(path)) {
    throw new LeakhuntError(
      `the native shim is not built (${path} is missing): run "npm install" in the leakhunt package (needs a C compiler)`,
      ExitCode.environment,
    );
  }
  return path;
}
