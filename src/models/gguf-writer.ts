/**
 * A minimal GGUF (v3) writer: metadata key/values and tensors in F32, F16 or Q8_0.
 * Used by the model generator; reading GGUF files is left to node-llama-cpp's reader.
 */
import { mkdir, open, rename, rm } from "node:fs/promises";
import { dirname } from "node:path";

export const GGUF_ALIGNMENT = 32;

/** ggml tensor types we can write. Values are ggml's enum. */
export enum GgmlType {
  F32 = 0,
  F16 = 1,
  Q8_0 = 8,
}

enum ValueType {
  UINT32 = 4,
  INT32 = 5,
  FLOAT32 = 6,
  BOOL = 7,
  STRING = 8,
  ARRAY = 9,
}

export type GgufValue =
  | { type: "u32"; value: number }
  | { type: "i32"; value: number }
  | { type: "f32"; value: number }
  | { type: "bool"; value: boolean }
  | { type: "string"; value: string }
  | { type: "string[]"; value: string[] }
  | { type: "i32[]"; value: number[] };

export interface GgufTensor {
  name: string;
  /** Dimensions in ggml order: ne[0] is the innermost (contiguous) dimension. */
  dims: number[];
  type: GgmlType;
  /** Produces the tensor's values (row-major in ggml order) when it is written. */
  values: () => Float32Array;
}

/** Growable little-endian byte buffer. */
class ByteSink {
  private buf = Buffer.alloc(1 << 16);
  length = 0;
  private ensure(n: number): void {
    if (this.length + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.length + n) size *= 2;
    const next = Buffer.alloc(size);
    this.buf.copy(next, 0, 0, this.length);
    this.buf = next;
  }
  u32(v: number): void { this.ensure(4); this.buf.writeUInt32LE(v, this.length); this.length += 4; }
  i32(v: number): void { this.ensure(4); this.buf.writeInt32LE(v, this.length); this.length += 4; }
  u64(v: number): void { this.ensure(8); this.buf.writeBigUInt64LE(BigInt(v), this.length); this.length += 8; }
  f32(v: number): void { this.ensure(4); this.buf.writeFloatLE(v, this.length); this.length += 4; }
  u8(v: number): void { this.ensure(1); this.buf.writeUInt8(v, this.length); this.length += 1; }
  str(s: string): void {
    const bytes = Buffer.from(s, "utf8");
    this.u64(bytes.length);
    this.ensure(bytes.length);
    bytes.copy(this.buf, this.length);
    this.length += bytes.length;
  }
  pad(alignment: number): void {
    const rem = this.length % alignment;
    if (rem !== 0) { const n = alignment - rem; this.ensure(n); this.buf.fill(0, this.length, this.length + n); this.length += n; }
  }
  bytes(): Buffer { return this.buf.subarray(0, this.length); }
}

function writeValue(sink: ByteSink, v: GgufValue): void {
  switch (v.type) {
    case "u32": sink.u32(ValueType.UINT32); sink.u32(v.value); break;
    case "i32": sink.u32(ValueType.INT32); sink.i32(v.value); break;
    case "f32": sink.u32(ValueType.FLOAT32); sink.f32(v.value); break;
    case "bool": sink.u32(ValueType.BOOL); sink.u8(v.value ? 1 : 0); break;
    case "string": sink.u32(ValueType.STRING); sink.str(v.value); break;
    case "string[]":
      sink.u32(ValueType.ARRAY); sink.u32(ValueType.STRING); sink.u64(v.value.length);
      for (const s of v.value) sink.str(s);
      break;
    case "i32[]":
      sink.u32(ValueType.ARRAY); sink.u32(ValueType.INT32); sink.u64(v.value.length);
      for (const n of v.value) sink.i32(n);
      break;
  }
}

/** Bytes a tensor occupies in the given type. */
export function tensorByteSize(dims: number[], type: GgmlType): number {
  const n = dims.reduce((a, b) => a * b, 1);
  switch (type) {
    case GgmlType.F32: return n * 4;
    case GgmlType.F16: return n * 2;
    case GgmlType.Q8_0:
      if (dims[0]! % 32 !== 0) throw new Error(`Q8_0 needs the first dimension to be a multiple of 32, got ${dims[0]}`);
      return (n / 32) * 34;
  }
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);
/** IEEE 754 half precision from a float (round to nearest even). */
export function toHalf(value: number): number {
  f32[0] = value;
  const x = u32[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  let e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let half = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    if (rem > mid || (rem === mid && (half & 1))) half++;
    return sign | half;
  }
  let half = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (half & 1))) half++;
  return sign | half;
}

/** Encodes values in a ggml type. */
export function encodeTensor(values: Float32Array, type: GgmlType): Buffer {
  switch (type) {
    case GgmlType.F32:
      return Buffer.from(values.buffer, values.byteOffset, values.byteLength);
    case GgmlType.F16: {
      const out = Buffer.alloc(values.length * 2);
      for (let i = 0; i < values.length; i++) out.writeUInt16LE(toHalf(values[i]!), i * 2);
      return out;
    }
    case GgmlType.Q8_0: {
      const blocks = values.length / 32;
      const out = Buffer.alloc(blocks * 34);
      for (let b = 0; b < blocks; b++) {
        let amax = 0;
        for (let i = 0; i < 32; i++) amax = Math.max(amax, Math.abs(values[b * 32 + i]!));
        const d = amax / 127;
        const id = d ? 1 / d : 0;
        const o = b * 34;
        out.writeUInt16LE(toHalf(d), o);
        for (let i = 0; i < 32; i++) out.writeInt8(Math.round(values[b * 32 + i]! * id), o + 2 + i);
      }
      return out;
    }
  }
}

/**
 * Writes a GGUF file. The file appears under its final name only once complete
 * (written to a temporary name, then renamed).
 */
export async function writeGguf(path: string, metadata: Record<string, GgufValue>, tensors: GgufTensor[]): Promise<void> {
  const header = new ByteSink();
  header.u32(0x46554747); // "GGUF"
  header.u32(3);
  header.u64(tensors.length);
  header.u64(Object.keys(metadata).length);
  for (const [key, value] of Object.entries(metadata)) {
    header.str(key);
    writeValue(header, value);
  }
  let offset = 0;
  const offsets: number[] = [];
  for (const t of tensors) {
    header.str(t.name);
    header.u32(t.dims.length);
    for (const d of t.dims) header.u64(d);
    header.u32(t.type);
    header.u64(offset);
    offsets.push(offset);
    offset += tensorByteSize(t.dims, t.type);
    offset = Math.ceil(offset / GGUF_ALIGNMENT) * GGUF_ALIGNMENT;
  }
  header.pad(GGUF_ALIGNMENT);

  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.tmp-${process.pid}`;
  const fh = await open(tmp, "w");
  try {
    let pos = 0;
    const write = async (buf: Buffer) => { await fh.write(buf, 0, buf.length, pos); pos += buf.length; };
    await write(header.bytes());
    const dataStart = pos;
    for (let i = 0; i < tensors.length; i++) {
      const t = tensors[i]!;
      const padding = dataStart + offsets[i]! - pos;
      if (padding > 0) await write(Buffer.alloc(padding));
      const values = t.values();
      const expected = t.dims.reduce((a, b) => a * b, 1);
      if (values.length !== expected) throw new Error(`tensor ${t.name}: ${values.length} values for ${expected} elements`);
      await write(encodeTensor(values, t.type));
    }
    await fh.close();
  } catch (err) {
    await fh.close().catch(() => {});
    await rm(tmp, { force: true });
    throw err;
  }
  await rename(tmp, path);
}
