/**
 * The protobuf wire format, as much of it as pprof profiles use: varints, length-delimited fields and packed
 * repeated numbers. Written exactly as pprof-format writes them (so incremental encoding gives the same bytes as
 * the reference encoder), read without building objects (so long runs' profiles can be re-read one by one).
 */

// ---- protobuf varints, exactly as pprof-format writes them ----

const TWO_32 = 4294967296;

/** [high, low] 32-bit words of the 64-bit two's complement of `value` (pprof-format's long()). */
function words(value: number | bigint): [number, number] {
  const negative = value < 0;
  let magnitude = negative ? -value : value;
  let lo: number;
  let hi: number;
  if (typeof magnitude === 'bigint') {
    lo = Number(magnitude & 0xffffffffn);
    hi = Number((magnitude >> 32n) & 0xffffffffn);
  } else {
    lo = (magnitude >>> 0) % TWO_32;
    hi = (magnitude / TWO_32) >>> 0;
  }
  if (negative) {
    hi = ~hi >>> 0;
    lo = ~lo >>> 0;
    if (++lo > 0xffffffff) {
      lo = 0;
      if (++hi > 0xffffffff) hi = 0;
    }
  }
  magnitude = 0;
  return [hi, lo];
}

/** Bytes of `value` as a varint; 0 for zero (a field of value zero is left out; in a packed array it takes 1). */
export function varintLength(value: number | bigint): number {
  if (typeof value === 'number' && value >= 0 && value <= 0x7fffffff && Number.isInteger(value)) {
    if (value === 0) return 0;
    return value < 0x80 ? 1 : value < 0x4000 ? 2 : value < 0x200000 ? 3 : value < 0x10000000 ? 4 : 5;
  }
  if (value === 0 || value === 0n) return 0;
  const [hi, lo] = words(value);
  const b = ((lo >>> 28) | (hi << 4)) >>> 0;
  const c = hi >>> 24;
  if (c !== 0) return c < 128 ? 9 : 10;
  if (b !== 0) {
    if (b < 16384) return b < 128 ? 5 : 6;
    return b < 2097152 ? 7 : 8;
  }
  if (lo < 16384) return lo < 128 ? 1 : 2;
  return lo < 2097152 ? 3 : 4;
}

/** Writes `value`, a non-negative integer below 2^53, as a varint at `at`; returns the position after it. */
export function putUnsigned(buf: Uint8Array, at: number, value: number): number {
  let v = value;
  if (v <= 0x7fffffff) {
    while (v > 127) {
      buf[at++] = (v & 127) | 128;
      v >>>= 7;
    }
  } else {
    while (v > 127) {
      buf[at++] = (v % 128) | 128;
      v = Math.floor(v / 128);
    }
  }
  buf[at++] = v;
  return at;
}

/** Whether putUnsigned can write `value` (anything else takes the general path, as pprof-format writes it). */
export function isUnsigned(value: number): boolean {
  return value >= 0 && value <= Number.MAX_SAFE_INTEGER && Number.isInteger(value);
}

/** Copies bytes [from, to) of `source` to `target` at `at`; short runs by hand (set() costs more for them). */
export function copyBytes(target: Uint8Array, at: number, source: Uint8Array, from: number, to: number): number {
  if (to - from < 256) {
    for (let k = from; k < to; k++) target[at++] = source[k]!;
    return at;
  }
  target.set(source.subarray(from, to), at);
  return at + (to - from);
}

/** What decoding `value` after encoding it gives back (for the integers profiles hold: the value itself). */
export function decodedNumber(value: number): number {
  return Number.isFinite(value) ? Math.trunc(value) + 0 : 0;
}

/** A growable byte buffer. */
export class Bytes {
  buf: Uint8Array;
  length = 0;

  constructor(capacity = 1024, reuse?: Uint8Array) {
    // Never read before written: no need to zero it.
    this.buf = reuse && reuse.length >= capacity ? reuse : Buffer.allocUnsafeSlow(capacity);
  }

  reserve(extra: number): void {
    if (this.length + extra <= this.buf.length) return;
    const next = Buffer.allocUnsafeSlow(Math.max(this.buf.length * 2, this.length + extra));
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
  }

  byte(b: number): void {
    this.reserve(1);
    this.buf[this.length++] = b;
  }

