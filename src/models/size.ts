/** Sizes as people write them: bytes, or 512MB, 8GB, 1.5g, 2TiB (binary units: 1 GB = 1024³ bytes, as memory is counted). */
export function parseSize(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?\s*$/i.exec(text);
  if (!m) throw new Error(`invalid size "${text}": expected a number of bytes or e.g. 512MB, 8GB`);
  const unit = { "": 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 }[m[2]!.toLowerCase() as "" | "k" | "m" | "g" | "t"];
  return Math.round(Number(m[1]) * unit);
}
