// Responsiveness measured where the user feels it. Each measurement is a
// performance.measure between two marks; the e2e test reads them through
// `window.__cairnPerf` and reports percentiles.

export type PerfName = "open-note" | "filter-list" | "remote-apply" | "keystroke-paint";

interface Sample {
  name: PerfName;
  ms: number;
  detail?: Record<string, number | string>;
}

const samples: Sample[] = [];
let seq = 0;

/** Starts a measurement; call the returned function when it is done. */
export function begin(name: PerfName): (detail?: Sample["detail"]) => number {
  const start = `${name}:start:${++seq}`;
  performance.mark(start);
  return (detail) => {
    const m = performance.measure(name, { start, detail });
    performance.clearMarks(start);
    samples.push({ name, ms: m.duration, detail });
    return m.duration;
  };
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  const i = Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1);
  return sorted[Math.max(0, i)];
}

export function summary(): Record<string, { count: number; p50: number; p95: number; max: number }> {
  const out: Record<string, { count: number; p50: number; p95: number; max: number }> = {};
  const names = new Set(samples.map((s) => s.name));
  for (const name of names) {
    const ms = samples.filter((s) => s.name === name).map((s) => s.ms).sort((a, b) => a - b);
    out[name] = { count: ms.length, p50: percentile(ms, 50), p95: percentile(ms, 95), max: ms[ms.length - 1] };
  }
  return out;
}

declare global {
  interface Window {
    __cairnPerf: {
      samples: () => Sample[];
      summary: typeof summary;
      clear: () => void;
    };
  }
}

window.__cairnPerf = {
  samples: () => samples.slice(),
  summary,
  clear: () => {
    samples.length = 0;
    performance.clearMeasures();
  },
};
