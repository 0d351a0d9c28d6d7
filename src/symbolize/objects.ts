/**
 * The copies the object keeper (src/launch/objects.ts) made of objects deleted while the target ran
 * (objects/, rundir/objects.ts): a mapping whose file is gone, or was replaced, is symbolized from its copy.
 */
import { statSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { objectsIndexStamp, readObjectsIndex, type KeptObject } from '../rundir/index.js';
import { parseElfFile } from './elf.js';
import type { MemoryMapping } from './maps.js';

/** The GNU build id of an ELF file (read afresh, not cached): what the object keeper names copies by. */
export function buildIdOf(path: string): string | undefined {
  return parseElfFile(path)?.buildId;
}

/**
 * True when the file now at the mapping's path is not what was mapped: it was deleted (the maps said so), is
 * missing now, or has another inode (replaced since, e.g. by a package upgrade).
 */
export function mappedFileChanged(mapping: MemoryMapping): boolean {
  if (mapping.deleted) return true;
  try {
    return statSync(mapping.path).ino !== mapping.inode;
  } catch {
    return true;
  }
}

/**
 * Looks kept copies up by original path and inode. The index is read on the first lookup and again by refresh()
 * when it has changed (a session calls it once per snapshot), so answers are cached in between.
 */
export class KeptObjects {
  private entries: KeptObject[] = [];
  private indexStamp: string | undefined;
  private readonly answers = new Map<string, string | null>();

  constructor(readonly objectsDir: string) {}

  refresh(): void {
    const stamp = objectsIndexStamp(this.objectsDir);
    if (stamp === this.indexStamp) return;
    this.indexStamp = stamp;
    this.answers.clear();
    this.entries = stamp === '' ? [] : readObjectsIndex(this.objectsDir);
  }

  /** The absolute path of the copy of the object mapped from `path` with `inode`, if one was kept and still exists. */
  find(path: string, inode: number): string | undefined {
    if (this.indexStamp === undefined) this.refresh();
    for (const entry of this.entries) {
      if (entry.originalPath !== path || entry.inode !== inode) continue;
      const kept = isAbsolute(entry.keptPath) ? entry.keptPath : join(this.objectsDir, entry.keptPath);
      try {
        if (statSync(kept).isFile()) return kept;
      } catch {
        // listed but gone: try the next entry
      }
    }
    return undefined;
  }

  /** The copy to read instead of the mapping's file, when that file is not what was mapped and a copy exists. */
  forMapping(mapping: MemoryMapping): string | undefined {
    if (this.indexStamp === undefined) this.refresh();
    const key = `${mapping.deleted ? 'D' : ''}${mapping.inode}\0${mapping.path}`;
    let answer = this.answers.get(key);
    if (answer === undefined) {
      answer = (mappedFileChanged(mapping) && this.find(mapping.path, mapping.inode)) || null;
      this.answers.set(key, answer);
    }
    return answer ?? undefined;
  }
}
