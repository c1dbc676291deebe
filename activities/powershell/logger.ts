/**
 * The logger the PowerShell boundary writes to: anything pino-compatible (`logger.info(obj, msg)`).
 * Log records carry operation names, endpoints, pids, durations and outcomes, never arguments,
 * environments, command lines or credentials.
 */
export interface Logger {
  debug(obj: Record<string, unknown>, msg?: string): void;
  info(obj: Record<string, unknown>, msg?: string): void;
  warn(obj: Record<string, unknown>, msg?: string): void;
  error(obj: Record<string, unknown>, msg?: string): void;
}

const noop = (): void => undefined;

/** Used when the caller gives no logger. */
export const silentLogger: Logger = { debug: noop, info: noop, warn: noop, error: noop };
