// Structured JSON logs. Secrets never reach a log line: known secret-bearing
// keys are redacted wherever they appear.
import pino, { type Logger } from 'pino';

export type { Logger };

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'synapse-gateway' },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: {
        paths: ['authorization', '*.authorization', 'headers.authorization', 'password', '*.password', 'secret', '*.secret', 'auth_token', '*.auth_token'],
        censor: '[redacted]',
      },
    },
    destination,
  );
}
