// Bounded capture of a body as it streams past: keeps the first `limit` bytes,
// counts every byte, and (for watches) the newline-delimited events.
import type { CapturedBody } from "../types.js";

const utf8 = new TextDecoder("utf-8", { fatal: true });

export class BodyCapture {
  private readonly chunks: Buffer[] = [];
  private captured = 0;
  size = 0;
  newlines = 0;

  constructor(
    private readonly limit: number,
    private readonly countLines = false,
  ) {}

  push(chunk: Buffer): void {
    this.size += chunk.length;
    if (this.countLines) {
      for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) this.newlines++;
    }
    if (this.captured < this.limit) {
      const take = Math.min(chunk.length, this.limit - this.captured);
      this.chunks.push(take === chunk.length ? chunk : chunk.subarray(0, take));
      this.captured += take;
    }
  }

  result(): CapturedBody | null {
    if (this.size === 0) return null;
    const buf = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks);
    const truncated = this.size > this.captured;
    let data: string;
    try {
      data = utf8.decode(buf);
    } catch {
      // a truncated capture may cut a multi-byte character: retry without the last 3 bytes
      try {
        data = truncated ? utf8.decode(buf.subarray(0, Math.max(0, buf.length - 3))) : "";
        if (!truncated) throw new Error("binary");
      } catch {
        return { data: buf.toString("base64"), encoding: "base64", truncated, size: this.size };
      }
    }
    return { data, encoding: "utf8", truncated, size: this.size };
  }
}
