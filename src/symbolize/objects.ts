/**
 * The copies the object keeper (src/launch/objects.ts) made of objects deleted while the target ran
 * (<runDir>/objects/index.json): a mapping whose file is gone, or was replaced, is symbolized from its copy.
 */
import { readFileSync, statSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { parseElfFile } from './elf.js';
import type { MemoryMapping } from './maps.js';

export interface KeptObjectEntry {
  originalPath: string;
  inode: number;
  buildId?: string;
  /** Relative to the objects directory (absolute paths are accepted too). */
  keptPath: string;
}

/** The GNU build id of an ELF file (read afresh, not cached): what the object keeper names copies by. */
export function buildIdOf(path: string): string | undefined {
  return parseElfFile(path)?.buildId;
}

/** The entries of DIR/index.json that are well-formed; [] when there is none or it cannot be read. */
export function readObjectsIndex(objectsDir: string): KeptObjectEntry[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(join(objectsDir, 'index.json'), 'utf8'));
  } catch {
    return [];
  }
  const objects = (parsed as { objects?: unknown } | null)?.objects;
  if (!Array.isArray(objects)) return [];
  return objects.filter((o): o is KeptObjectEntry => {
    const e = o as Partial<KeptObjectEntry> | null;
    return typeof e?.originalPath === 'string' && typeof e.inode === 'number' && typeof e.keptPath === 'string' && e.keptPath !== '' &&
      (e.buildId === undefined || typeof e.buildId === 'string');
  });
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
  private entries: KeptObjectEntry[] = [];
  private indexStamp: string | undefined;
  private readonly answers = new Map<string, string | null>();

  constructor(readonly objectsDir: string) {}

  refresh(): void {
    let stamp: string;
    try {
      const s = statSync(join(this.objectsDir, 'index.json'));
      stamp = `${s.ino}:${s.size}:${s.mtimeMs}`;
    } catch {
      stamp = '';
    }
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
