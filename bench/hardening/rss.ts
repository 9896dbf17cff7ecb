/** Resident memory of local processes, from /proc (Linux), for the hardening figures. */

const MiB = 1024 * 1024;

/** VmRSS of a process, in bytes. */
export async function rssBytes(pid: number): Promise<number> {
  const status = await Bun.file(`/proc/${pid}/status`).text();
  const match = /VmRSS:\s+(\d+)\s+kB/.exec(status);
  if (!match) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(match[1]) * 1024;
}

export interface RssSeries {
  firstBytes: number;
  lastBytes: number;
  maxBytes: number;
  samples: number;
}

/** Samples the RSS of named processes every `intervalMs` until `stop()`, which returns each series. */
export function sampleRss(pids: Record<string, number>, intervalMs = 250) {
  const series: Record<string, RssSeries> = {};
  const sample = async () => {
    for (const [name, pid] of Object.entries(pids)) {
      const bytes = await rssBytes(pid).catch(() => null);
      if (bytes === null) continue;
      const current = series[name];
      if (!current) series[name] = { firstBytes: bytes, lastBytes: bytes, maxBytes: bytes, samples: 1 };
      else {
        current.lastBytes = bytes;
        current.maxBytes = Math.max(current.maxBytes, bytes);
        current.samples++;
      }
    }
  };
  let pending = sample();
  const timer = setInterval(() => {
    pending = pending.then(sample);
  }, intervalMs);
  return {
    async stop(): Promise<Record<string, RssSeries>> {
      clearInterval(timer);
      await pending;
      await sample();
      return series;
    },
  };
}

export const mib = (bytes: number) => `${(bytes / MiB).toFixed(1)} MiB`;
