/**
 * A minimal ZIP reader (stored and deflate entries) with bounded decompression: every entry is
 * inflated with a hard output limit, so a zip bomb fails with ZipError instead of exhausting
 * memory. Enough for Office Open XML files; no ZIP64, no encryption.
 */
import { inflateRawSync } from "node:zlib";

export class ZipError extends Error {}

export interface ZipEntry {
  name: string;
  method: number;
  compressedSize: number;
  size: number;
  localOffset: number;
  flags: number;
}

export interface ZipLimits {
  /** Most bytes one entry may inflate to. */
  maxEntryBytes: number;
  /** Most entries in the central directory. */
  maxEntries: number;
}

const EOCD = 0x06054b50;
const CENTRAL = 0x02014b50;
const LOCAL = 0x04034b50;

export function isZip(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && bytes[0] === 0x50 && bytes[1] === 0x4b && bytes[2] === 0x03 && bytes[3] === 0x04;
}

export class ZipReader {
  readonly entries = new Map<string, ZipEntry>();
  private readonly view: DataView;

  constructor(private readonly bytes: Uint8Array, private readonly limits: ZipLimits) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const end = this.findEndOfCentralDirectory();
    const count = this.view.getUint16(end + 10, true);
    const dirSize = this.view.getUint32(end + 12, true);
    const dirOffset = this.view.getUint32(end + 16, true);
    if (count > limits.maxEntries) throw new ZipError(`The archive has more than ${limits.maxEntries} entries.`);
    if (dirOffset + dirSize > bytes.length) throw new ZipError("The archive's central directory is outside the file.");
    let at = dirOffset;
    for (let i = 0; i < count; i++) {
      if (at + 46 > bytes.length || this.view.getUint32(at, true) !== CENTRAL) throw new ZipError("The archive's central directory is corrupt.");
      const nameLength = this.view.getUint16(at + 28, true);
      const extraLength = this.view.getUint16(at + 30, true);
      const commentLength = this.view.getUint16(at + 32, true);
      if (at + 46 + nameLength > bytes.length) throw new ZipError("The archive's central directory is corrupt.");
      const name = new TextDecoder().decode(bytes.subarray(at + 46, at + 46 + nameLength));
      this.entries.set(name, {
        name,
        flags: this.view.getUint16(at + 8, true),
        method: this.view.getUint16(at + 10, true),
        compressedSize: this.view.getUint32(at + 20, true),
        size: this.view.getUint32(at + 24, true),
        localOffset: this.view.getUint32(at + 42, true),
      });
      at += 46 + nameLength + extraLength + commentLength;
    }
  }

  has(name: string): boolean {
    return this.entries.has(name);
  }

  /** The entry's bytes, or undefined when there is no such entry. @throws ZipError */
  read(name: string): Uint8Array | undefined {
    const entry = this.entries.get(name);
    if (!entry) return undefined;
    if (entry.flags & 1) throw new ZipError(`${name} is encrypted.`);
    if (entry.compressedSize === 0xffffffff || entry.size === 0xffffffff) throw new ZipError("ZIP64 archives are not supported.");
    const at = entry.localOffset;
    if (at + 30 > this.bytes.length || this.view.getUint32(at, true) !== LOCAL) throw new ZipError(`${name}: corrupt local header.`);
    const start = at + 30 + this.view.getUint16(at + 26, true) + this.view.getUint16(at + 28, true);
    const end = start + entry.compressedSize;
    if (end > this.bytes.length) throw new ZipError(`${name} is truncated.`);
    const data = this.bytes.subarray(start, end);
    if (entry.method === 0) {
      if (data.length > this.limits.maxEntryBytes) throw new ZipError(`${name} is larger than ${this.limits.maxEntryBytes} bytes.`);
      return data;
    }
    if (entry.method !== 8) throw new ZipError(`${name} uses an unsupported compression method (${entry.method}).`);
    try {
      // maxOutputLength stops inflation as soon as the output passes the limit (a zip bomb stops here).
      return inflateRawSync(data, { maxOutputLength: this.limits.maxEntryBytes });
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code === "ERR_BUFFER_TOO_LARGE" || err instanceof RangeError) throw new ZipError(`${name} inflates to more than ${this.limits.maxEntryBytes} bytes.`);
      throw new ZipError(`${name} is corrupt (${(err as Error).message}).`);
    }
  }

  private findEndOfCentralDirectory(): number {
    const min = Math.max(0, this.bytes.length - 22 - 0xffff);
    for (let at = this.bytes.length - 22; at >= min; at--) {
      if (this.view.getUint32(at, true) === EOCD) return at;
    }
    throw new ZipError("Not a ZIP archive (no end of central directory).");
  }
}
