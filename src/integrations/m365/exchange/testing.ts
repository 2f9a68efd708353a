import type { GraphEmulator } from '../emulator/index.ts';
import { type ExchangeClientConfig, ExchangeOnlineClient } from './client.ts';

/** An Exchange Online client signed in to a fixture client's tenant through the emulators (its own app, client secret). */
export function emulatedExchangeClient(emulator: GraphEmulator, clientId: string, overrides: Partial<ExchangeClientConfig> = {}): ExchangeOnlineClient {
  const config = emulator.clientConfig(clientId);
  return new ExchangeOnlineClient({
    tenantId: config.tenantId,
    clientId: config.clientId,
    clientSecret: config.clientSecret,
    loginBaseUrl: config.loginBaseUrl,
    baseUrl: emulator.exchange.url,
    ...overrides,
  });
}
