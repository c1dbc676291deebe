/**
 * Structured JSON logs (pino) for the worker and for the Temporal SDK's own messages. Keys that
 * could carry a secret are censored wherever they appear, as a second line of defence: nothing
 * in this project puts credentials into log fields on purpose.
 */
import pino from 'pino';
import type { Logger as TemporalLogger, LogLevel, LogMetadata } from '@temporalio/common';

const SECRET_KEYS = ['password', 'apiKey', 'api_key', 'secret', 'token', 'credential', 'credentials', 'authorization'];

export type AppLogger = pino.Logger;

export function createLogger(level: string, destination?: pino.DestinationStream): AppLogger {
  return pino(
    {
      level,
      base: { service: 'fvp-protected-backup' },
      redact: { paths: SECRET_KEYS.flatMap((k) => [k, `*.${k}`, `*.*.${k}`]), censor: '[redacted]' },
    },
    destination ?? pino.destination(2),
  );
}

const LEVELS: Record<LogLevel, 'trace' | 'debug' | 'info' | 'warn' | 'error'> = {
  TRACE: 'trace',
  DEBUG: 'debug',
  INFO: 'info',
  WARN: 'warn',
  ERROR: 'error',
};

/** The Temporal Runtime's logger interface, backed by pino. */
export function temporalLogger(logger: AppLogger): TemporalLogger {
  const log = (level: LogLevel, message: string, meta?: LogMetadata) => logger[LEVELS[level]](meta ?? {}, message);
  return {
    log,
    trace: (m, meta) => log('TRACE', m, meta),
    debug: (m, meta) => log('DEBUG', m, meta),
    info: (m, meta) => log('INFO', m, meta),
    warn: (m, meta) => log('WARN', m, meta),
    error: (m, meta) => log('ERROR', m, meta),
  };
}
