/** A one-line progress bar on stderr, drawn only when stderr is a terminal (never in logs or pipes). */
export interface Progress {
  set(done: number): void;
  finish(): void;
}

const redrawIntervalMs = 100;
const barWidth = 30;

export function progressBar(total: number, label: string, stream: NodeJS.WriteStream = process.stderr): Progress {
  if (!stream.isTTY || total <= 0) return { set() {}, finish() {} };
  const startedMs = performance.now();
  let done = 0;
  const draw = () => {
    const filled = Math.min(barWidth, Math.round((done / total) * barWidth));
    const seconds = (performance.now() - startedMs) / 1000;
    const rate = seconds > 0 ? Math.round(done / seconds) : 0;
    stream.write(`\r${label} [${"#".repeat(filled)}${" ".repeat(barWidth - filled)}] ${done}/${total}  ${rate}/s `);
  };
  const timer = setInterval(draw, redrawIntervalMs);
  return {
    set(value) {
      done = value;
    },
    finish() {
      clearInterval(timer);
      stream.write("\r\x1b[2K"); // erase the line so the summary starts clean
    },
  };
}
