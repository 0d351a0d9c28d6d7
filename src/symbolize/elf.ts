/**
 * Just enough ELF reading to turn a runtime address into the address a symbolizer expects: the ELF header, the
 * program headers (PT_LOAD segments), the GNU build id and `.gnu_debuglink`. Reads a few KiB per file, never the
 * whole object, because shared libraries with debug info can be hundreds of MiB.
 */
import { closeSync, openSync, readSync } from 'node:fs';

export const ElfType = { relocatable: 1, executable: 2, shared: 3, core: 4 } as const;

const PT_LOAD = 1;
const PT_NOTE = 4;
const PF_X = 1;
const NT_GNU_BUILD_ID = 3;
const PN_XNUM = 0xffff;
const SHN_XINDEX = 0xffff;
/** Caps that keep a corrupt header from making us read megabytes. */
const maxHeaderCount = 65535;
const maxNoteBytes = 64 * 1024;
const maxDebugLinkBytes = 4096;

export interface ElfLoadSegment {
  fileOffset: bigint;
  virtualAddress: bigint;
  fileBytes: bigint;
  memoryBytes: bigint;
  alignBytes: bigint;
  executable: boolean;
}

export interface ElfInfo {
  /** e_type: 2 = ET_EXEC (addresses are absolute), 3 = ET_DYN (shared object or PIE). */
  elfType: number;
  machine: number;
  is64Bit: boolean;
  littleEndian: boolean;
  loadSegments: ElfLoadSegment[];
  /** Lower-case hex of the NT_GNU_BUILD_ID note, when the object has one. */
  buildId?: string;
  /** File name recorded in `.gnu_debuglink` (where separate debug info lives), when present. */
  debugLink?: string;
}

/** Reads little pieces of one open file; short reads past the end come back as shorter buffers. */
class FileReader {
  constructor(private readonly fd: number) {}

  read(offset: bigint, length: number): Buffer {
    const buffer = Buffer.alloc(length);
    let done = 0;
    while (done < length) {
      const n = readSync(this.fd, buffer, done, length - done, Number(offset) + done);
      if (n === 0) break;
      done += n;
    }
    return buffer.subarray(0, done);
  }
}

/** Typed field access honouring the file's class (32/64-bit) and byte order. */
class FieldReader {
  constructor(private readonly littleEndian: boolean) {}

  u16(b: Buffer, at: number): number {
    return this.littleEndian ? b.readUInt16LE(at) : b.readUInt16BE(at);
  }

  u32(b: Buffer, at: number): number {
    return this.littleEndian ? b.readUInt32LE(at) : b.readUInt32BE(at);
  }

  u64(b: Buffer, at: number): bigint {
    return this.littleEndian ? b.readBigUInt64LE(at) : b.readBigUInt64BE(at);
  }

  /** A word: u32 in ELF32, u64 in ELF64. */
  word(b: Buffer, at: number, is64Bit: boolean): bigint {
    return is64Bit ? this.u64(b, at) : BigInt(this.u32(b, at));
  }
}

interface SectionHeader {
  nameOffset: number;
  fileOffset: bigint;
  sizeBytes: bigint;
  link: number;
  info: number;
}

/** Parses the ELF headers of `path`; undefined when the file cannot be read or is not ELF. */
export function parseElfFile(path: string): ElfInfo | undefined {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return undefined;
  }
  try {
    return parseElf(new FileReader(fd));
  } catch {
    // A truncated or corrupt object is treated like a missing one: its frames stay unsymbolized.
    return undefined;
  } finally {
    closeSync(fd);
  }
}

