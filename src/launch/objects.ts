/**
 * The object keeper: while the target runs, keeps a copy of every executable file it mapped and then deleted —
 * JNI libraries that zstd-jni and netty unpack into a temporary directory, load and delete — so the symbolizer
 * can read the code that ran after the process is gone. The kernel keeps a deleted mapped file's inode alive and
 * reachable as /proc/<pid>/map_files/<start>-<end> (root or the target's own user with ptrace access).
 * The copies and their index are in objects/ (rundir/objects.ts).
 */
import { mkdir, readFile, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { copyFileAtomic, runPath, writeObjectsIndex, type KeptObject } from '../rundir/index.js';

export interface ObjectKeeperOptions {
  /** Time between two looks at the maps; default 1 s. */
  intervalMs?: number;
  /** Reads an ELF file's GNU build id (the launch stage knows no ELF: the command passes the symbolizer's). */
  buildIdOf?: (path: string) => string | undefined;
  /** Told once per object that could not be kept, and why. */
  onWarning?: (message: string) => void;
}

/** stop(): one last look (useful while the process still exists), then nothing more is written. */
export type ObjectKeeper = { stop(): Promise<void> };

const deletedMapping = /^([0-9a-f]+)-([0-9a-f]+)\s+(\S+)\s+\S+\s+\S+\s+(\d+)\s+(\/.*) \(deleted\)$/i;

type DeletedMapping = { start: bigint; end: bigint; inode: number; path: string };

/** The executable file mappings of a /proc/<pid>/maps text whose file was deleted after it was mapped. */
export function deletedExecutableMappings(maps: string): DeletedMapping[] {
  const found: DeletedMapping[] = [];
  for (const line of maps.split('\n')) {
    const m = deletedMapping.exec(line);
    if (!m || !m[3]!.includes('x') || m[4] === '0') continue;
    found.push({ start: BigInt(`0x${m[1]}`), end: BigInt(`0x${m[2]}`), inode: Number(m[4]), path: m[5]!.replace(/\\012/g, '\n') });
  }
  return found;
}

/** Field 22 of /proc/<pid>/stat, the start time: tells the target from a later process that reused its pid. */
async function startTimeOf(pid: number): Promise<string | undefined> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
}

const errorCode = (error: unknown): string => (error as NodeJS.ErrnoException).code ?? String(error);

export function startObjectKeeper(pid: number, runDir: string, options: ObjectKeeperOptions = {}): ObjectKeeper {
  const dir = runPath(runDir, 'objects');
  const kept: KeptObject[] = [];
  /** path + inode of the objects kept, or given up on (no permission). */
  const done = new Set<string>();
  let stopped = false;
  let written = 0;
  let timer: NodeJS.Timeout | undefined;
  let startTime: Promise<string | undefined> | undefined;

  const keep = async (mapping: DeletedMapping): Promise<boolean> => {
    // map_files names are the mapping's bounds in unpadded hex (maps pads them to 8 digits).
    const source = `/proc/${pid}/map_files/${mapping.start.toString(16)}-${mapping.end.toString(16)}`;
    try {
      await stat(source);
    } catch (error) {
      const code = errorCode(error);
      if (code === 'EACCES' || code === 'EPERM') {
        options.onWarning?.(`cannot keep a copy of ${mapping.path} (deleted while loaded): ${code} on ${source}; run leakhunt as root or as the target's user`);
        return true;
      }
      return false; // unmapped meanwhile, or the process is gone
    }
    const buildId = options.buildIdOf?.(source);
    const name = `${buildId ?? `inode${mapping.inode}`}-${basename(mapping.path).replace(/[^\w.+-]/g, '_')}`;
    const target = join(dir, name);
    if (!(await stat(target).then(() => true, () => false))) {
      try {
        await mkdir(dir, { recursive: true, mode: 0o700 });
        await copyFileAtomic(source, target);
      } catch (error) {
        const code = errorCode(error);
        if (code === 'ENOENT') return false;
        options.onWarning?.(`cannot keep a copy of ${mapping.path} (deleted while loaded): ${code}`);
        return true;
      }
    }
    kept.push({ originalPath: mapping.path, inode: mapping.inode, ...(buildId ? { buildId } : {}), keptPath: name });
    return true;
  };

  const writeIndex = async (): Promise<void> => {
    await writeObjectsIndex(dir, kept);
    written = kept.length;
  };

  const scan = async (): Promise<void> => {
    try {
      startTime ??= startTimeOf(pid);
      const expected = await startTime;
      if (expected === undefined || (await startTimeOf(pid)) !== expected) return;
      const maps = await readFile(`/proc/${pid}/maps`, 'utf8');
      for (const mapping of deletedExecutableMappings(maps)) {
        const key = `${mapping.inode}\0${mapping.path}`;
        if (done.has(key)) continue;
        if (await keep(mapping)) done.add(key);
      }
      if (written < kept.length) await writeIndex();
    } catch {
      // The process is gone, or its maps unreadable: nothing to keep this time.
    }
  };

  const intervalMs = options.intervalMs ?? 1000;
  let running = scan();
  const schedule = (): void => {
    if (stopped) return;
    timer = setTimeout(() => {
      running = scan().then(schedule);
    }, intervalMs);
    timer.unref();
  };
  void running.then(schedule);

  return {
    async stop(): Promise<void> {
      if (stopped) return running;
      stopped = true;
      if (timer) clearTimeout(timer);
      await running;
      running = scan();
      await running;
    },
  };
}
