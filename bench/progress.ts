import cliProgress from 'cli-progress';

export interface Progress {
  update(done: number): void;
  stop(): void;
}

/** A cli-progress bar on a terminal; a line every ~10 % otherwise (CI logs stay short). */
export function progress(label: string, total: number): Progress {
  if (process.stderr.isTTY) {
    const bar = new cliProgress.SingleBar(
      { format: `${label.padEnd(22)} [{bar}] {percentage}% {value}/{total} {eta_formatted}`, stream: process.stderr, hideCursor: true },
      cliProgress.Presets.shades_classic,
    );
    bar.start(total, 0);
    return { update: (d) => bar.update(Math.min(d, total)), stop: () => bar.stop() };
  }
  let nextMark = 0.1;
  return {
    update(done) {
      if (done / total >= nextMark) {
        process.stderr.write(`${label}: ${Math.round((done / total) * 100)}%\n`);
        while (done / total >= nextMark) nextMark += 0.1;
      }
    },
    stop() {},
  };
}
