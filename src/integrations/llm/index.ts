import { generateText } from 'ai';
import { z } from 'zod';
import { describeError } from '../../core/errors.ts';
import { LlmPlanner } from '../../planner/llm/planner.ts';
import { checkSettings, LLM_PROVIDERS, type LlmSettings, languageModel, modelLabel } from '../../planner/llm/settings.ts';
import type { ConnectedIntegration, ConnectionInput, DoctorReport, IntegrationModule } from '../module.ts';

/**
 * A language model for the LLM planner (issue 14): OpenAI, Anthropic, or any OpenAI-compatible
 * endpoint (a local Ollama or vLLM). Connected once per MSP (or by one client for itself); without
 * one, requests are planned by the built-in planner, which needs no key. The API key is stored
 * encrypted like every credential and never shown again. It offers no tools: what a model may do
 * is what the client's identity provider and the tool policies offer.
 */
const settings = z.object({
  provider: z.enum(LLM_PROVIDERS).describe('openai, anthropic, or openai-compatible (a local Ollama or vLLM server, or any OpenAI-style API)'),
  model: z.string().min(1).max(200).describe('The model, e.g. gpt-4.1-mini, claude-sonnet-4-5, llama3.1:8b'),
  baseUrl: z.string().url().optional().describe('The API base URL; required for openai-compatible, e.g. http://127.0.0.1:11434/v1 for Ollama'),
});

const secrets = z.object({
  apiKey: z.string().min(1).describe('API key; a local server that needs none takes any placeholder, e.g. "local"'),
});

function settingsOf(input: Pick<ConnectionInput, 'settings' | 'secrets'>): LlmSettings {
  const parsed = settings.parse(input.settings);
  const config: LlmSettings = { provider: parsed.provider, model: parsed.model, ...(parsed.baseUrl ? { baseUrl: parsed.baseUrl } : {}), ...(input.secrets['apiKey'] ? { apiKey: input.secrets['apiKey'] } : {}) };
  checkSettings(config);
  return config;
}

/** One short call: the key, the URL and the model name all work. Costs a handful of tokens. */
async function doctorLlm(integration: ConnectedIntegration): Promise<DoctorReport> {
  let config: LlmSettings;
  try {
    config = settingsOf(integration);
    languageModel(config);
  } catch (error) {
    return { ok: false, checks: [{ name: 'configuration', ok: false, detail: describeError(error), fix: 'correct the provider, model, base URL or API key' }], tools: [] };
  }
  try {
    await generateText({ model: languageModel(config), prompt: 'Reply with the single word OK.', maxOutputTokens: 5, maxRetries: 0, abortSignal: AbortSignal.timeout(20_000) });
    return { ok: true, checks: [{ name: 'model call', ok: true, detail: `${modelLabel(config)} answered` }], tools: [] };
  } catch (error) {
    return {
      ok: false,
      checks: [{ name: 'model call', ok: false, detail: `${modelLabel(config)} did not answer: ${describeError(error)}`, fix: 'check the API key, the base URL and the model name; a local server must be running' }],
      tools: [],
    };
  }
}

export const llm: IntegrationModule = {
  kind: 'llm',
  label: 'Language model',
  scope: 'msp',
  clientOverride: true,
  provides: ['planner'],
  settings,
  secrets,
  tools: [],
  connect(input) {
    return { planner: { planner: new LlmPlanner(settingsOf(input)) } };
  },
  doctor: (integration) => doctorLlm(integration),
};
