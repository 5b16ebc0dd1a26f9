/** Splits a byte stream into newline-terminated lines (NDJSON, MCP's stdio framing) with a per-line byte cap. */
export class LineSplitter {
  private parts: Buffer[] = []
  private size = 0

  /**
   * @param maxLineBytes longest line accepted; a longer one calls `onOverflow` and the rest of the stream is ignored
   * @param onLine called with each line (without the newline, trailing `\r` removed)
   */
  constructor (
    private readonly maxLineBytes: number,
    private readonly onLine: (line: string) => void,
    private readonly onOverflow: (bytes: number) => void
  ) {}

  private overflowed = false

  /** Feed one chunk. */
  push (chunk: Buffer): void {
    if (this.overflowed) return
    let start = 0
    for (;;) {
      const nl = chunk.indexOf(0x0a, start)
      if (nl < 0) break
      const piece = chunk.subarray(start, nl)
      if (this.size + piece.length > this.maxLineBytes) { this.overflow(this.size + piece.length); return }
      const line = this.parts.length === 0 ? piece : Buffer.concat([...this.parts, piece])
      this.parts = []
      this.size = 0
      let text = line.toString('utf8')
      if (text.endsWith('\r')) text = text.slice(0, -1)
      if (text.trim() !== '') this.onLine(text)
      start = nl + 1
    }
    if (start < chunk.length) {
      const rest = chunk.subarray(start)
      if (this.size + rest.length > this.maxLineBytes) { this.overflow(this.size + rest.length); return }
      this.parts.push(Buffer.from(rest))
      this.size += rest.length
    }
  }

  private overflow (bytes: number): void {
    this.overflowed = true
    this.parts = []
    this.size = 0
    this.onOverflow(bytes)
  }
}
