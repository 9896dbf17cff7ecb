/**
 * Structured logs: one JSON object per line (LOG_FORMAT=json, the default), or one readable line
 * (pretty, what `npm start` uses). Each names the node, its role and epoch now, and an `event`
 * from the list in docs/observability.md. A node gets its log as a dependency (`NodeLog`, like its
 * Clock), so the simulator can pass its own.
 */

export const logLevels = ["debug", "info", "warn", "error"] as const;
export type LogLevel = (typeof logLevels)[number];
export const logFormats = ["json", "pretty"] as const;
export type LogFormat = (typeof logFormats)[number];

/** What happened, for machines: the event name, its level (info unless said) and its fields. */
export interface LogEvent {
  event: string;
  level?: LogLevel;
  fields?: Record<string, unknown>;
}

/**
 * How a node logs: a sentence for people (the simulator's trace keeps only that) and the event it
 * stands for.
 */
export type NodeLog = (message: string, event: LogEvent) => void;

/** Who is logging, asked at each line: the role and epoch change as the node runs. */
export interface LogContext {
  role: string;
  epoch: number | null;
}

export interface LoggerOptions {
  node: string;
  level: LogLevel;
  format: LogFormat;
  /** Where lines go (default: stdout). */
  write?: (line: string) => void;
  now?: () => Date;
}

const levelRank: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };
const reserved = new Set(["level", "time", "node", "role", "epoch", "event", "message"]);

/** A string without spaces or quotes as it is, anything else as JSON. */
const prettyValue = (value: unknown) => (typeof value === "string" && /^[^\s"=]+$/.test(value) ? value : JSON.stringify(value ?? null));

export class Logger {
  readonly #options: LoggerOptions;
  readonly #write: (line: string) => void;
  #context: () => LogContext;

  constructor(options: LoggerOptions, context: LogContext = { role: "starting", epoch: null }) {
    this.#options = options;
    this.#write = options.write ?? ((line) => process.stdout.write(`${line}\n`));
    this.#context = () => context;
  }

  /** From now on, each line asks `context` for the node's role and epoch. */
  describeWith(context: () => LogContext): void {
    this.#context = context;
  }

  enabled(level: LogLevel): boolean {
    return levelRank[level] >= levelRank[this.#options.level];
  }

  log(level: LogLevel, event: string, message: string, fields: Record<string, unknown> = {}): void {
    if (!this.enabled(level)) return;
    const { role, epoch } = this.#context();
    const time = (this.#options.now?.() ?? new Date()).toISOString();
    if (this.#options.format === "pretty") {
      const extra = Object.entries(fields)
        .filter(([, value]) => value !== undefined)
        .map(([name, value]) => ` ${name}=${prettyValue(value)}`)
        .join("");
      this.#write(
        `${time} ${level.toUpperCase().padEnd(5)} ${this.#options.node} (${role}${epoch === null ? "" : `, epoch ${epoch}`}) ${event}: ${message}${extra}`,
      );
      return;
    }
    const record: Record<string, unknown> = { level, time, node: this.#options.node, role, epoch, event, message };
    // A field never hides one of the line's own names.
    for (const [name, value] of Object.entries(fields)) if (!reserved.has(name)) record[name] = value;
    this.#write(JSON.stringify(record));
  }

  info(event: string, message: string, fields?: Record<string, unknown>): void {
    this.log("info", event, message, fields);
  }

  /** This logger as a node's `NodeLog`. */
  readonly forNode: NodeLog = (message, { event, level = "info", fields }) => this.log(level, event, message, fields);
}
