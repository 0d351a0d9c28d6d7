/** The process's memory map (/proc/<pid>/maps) and the translation of runtime addresses to object addresses. */
import { ElfType, loadSegmentForFileOffset, readElfInfo, type ElfInfo } from './elf.js';

export interface MemoryMapping {
  startAddress: bigint;
  /** Exclusive. */
  endAddress: bigint;
  fileOffset: bigint;
  /** e.g. "r-xp". */
  perms: string;
  /** "major:minor" in hex, as the kernel prints it. */
  device: string;
  /** 0 for anonymous mappings. Precision beyond 2^53 is irrelevant here: it only tells file-backed from not. */
  inode: number;
  /** Without the " (deleted)" suffix; "" for anonymous mappings; pseudo names such as "[vdso]" kept as printed. */
  path: string;
  /** The file was unlinked or replaced after it was mapped, so the file now at `path` is not what ran. */
  deleted: boolean;
}

const deletedSuffix = ' (deleted)';
const mapsLine = /^([0-9a-f]+)-([0-9a-f]+)\s+(\S+)\s+([0-9a-f]+)\s+(\S+)\s+(\d+)(?:\s(.*))?$/i;

/**
 * Parses /proc/<pid>/maps text. Lines that do not parse are skipped: the text is read while the process runs and
 * a reader cannot do better than keep what it understands. The result is sorted by start address.
 */
export function parseMaps(text: string): MemoryMapping[] {
  const mappings: MemoryMapping[] = [];
  for (const line of text.split('\n')) {
    const m = mapsLine.exec(line);
    if (!m) continue;
    // The kernel pads the path column with spaces; spaces inside the path itself are kept.
    let path = (m[7] ?? '').replace(/^ +/, '');
    const deleted = path.endsWith(deletedSuffix);
    if (deleted) path = path.slice(0, -deletedSuffix.length);
    // The kernel escapes a newline in a file name as "\012"; nothing else is escaped.
    path = path.replace(/\\012/g, '\n');
    const startAddress = BigInt(`0x${m[1]}`);
    const endAddress = BigInt(`0x${m[2]}`);
    if (endAddress <= startAddress) continue;
    mappings.push({
      startAddress,
      endAddress,
      fileOffset: BigInt(`0x${m[4]}`),
      perms: m[3]!,
      device: m[5]!,
      inode: Number(m[6]),
      path,
      deleted,
    });
  }
  mappings.sort((a, b) => (a.startAddress < b.startAddress ? -1 : a.startAddress > b.startAddress ? 1 : 0));
  return mappings;
}

/** The mapping containing `address`, by binary search over mappings sorted by start (as parseMaps returns them). */
export function findMapping(mappings: readonly MemoryMapping[], address: bigint): MemoryMapping | undefined {
  let low = 0;
  let high = mappings.length - 1;
  while (low <= high) {
    const middle = (low + high) >>> 1;
    const mapping = mappings[middle]!;
    if (address < mapping.startAddress) high = middle - 1;
    else if (address >= mapping.endAddress) low = middle + 1;
    else return mapping;
  }
  return undefined;
}

/** Backed by a regular file (not anonymous memory, [heap], [vdso], ...). memfd and deleted files count as files. */
export function isFileBacked(mapping: MemoryMapping): boolean {
  return mapping.inode !== 0 && mapping.path.startsWith('/');
}

export function isExecutable(mapping: MemoryMapping): boolean {
  return mapping.perms.includes('x');
}

/** The offset in the mapped file that `address` corresponds to. */
export function fileOffsetOf(mapping: MemoryMapping, address: bigint): bigint {
  return address - mapping.startAddress + mapping.fileOffset;
}

/**
 * The address of `address` inside the object, as symbolizers (and nm, addr2line) number it.
 * ET_EXEC objects are linked at their run address, so the address is the address itself. Shared objects and PIEs
 * are loaded at a bias: the file offset, moved by the segment's p_vaddr − p_offset, gives the link-time address.
 */
export function objectRelativeAddress(mapping: MemoryMapping, address: bigint, elf: ElfInfo): bigint | undefined {
  if (elf.elfType === ElfType.executable) return address;
  if (elf.elfType !== ElfType.shared) return undefined;
  const fileOffset = fileOffsetOf(mapping, address);
  const segment = loadSegmentForFileOffset(elf, fileOffset);
  if (!segment) return undefined;
  return fileOffset + segment.virtualAddress - segment.fileOffset;
}

/**
 * `objectRelativeAddress` with the object's ELF headers read (and cached) from disk. Undefined when the mapping is
 * not a file, the file was deleted or replaced since it was mapped, or it is not a readable ELF object.
 */
export function symbolizerAddress(mapping: MemoryMapping, address: bigint): bigint | undefined {
  if (!isFileBacked(mapping) || mapping.deleted) return undefined;
  const elf = readElfInfo(mapping.path);
  return elf ? objectRelativeAddress(mapping, address, elf) : undefined;
}
