import pino from 'pino';

/**
 * One logger, on standard error (standard output is kept for commands that print JSON). Secrets are
 * redacted here too, as a second line of defence behind never passing them in the first place.
 */
export type Logger = pino.Logger;

const REDACT = [
  'password',
  'secret',
  'token',
  'clientSecret',
  'privateKey',
  'authorization',
  '*.password',
  '*.secret',
  '*.token',
  '*.clientSecret',
  '*.privateKey',
  '*.authorization',
  'headers.authorization',
  'req.headers.authorization',
  'req.headers.cookie',
];

export function createLogger(options: { level?: string; name?: string } = {}): Logger {
  return pino(
    {
      name: options.name ?? 'deskhand',
      level: options.level ?? process.env['DESKHAND_LOG_LEVEL'] ?? 'info',
      redact: { paths: REDACT, censor: '[redacted]' },
    },
    pino.destination({ fd: 2, sync: false }),
  );
}

export const silentLogger: Logger = pino({ level: 'silent' });
