import pino from 'pino';

/**
 * One logger, on standard error (standard output is kept for commands that print JSON). Secrets are
 * redacted here too, as a second line of defence behind never passing them in the first place.
 */
export type Logger = pino.Logger;

/** Fields that hold credentials, and URLs and links (which may carry one: a webhook secret, a link token). */
const SENSITIVE = ['password', 'secret', 'token', 'clientSecret', 'privateKey', 'authorization', 'cookie', 'webhookSecret', 'apiToken', 'temporaryPassword', 'csrfToken', 'url', 'link'];

const REDACT = [
  ...SENSITIVE,
  ...SENSITIVE.map((field) => `*.${field}`),
  ...['headers', '*.headers'].flatMap((headers) => [`${headers}.authorization`, `${headers}.cookie`, `${headers}["set-cookie"]`, `${headers}["x-csrf-token"]`]),
];

export function createLogger(options: { level?: string; name?: string; destination?: pino.DestinationStream } = {}): Logger {
  return pino(
    {
      name: options.name ?? 'deskhand',
      level: options.level ?? process.env['DESKHAND_LOG_LEVEL'] ?? 'info',
      redact: { paths: REDACT, censor: '[redacted]' },
    },
    options.destination ?? pino.destination({ fd: 2, sync: false }),
  );
}

export const silentLogger: Logger = pino({ level: 'silent' });