  /** A varint; zero is written as one 0 byte (what a packed array holds; fields of value zero are skipped by callers). */
  varint(value: number | bigint): void {
    this.reserve(10);
    const buf = this.buf;
    let at = this.length;
    if (typeof value === 'number' && value >= 0 && value <= 0x7fffffff && Number.isInteger(value)) {
      let v = value;
      while (v > 127) {
        buf[at++] = (v & 127) | 128;
        v >>>= 7;
      }
      buf[at++] = v;
      this.length = at;
      return;
    }
    if (value === 0 || value === 0n) {
      buf[at++] = 0;
      this.length = at;
      return;
    }
    let [hi, lo] = words(value);
    while (hi) {
      buf[at++] = (lo & 127) | 128;
      lo = ((lo >>> 7) | (hi << 25)) >>> 0;
      hi >>>= 7;
    }
    while (lo > 127) {
      buf[at++] = (lo & 127) | 128;
      lo >>>= 7;
    }
    buf[at++] = lo;
    this.length = at;
  }

  /** A varint field (tag byte, value), left out when the value is zero. */
  field(tag: number, value: number | bigint): void {
    if (value === 0 || value === 0n) return;
    this.byte(tag);
    this.varint(value);
  }

  append(bytes: Uint8Array): void {
    this.reserve(bytes.length);
    this.buf.set(bytes, this.length);
    this.length += bytes.length;
  }

  /** A length-delimited field holding `inner`. */
  message(tag: number, inner: Bytes): void {
    this.byte(tag);
    this.varint(inner.length);
    this.append(inner.view());
  }

  view(): Uint8Array {
    return this.buf.subarray(0, this.length);
  }

  copy(): Uint8Array {
    return this.buf.slice(0, this.length);
  }

  clear(): this {
    this.length = 0;
    return this;
  }
}

/** A packed array field of varints (pprof-format writes zeros as one byte each). */
export function packedLength(values: ArrayLike<number>): number {
  let total = 0;
  for (let i = 0; i < values.length; i++) total += varintLength(values[i]!) || 1;
  return total;
}

// ---- reading ----

/** The message is not one the plain reader handles: the caller falls back to the reference decoder. */
export class NotPlain extends Error {}

/** A protobuf reader over one message. */
export class Wire {
  constructor(readonly buf: Uint8Array, public at: number, public end: number) {}

  get more(): boolean {
    return this.at < this.end;
  }

  /** A varint below 2^49, read exactly (anything larger is not plain here). */
  varint(): number {
    let value = 0;
    let scale = 1;
    for (let i = 0; i < 7; i++) {
      if (this.at >= this.end) throw new NotPlain();
      const b = this.buf[this.at++]!;
      value += (b & 0x7f) * scale;
      if (b < 0x80) return value;
      scale *= 128;
    }
    throw new NotPlain();
  }

  /** A varint as an unsigned 64-bit bigint (addresses). */
  bigVarint(): bigint {
    let value = 0n;
    let shift = 0n;
    for (let i = 0; i < 10; i++) {
      if (this.at >= this.end) throw new NotPlain();
      const b = this.buf[this.at++]!;
      value |= BigInt(b & 0x7f) << shift;
      if (b < 0x80) return BigInt.asUintN(64, value);
      shift += 7n;
    }
    throw new NotPlain();
  }

  /** A length-delimited field's [start, end). */
  bytes(): [number, number] {
    const end = this.open();
    const start = this.at;
    this.at = end;
    return [start, end];
  }

  /** Enters a length-delimited field: returns where it ends, `at` at its start. */
  open(): number {
    const length = this.varint();
    const end = this.at + length;
    if (end > this.end) throw new NotPlain();
    return end;
  }

  skip(wireType: number): void {
    if (wireType === 0) this.varint();
    else if (wireType === 2) this.bytes();
    else throw new NotPlain();
  }

  /** A repeated varint field, packed (wire type 2) or not (0). */
  numbers(wireType: number, into: number[]): void {
    if (wireType === 0) {
      into.push(this.varint());
      return;
    }
    if (wireType !== 2) throw new NotPlain();
    const end = this.open();
    const outer = this.end;
    this.end = end;
    while (this.at < end) into.push(this.varint());
    this.end = outer;
  }
}
