// A progress line on stderr for long runs (ingest of big inputs, replay), only on a terminal:
// redrawn in place at most four times a second, erased when done.
export interface Progress {
  file: (path: string, bytes: number, size: number | null) => void;
  step: (text: string) => void;
  done: () => void;
}

export function progressLine(stream: NodeJS.WriteStream = process.stderr): Progress | undefined {
  if (!stream.isTTY) return undefined;
  let last = 0;
  let shown = false;
  const show = (text: string, force: boolean) => {
    const now = Date.now();
    if (!force && now - last < 250) return;
    last = now;
    shown = true;
    stream.write(`\r\x1b[K${text.slice(0, Math.max(20, (stream.columns ?? 80) - 1))}`);
  };
  return {
    file: (path, bytes, size) => show(`${path}: ${(bytes / 1e6).toFixed(1)} MB${size ? ` ${Math.min(100, Math.round((bytes / size) * 100))}%` : ''}`, false),
    step: (text) => show(text, true),
    done: () => {
      if (shown) stream.write('\r\x1b[K');
      shown = false;
    },
  };
}
