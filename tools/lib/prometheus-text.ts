/**
 * A strict reader of the Prometheus text format (0.0.4), for tests and benchmarks: every line must be a HELP, a
 * TYPE or a sample of the family declared just before it (histograms: _bucket with `le`, _sum,
 * _count), with no series twice; anything else throws, naming the line.
 */

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Family {
  name: string;
  type: "counter" | "gauge" | "histogram" | "summary" | "untyped";
  help: string;
  samples: Sample[];
}

const metricName = "[a-zA-Z_:][a-zA-Z0-9_:]*";
const sampleLine = new RegExp(`^(${metricName})(?:\\{(.*)\\})? (\\S+)$`);
const labelPair = /^([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\["\\n])*)"(,|$)/;

function parseValue(text: string, line: string): number {
  if (text === "+Inf") return Number.POSITIVE_INFINITY;
  if (text === "-Inf") return Number.NEGATIVE_INFINITY;
  if (text === "NaN") return Number.NaN;
  if (!/^-?\d+(\.\d+)?([eE][+-]?\d+)?$/.test(text)) throw new Error(`bad value in: ${line}`);
  return Number(text);
}

function parseLabels(text: string, line: string): Record<string, string> {
  const labels: Record<string, string> = {};
  let rest = text;
  while (rest.length > 0) {
    const match = labelPair.exec(rest);
    if (!match) throw new Error(`bad labels in: ${line}`);
    if (match[1]! in labels) throw new Error(`label ${match[1]} twice in: ${line}`);
    labels[match[1]!] = match[2]!.replace(/\\n/g, "\n").replace(/\\"/g, '"').replace(/\\\\/g, "\\");
    rest = rest.slice(match[0].length);
  }
  return labels;
}

export function parsePrometheusText(text: string): Map<string, Family> {
  if (!text.endsWith("\n")) throw new Error("the exposition must end with a newline");
  const families = new Map<string, Family>();
  const seen = new Set<string>();
  let current: Family | null = null;
  for (const line of text.slice(0, -1).split("\n")) {
    const help = /^# HELP (\S+) (.*)$/.exec(line);
    if (help) {
      if (families.has(help[1]!)) throw new Error(`family ${help[1]} declared twice`);
      current = { name: help[1]!, type: "untyped", help: help[2]!, samples: [] };
      families.set(current.name, current);
      continue;
    }
    const type = /^# TYPE (\S+) (counter|gauge|histogram|summary|untyped)$/.exec(line);
    if (type) {
      if (!current || current.name !== type[1] || current.samples.length > 0) throw new Error(`TYPE without its HELP just before: ${line}`);
      current.type = type[2] as Family["type"];
      continue;
    }
    const sample = sampleLine.exec(line);
    if (!sample || !current) throw new Error(`not a sample of a declared family: ${line}`);
    const [, name, labelText, valueText] = sample as unknown as [string, string, string | undefined, string];
    const allowed = current.type === "histogram" ? ["_bucket", "_sum", "_count"].map((suffix) => current!.name + suffix) : [current.name];
    if (!allowed.includes(name)) throw new Error(`sample ${name} does not belong to family ${current.name}`);
    const labels = parseLabels(labelText ?? "", line);
    if (name.endsWith("_bucket") && labels.le === undefined) throw new Error(`bucket without le: ${line}`);
    const series = `${name}{${Object.entries(labels)
      .sort()
      .map(([k, v]) => `${k}=${v}`)
      .join(",")}}`;
    if (seen.has(series)) throw new Error(`series twice: ${series}`);
    seen.add(series);
    current.samples.push({ name, labels, value: parseValue(valueText, line) });
  }
  return families;
}