function parseElf(file: FileReader): ElfInfo | undefined {
  const ident = file.read(0n, 64);
  if (ident.length < 52 || ident.readUInt32BE(0) !== 0x7f454c46) return undefined;
  const elfClass = ident[4];
  const data = ident[5];
  if ((elfClass !== 1 && elfClass !== 2) || (data !== 1 && data !== 2)) return undefined;
  const is64Bit = elfClass === 2;
  const f = new FieldReader(data === 1);
  if (is64Bit && ident.length < 64) return undefined;

  const elfType = f.u16(ident, 16);
  const machine = f.u16(ident, 18);
  const programHeaderOffset = f.word(ident, is64Bit ? 32 : 28, is64Bit);
  const sectionHeaderOffset = f.word(ident, is64Bit ? 40 : 32, is64Bit);
  const programHeaderBytes = f.u16(ident, is64Bit ? 54 : 42);
  let programHeaderCount = f.u16(ident, is64Bit ? 56 : 44);
  const sectionHeaderBytes = f.u16(ident, is64Bit ? 58 : 46);
  let sectionHeaderCount = f.u16(ident, is64Bit ? 60 : 48);
  let sectionNamesIndex = f.u16(ident, is64Bit ? 62 : 50);

  const readSection = (index: number): SectionHeader | undefined => {
    if (sectionHeaderOffset === 0n || sectionHeaderBytes < (is64Bit ? 64 : 40)) return undefined;
    const b = file.read(sectionHeaderOffset + BigInt(index * sectionHeaderBytes), sectionHeaderBytes);
    if (b.length < sectionHeaderBytes) return undefined;
    return {
      nameOffset: f.u32(b, 0),
      fileOffset: f.word(b, is64Bit ? 24 : 16, is64Bit),
      sizeBytes: f.word(b, is64Bit ? 32 : 20, is64Bit),
      link: f.u32(b, is64Bit ? 40 : 24),
      info: f.u32(b, is64Bit ? 44 : 28),
    };
  };

  // Objects with more than 0xfff0 headers keep the real counts in section 0.
  if (programHeaderCount === PN_XNUM || sectionHeaderCount === 0 || sectionNamesIndex === SHN_XINDEX) {
    const first = readSection(0);
    if (first) {
      if (programHeaderCount === PN_XNUM) programHeaderCount = first.info;
      if (sectionHeaderCount === 0 && sectionHeaderOffset !== 0n) sectionHeaderCount = Number(first.sizeBytes);
      if (sectionNamesIndex === SHN_XINDEX) sectionNamesIndex = first.link;
    }
  }

  const info: ElfInfo = { elfType, machine, is64Bit, littleEndian: data === 1, loadSegments: [] };
  if (programHeaderBytes >= (is64Bit ? 56 : 32) && programHeaderCount <= maxHeaderCount && programHeaderOffset !== 0n) {
    const table = file.read(programHeaderOffset, programHeaderCount * programHeaderBytes);
    for (let at = 0; at + programHeaderBytes <= table.length; at += programHeaderBytes) {
      const type = f.u32(table, at);
      const flags = f.u32(table, at + (is64Bit ? 4 : 24));
      const fileOffset = f.word(table, at + (is64Bit ? 8 : 4), is64Bit);
      const virtualAddress = f.word(table, at + (is64Bit ? 16 : 8), is64Bit);
      const fileBytes = f.word(table, at + (is64Bit ? 32 : 16), is64Bit);
      const memoryBytes = f.word(table, at + (is64Bit ? 40 : 20), is64Bit);
      const alignBytes = f.word(table, at + (is64Bit ? 48 : 28), is64Bit);
      if (type === PT_LOAD) {
        info.loadSegments.push({ fileOffset, virtualAddress, fileBytes, memoryBytes, alignBytes, executable: (flags & PF_X) !== 0 });
      } else if (type === PT_NOTE && info.buildId === undefined && fileBytes <= BigInt(maxNoteBytes)) {
        info.buildId = findBuildId(file.read(fileOffset, Number(fileBytes)), f, alignBytes === 8n ? 8 : 4);
      }
    }
  }

  if (sectionHeaderCount <= maxHeaderCount && sectionNamesIndex < sectionHeaderCount) {
    info.debugLink = findDebugLink(file, readSection, sectionHeaderCount, sectionNamesIndex);
  }
  if (info.buildId === undefined) delete info.buildId;
  if (info.debugLink === undefined) delete info.debugLink;
  return info;
}

function findBuildId(notes: Buffer, f: FieldReader, alignBytes: number): string | undefined {
  const align = (n: number): number => (n + alignBytes - 1) & ~(alignBytes - 1);
  let at = 0;
  while (at + 12 <= notes.length) {
    const nameBytes = f.u32(notes, at);
    const descBytes = f.u32(notes, at + 4);
    const type = f.u32(notes, at + 8);
    const nameAt = at + 12;
    const descAt = nameAt + align(nameBytes);
    if (descAt + descBytes > notes.length) return undefined;
    const name = notes.toString('latin1', nameAt, nameAt + nameBytes);
    if (type === NT_GNU_BUILD_ID && name === 'GNU\0') return notes.toString('hex', descAt, descAt + descBytes);
    at = descAt + align(descBytes);
  }
  return undefined;
}

function findDebugLink(
  file: FileReader,
  readSection: (index: number) => SectionHeader | undefined,
  sectionCount: number,
  namesIndex: number,
): string | undefined {
  const names = readSection(namesIndex);
  if (!names || names.sizeBytes > 1024n * 1024n) return undefined;
  const nameTable = file.read(names.fileOffset, Number(names.sizeBytes));
  const wanted = '.gnu_debuglink\0';
  for (let index = 1; index < sectionCount; index++) {
    const section = readSection(index);
    if (!section) return undefined;
    if (nameTable.toString('latin1', section.nameOffset, section.nameOffset + wanted.length) !== wanted) continue;
    const content = file.read(section.fileOffset, Math.min(Number(section.sizeBytes), maxDebugLinkBytes));
    const end = content.indexOf(0);
    return content.toString('utf8', 0, end < 0 ? content.length : end) || undefined;
  }
  return undefined;
}

const elfCache = new Map<string, ElfInfo | null>();

/**
 * Cached `parseElfFile`. A run symbolizes the same few objects for every snapshot, so each file is read once per
 * process; objects replaced on disk during a run show up as ` (deleted)` mappings, which are never read.
 */
export function readElfInfo(path: string): ElfInfo | undefined {
  let info = elfCache.get(path);
  if (info === undefined) {
    info = parseElfFile(path) ?? null;
    elfCache.set(path, info);
  }
  return info ?? undefined;
}

/**
 * The PT_LOAD segment that maps `fileOffset`. Mappings start on page boundaries, so an offset just before a
 * segment's p_offset (in the page that holds the segment's start) still belongs to it.
 */
export function loadSegmentForFileOffset(info: ElfInfo, fileOffset: bigint): ElfLoadSegment | undefined {
  let best: ElfLoadSegment | undefined;
  for (const segment of info.loadSegments) {
    const end = segment.fileOffset + (segment.fileBytes > 0n ? segment.fileBytes : 1n);
    if (fileOffset >= segment.fileOffset && fileOffset < end) return segment;
    const pageBytes = segment.alignBytes > 1n ? segment.alignBytes : 4096n;
    const pageStart = segment.fileOffset - (segment.fileOffset % pageBytes);
    if (fileOffset >= pageStart && fileOffset < end && (!best || segment.fileOffset > best.fileOffset)) best = segment;
  }
  return best;
}
