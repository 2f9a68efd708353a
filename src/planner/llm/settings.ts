import { createAnthropic } from '@ai-sdk/anthropic';
import { createOpenAI } from '@ai-sdk/openai';
import { createOpenAICompatible } from '@ai-sdk/openai-compatible';
import type { LanguageModel } from 'ai';
import { DeskhandError } from '../../core/errors.ts';
import { isLoopbackHost } from '../../integrations/http.ts';

/**
 * Which language model a planner talks to: OpenAI, Anthropic, or any OpenAI-compatible endpoint
 * (a local Ollama or vLLM server). The API key is a secret: it is never logged, never put in a
 * note, and never part of an error message.
 */
export const LLM_PROVIDERS = ['openai', 'anthropic', 'openai-compatible'] as const;
export type LlmProvider = (typeof LLM_PROVIDERS)[number];

export interface LlmSettings {
  provider: LlmProvider;
  model: string;
  apiKey?: string;
  /** The provider's API base, e.g. `http://127.0.0.1:11434/v1` for Ollama; required for `openai-compatible`. */
  baseUrl?: string;
}

/** Per-request limits: a model never runs unbounded on a ticket. */
export interface LlmBudget {
  /** Model calls per request, the answer and its one repair included. */
  maxModelCalls: number;
  /** Input plus output tokens per request. */
  maxTokens: number;
  /** Wall time per request, in milliseconds; an abort reaches every call. */
  maxMs: number;
  /** Tries for one model call when the provider is rate-limited or down. */
  maxAttempts: number;
}

export const DEFAULT_BUDGET: LlmBudget = { maxModelCalls: 10, maxTokens: 120_000, maxMs: 90_000, maxAttempts: 3 };

/**
 * The settings `deskhand eval` and a bare `deskhand start` read: `DESKHAND_LLM_PROVIDER`,
 * `DESKHAND_LLM_MODEL`, `DESKHAND_LLM_API_KEY`, `DESKHAND_LLM_BASE_URL`.
 */
export function llmSettingsFromEnv(env: NodeJS.ProcessEnv): LlmSettings {
  const provider = (env['DESKHAND_LLM_PROVIDER'] ?? '').trim();
  const model = (env['DESKHAND_LLM_MODEL'] ?? '').trim();
  if (!(LLM_PROVIDERS as readonly string[]).includes(provider)) {
    throw new DeskhandError(
      'config',
      `DESKHAND_LLM_PROVIDER must be one of ${LLM_PROVIDERS.join(', ')} (it is ${provider === '' ? 'not set' : `"${provider}"`}); set it with DESKHAND_LLM_MODEL, DESKHAND_LLM_API_KEY and, for a local or compatible server, DESKHAND_LLM_BASE_URL`,
    );
  }
  if (model === '') throw new DeskhandError('config', 'DESKHAND_LLM_MODEL is not set: name the model, e.g. gpt-4.1-mini, claude-sonnet-4-5 or llama3.1:8b');
  const apiKey = env['DESKHAND_LLM_API_KEY']?.trim() || undefined;
  const baseUrl = env['DESKHAND_LLM_BASE_URL']?.trim() || undefined;
  const settings: LlmSettings = { provider: provider as LlmProvider, model, ...(apiKey ? { apiKey } : {}), ...(baseUrl ? { baseUrl } : {}) };
  checkSettings(settings);
  return settings;
}

/** What a provider needs before any call: a key for the hosted ones, a base URL for a compatible server. */
export function checkSettings(settings: LlmSettings): void {
  if (settings.provider === 'openai-compatible' && !settings.baseUrl) {
    throw new DeskhandError('config', 'an OpenAI-compatible model needs its base URL (DESKHAND_LLM_BASE_URL), e.g. http://127.0.0.1:11434/v1 for Ollama');
  }
  if (settings.provider !== 'openai-compatible' && !settings.apiKey) {
    throw new DeskhandError('config', `the ${settings.provider} model needs an API key (DESKHAND_LLM_API_KEY)`);
  }
  if (settings.baseUrl) {
    let url: URL;
    try {
      url = new URL(settings.baseUrl);
    } catch {
      throw new DeskhandError('config', 'the model base URL is not a URL');
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new DeskhandError('config', 'the model base URL must be an https:// URL');
    if (url.username !== '' || url.password !== '') throw new DeskhandError('config', 'the model base URL must not contain a user name or password (the API key is configured separately)');
    // A key sent over http:// travels in cleartext: only to a server on this machine (a local Ollama or vLLM).
    if (url.protocol === 'http:' && !isLoopbackHost(url.hostname)) {
      throw new DeskhandError('config', 'the model base URL must be https://; http:// is accepted only for a server on this machine (127.0.0.1, localhost)');
    }
  }
}

/** `provider:model`, as usage and notes name it. */
export function modelLabel(settings: LlmSettings): string {
  return `${settings.provider}:${settings.model}`;
}

/** The AI SDK model for these settings. OpenAI-style servers go through the Chat Completions API. */
export function languageModel(settings: LlmSettings): LanguageModel {
  checkSettings(settings);
  switch (settings.provider) {
    case 'openai':
      return createOpenAI({ apiKey: settings.apiKey, ...(settings.baseUrl ? { baseURL: settings.baseUrl } : {}) }).chat(settings.model);
    case 'anthropic':
      return createAnthropic({ apiKey: settings.apiKey, ...(settings.baseUrl ? { baseURL: settings.baseUrl } : {}) })(settings.model);
    case 'openai-compatible':
      return createOpenAICompatible({ name: 'compatible', baseURL: settings.baseUrl ?? '', ...(settings.apiKey ? { apiKey: settings.apiKey } : {}) }).chatModel(settings.model);
  }
}

/**
 * List prices in US dollars per million tokens (input, output), for the cost shown in a request's
 * story. A model not listed here has an unknown cost (null), never a guessed one; a local model's
 * cost is 0. `DESKHAND_LLM_PRICE` ("input,output" per million) overrides the table.
 */
const PRICES: Readonly<Record<string, readonly [number, number]>> = {
  'openai:gpt-4.1': [2, 8],
  'openai:gpt-4.1-mini': [0.4, 1.6],
  'openai:gpt-4.1-nano': [0.1, 0.4],
  'openai:gpt-4o': [2.5, 10],
  'openai:gpt-4o-mini': [0.15, 0.6],
  'anthropic:claude-sonnet-4-5': [3, 15],
  'anthropic:claude-haiku-4-5': [1, 5],
  'anthropic:claude-opus-4-1': [15, 75],
};

export function costUsd(settings: LlmSettings, inputTokens: number, outputTokens: number, env: NodeJS.ProcessEnv = process.env): number | null {
  const override = env['DESKHAND_LLM_PRICE']?.split(',').map(Number);
  const price =
    override && override.length === 2 && override.every((n) => Number.isFinite(n) && n >= 0)
      ? ([override[0], override[1]] as [number, number])
      : settings.provider === 'openai-compatible'
        ? ([0, 0] as const)
        : PRICES[modelLabel(settings)];
  if (!price) return null;
  return Math.round(((inputTokens * price[0] + outputTokens * price[1]) / 1_000_000) * 1e6) / 1e6;
}
