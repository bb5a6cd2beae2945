/** Reading what QEMU and its guest printed: the serial console log and QEMU's own output. */
import { open, stat } from 'node:fs/promises';

/** The last `n` non-empty lines of a (possibly large) log file, without ANSI colours. */
export async function lastLines(file: string, n: number): Promise<string[]> {
  try {
    const st = await stat(file);
    const len = Math.min(st.size, 64 * 1024);
    const fh = await open(file, 'r');
    try {
      const buf = Buffer.alloc(len);
      await fh.read(buf, 0, len, st.size - len);
      return tailLines(buf.toString('utf8'), n);
    } finally {
      await fh.close();
    }
  } catch {
    return [];
  }
}

/** The last `n` non-empty lines of `text`, without ANSI colours. */
export function tailLines(text: string, n: number): string[] {
  return text
    .replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '')
    .split(/\r?\n|\r/)
    .map((l) => l.trimEnd())
    .filter((l) => l.trim() !== '')
    .slice(-n);
}
