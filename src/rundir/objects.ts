/**
 * objects/: copies of executable files the target mapped and then deleted (launch/objects.ts), symbolized from
 * instead of their gone originals (symbolize/objects.ts):
 *
 *   objects/<build id, or "inode<N>">-<basename>   the copies
 *   objects/index.json                              {schema, objects: KeptObject[]}
 */
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { writeJsonAtomicAsync } from './atomic.js';

export const OBJECTS_SCHEMA = 'leakhunt.objects/v1';

export interface KeptObject {
  /** Where the target loaded it from (without " (deleted)"). */
  originalPath: string;
  /** The inode /proc/<pid>/maps showed: with the path, it identifies this object among same-named ones. */
  inode: number;
  buildId?: string;
  /** The copy, relative to the objects directory (absolute paths are accepted too). */
  keptPath: string;
}

const INDEX_FILE = 'index.json';

export async function writeObjectsIndex(objectsDir: string, objects: readonly KeptObject[]): Promise<void> {
  await writeJsonAtomicAsync(join(objectsDir, INDEX_FILE), { schema: OBJECTS_SCHEMA, objects });
}

/** What changes when the index is rewritten ("" when there is none): to read it again only then. */
export function objectsIndexStamp(objectsDir: string): string {
  try {
    const s = statSync(join(objectsDir, INDEX_FILE));
    return `${s.ino}:${s.size}:${s.mtimeMs}`;
  } catch {
    return '';
  }
}

/** The entries of objects/index.json that are well-formed; [] when there is none or it cannot be read. */
export function readObjectsIndex(objectsDir: string): KeptObject[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(join(objectsDir, INDEX_FILE), 'utf8'));
  } catch {
    return [];
  }
  const objects = (parsed as { objects?: unknown } | null)?.objects;
  if (!Array.isArray(objects)) return [];
  return objects.filter((o): o is KeptObject => {
    const e = o as Partial<KeptObject> | null;
    return typeof e?.originalPath === 'string' && typeof e.inode === 'number' && typeof e.keptPath === 'string' && e.keptPath !== '' &&
      (e.buildId === undefined || typeof e.buildId === 'string');
  });
}
