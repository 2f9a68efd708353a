/**
 * The scripted model, driven the way the LLM planner drives a model: the AI SDK's `generateText`
 * over `@ai-sdk/openai-compatible` (and `@ai-sdk/openai`'s `.chat()`), real HTTP on loopback.
 */
import { createOpenAI } from '@ai-sdk/openai';
import { createOpenAICompatible } from '@ai-sdk/openai-compatible';
import { APICallError, generateText, type ModelMessage, stepCountIs, tool } from 'ai';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { type ScriptedModel, type ScriptedReply, startScriptedModel } from './support/scripted-model.ts';

const MODEL = 'planner-test';
const KEY = 'sk-scripted';

const lookupUser = tool({
  description: 'Find a user by email',
  inputSchema: z.object({ email: z.string() }),
});

let server: ScriptedModel | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function start(script: readonly ScriptedReply[]): Promise<ScriptedModel> {
  server = await startScriptedModel(script, { apiKey: KEY, model: MODEL });
  return server;
}

function compatibleModel(model: ScriptedModel, apiKey = KEY, modelId = MODEL) {
  return createOpenAICompatible({ name: 'scripted', baseURL: model.url, apiKey }).chatModel(modelId);
}

/** POST a chat body by hand, for shapes the AI SDK would never send. */
async function post(model: ScriptedModel, body: unknown): Promise<{ status: number; json: { error?: { message: string; type: string; param: string | null; code: string | null } } }> {
  const response = await fetch(`${model.url}/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}` },
    body: JSON.stringify(body),
  });
  return { status: response.status, json: (await response.json()) as { error?: { message: string; type: string; param: string | null; code: string | null } } };
}

async function callError(promise: Promise<unknown>): Promise<APICallError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  if (!APICallError.isInstance(error)) throw new Error(`expected an APICallError, got ${String(error)}`);
  return error;
}

describe('scripted model through the AI SDK', () => {
  it('returns a scripted tool call as a parsed tool call, with its usage', async () => {
    const model = await start([{ toolCalls: [{ name: 'lookupUser', args: { email: 'ana@example.test' } }], usage: { prompt: 120, completion: 17 } }]);
    const result = await generateText({ model: compatibleModel(model), tools: { lookupUser }, prompt: 'Who is Ana?', maxRetries: 0 });

    expect(result.toolCalls).toHaveLength(1);
    expect(result.toolCalls[0]).toMatchObject({ toolName: 'lookupUser', input: { email: 'ana@example.test' }, toolCallId: 'call_scripted_0_0' });
    expect(result.finishReason).toBe('tool-calls');
    expect(result.usage.inputTokens).toBe(120);
    expect(result.usage.outputTokens).toBe(17);
    expect(result.usage.totalTokens).toBe(137);
    expect(model.calls()).toBe(1);
    expect(model.requests[0]?.headers.authorization).toBe(`Bearer ${KEY}`);
  });

  it('accepts the tool result sent back and answers with the next scripted reply', async () => {
    const model = await start([{ toolCalls: [{ name: 'lookupUser', args: { email: 'ana@example.test' } }] }, { text: 'Ana is in Finance.' }]);
    const first = await generateText({ model: compatibleModel(model), tools: { lookupUser }, prompt: 'Who is Ana?', maxRetries: 0 });
    const call = first.toolCalls[0]!;
    const messages: ModelMessage[] = [
      { role: 'user', content: 'Who is Ana?' },
      ...first.response.messages,
      { role: 'tool', content: [{ type: 'tool-result', toolCallId: call.toolCallId, toolName: call.toolName, output: { type: 'json', value: { department: 'Finance' } } }] },
    ];
    const second = await generateText({ model: compatibleModel(model), tools: { lookupUser }, messages, maxRetries: 0 });

    expect(second.text).toBe('Ana is in Finance.');
    expect(second.finishReason).toBe('stop');
    expect(second.usage.inputTokens).toBeGreaterThan(0);
    expect(model.calls()).toBe(2);
    // What the SDK put on the wire: the assistant turn keeps its tool call, and the result is a
    // `tool` message with the JSON-encoded output as its content.
    expect(model.requests[1]?.messages).toEqual([
      { role: 'user', content: 'Who is Ana?' },
      {
        role: 'assistant',
        content: null,
        tool_calls: [{ id: call.toolCallId, type: 'function', function: { name: 'lookupUser', arguments: '{"email":"ana@example.test"}' } }],
      },
      { role: 'tool', tool_call_id: call.toolCallId, content: '{"department":"Finance"}' },
    ]);
  });

  it('runs a two-step loop when the SDK executes the tool itself', async () => {
    const model = await start([{ toolCalls: [{ name: 'lookupUser', args: { email: 'ana@example.test' } }] }, { text: 'done' }]);
    const executed = tool({ ...lookupUser, execute: async ({ email }) => ({ email, department: 'Finance' }) });
    const result = await generateText({ model: compatibleModel(model), tools: { lookupUser: executed }, prompt: 'Who is Ana?', stopWhen: stepCountIs(2), maxRetries: 0 });

    expect(result.text).toBe('done');
    expect(result.steps).toHaveLength(2);
    expect(model.requests[1]?.messages.at(-1)).toEqual({ role: 'tool', tool_call_id: 'call_scripted_0_0', content: '{"email":"ana@example.test","department":"Finance"}' });
  });

  it('sends tools as functions with a JSON schema, and tool_choice as OpenAI spells it', async () => {
    const model = await start([{ text: 'a' }, { toolCalls: [{ name: 'lookupUser', args: { email: 'b@example.test' } }] }]);
    await generateText({ model: compatibleModel(model), tools: { lookupUser }, prompt: 'x', maxRetries: 0 });
    await generateText({ model: compatibleModel(model), tools: { lookupUser }, toolChoice: { type: 'tool', toolName: 'lookupUser' }, prompt: 'x', maxRetries: 0 });

    const [auto, forced] = model.requests;
    expect(auto?.tools).toEqual([
      {
        type: 'function',
        function: {
          name: 'lookupUser',
          description: 'Find a user by email',
          parameters: expect.objectContaining({ type: 'object', properties: { email: { type: 'string' } }, required: ['email'] }),
        },
      },
    ]);
    // With tools and no toolChoice, the SDK still spells out tool_choice "auto".
    expect(auto?.tool_choice).toBe('auto');
    expect(forced?.tool_choice).toEqual({ type: 'function', function: { name: 'lookupUser' } });
  });

  it("works with @ai-sdk/openai's chat model (not the Responses API)", async () => {
    const model = await start([{ toolCalls: [{ name: 'lookupUser', args: { email: 'ana@example.test' } }], usage: { prompt: 40, completion: 9 } }]);
    const openai = createOpenAI({ baseURL: model.url, apiKey: KEY });
    const result = await generateText({ model: openai.chat(MODEL), tools: { lookupUser }, prompt: 'Who is Ana?', maxRetries: 0 });

    expect(result.toolCalls[0]).toMatchObject({ toolName: 'lookupUser', input: { email: 'ana@example.test' } });
    expect(result.usage.inputTokens).toBe(40);
    expect(result.usage.outputTokens).toBe(9);
    expect(model.requests[0]?.model).toBe(MODEL);
  });
});

describe('scripted model errors', () => {
  it('answers a scripted 429 with the retry-after header, as an APICallError', async () => {
    const model = await start([{ status: 429, headers: { 'retry-after': '1' } }]);
    const error = await callError(generateText({ model: compatibleModel(model), prompt: 'x', maxRetries: 0 }));

    expect(error.statusCode).toBe(429);
    expect(error.responseHeaders?.['retry-after']).toBe('1');
    expect(error.isRetryable).toBe(true);
    expect(JSON.parse(error.responseBody ?? '{}')).toEqual({
      error: { message: expect.stringContaining('Rate limit'), type: 'rate_limit_error', param: null, code: 'rate_limit_exceeded' },
    });
    expect(model.calls()).toBe(1);
  });

  it('answers a scripted 503 as a server error the SDK retries', async () => {
    // retry-after-ms keeps the SDK from its default two-second backoff.
    const model = await start([{ status: 503, headers: { 'retry-after-ms': '10' } }, { text: 'back' }]);
    const result = await generateText({ model: compatibleModel(model), prompt: 'x', maxRetries: 1 });

    expect(result.text).toBe('back');
    expect(model.calls()).toBe(2);
    expect(model.requests).toHaveLength(2);
  });

  it('lets an abort signal cut a late answer, and gives no answer to a client that left', async () => {
    const model = await start([{ text: 'too late', delayMs: 600 }]);
    const started = Date.now();
    const failure = await generateText({ model: compatibleModel(model), prompt: 'x', maxRetries: 0, abortSignal: AbortSignal.timeout(200) }).then(
      () => undefined,
      (caught: unknown) => caught,
    );

    expect(failure).toBeInstanceOf(Error);
    expect((failure as Error).name).toMatch(/TimeoutError|AbortError/);
    expect(Date.now() - started).toBeLessThan(550);
    expect(model.requests).toHaveLength(1);
    // Past the scripted delay: had the server kept waiting, it would have answered by now.
    await new Promise((resolve) => setTimeout(resolve, 700));
    expect(model.calls()).toBe(0);
  });

  it('fails loudly when the script runs out', async () => {
    const model = await start([{ text: 'only one' }]);
    await generateText({ model: compatibleModel(model), prompt: 'x', maxRetries: 0 });
    const error = await callError(generateText({ model: compatibleModel(model), prompt: 'x', maxRetries: 0 }));

    expect(error.statusCode).toBe(500);
    expect(error.message).toMatch(/script ran out/);
    expect(model.calls()).toBe(2);
  });

  it('refuses a tool message whose tool_call_id was never issued, in OpenAI’s words', async () => {
    const model = await start([{ toolCalls: [{ name: 'lookupUser', args: { email: 'a@example.test' } }] }, { text: 'unused' }]);
    const first = await generateText({ model: compatibleModel(model), tools: { lookupUser }, prompt: 'x', maxRetries: 0 });
    const call = first.toolCalls[0]!;
    // The SDK itself refuses a call left without a result (MissingToolResultsError) but lets an
    // extra result with a made-up id through: that one only the server catches.
    const messages: ModelMessage[] = [
      { role: 'user', content: 'x' },
      ...first.response.messages,
      {
        role: 'tool',
        content: [
          { type: 'tool-result', toolCallId: call.toolCallId, toolName: 'lookupUser', output: { type: 'text', value: 'r' } },
          { type: 'tool-result', toolCallId: 'call_mangled', toolName: 'lookupUser', output: { type: 'text', value: 'r' } },
        ],
      },
    ];
    const error = await callError(generateText({ model: compatibleModel(model), tools: { lookupUser }, messages, maxRetries: 0 }));

    expect(error.statusCode).toBe(400);
    expect(error.message).toBe("Invalid parameter: 'tool_call_id' of 'call_mangled' not found in 'tool_calls' of previous message.");
  });

  it('refuses an orphan tool message and an unanswered tool call', async () => {
    const model = await start([{ text: 'unused' }]);
    const orphan = await post(model, { model: MODEL, messages: [{ role: 'user', content: 'x' }, { role: 'tool', tool_call_id: 'call_1', content: 'r' }] });
    expect(orphan.status).toBe(400);
    expect(orphan.json.error).toEqual({
      message: "Invalid parameter: messages with role 'tool' must be a response to a preceeding message with 'tool_calls'.",
      type: 'invalid_request_error',
      param: 'messages.[1].role',
      code: null,
    });

    const assistant = { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'lookupUser', arguments: '{}' } }] };
    const unanswered = await post(model, { model: MODEL, messages: [{ role: 'user', content: 'x' }, assistant, { role: 'user', content: 'y' }] });
    expect(unanswered.status).toBe(400);
    expect(unanswered.json.error?.message).toMatch(/did not have response messages: call_1$/);
    expect(model.calls()).toBe(2);
  });

  it('refuses empty messages, streaming, a wrong key and another model', async () => {
    const model = await start([{ text: 'unused' }]);
    const empty = await post(model, { model: MODEL, messages: [] });
    expect(empty.status).toBe(400);
    expect(empty.json.error?.code).toBe('empty_array');

    const streaming = await post(model, { model: MODEL, messages: [{ role: 'user', content: 'x' }], stream: true });
    expect(streaming.status).toBe(400);
    expect(streaming.json.error?.param).toBe('stream');

    const wrongKey = await callError(generateText({ model: compatibleModel(model, 'sk-wrong'), prompt: 'x', maxRetries: 0 }));
    expect(wrongKey.statusCode).toBe(401);
    expect(JSON.parse(wrongKey.responseBody ?? '{}').error.code).toBe('invalid_api_key');

    const noKey = await fetch(`${model.url}/chat/completions`, { method: 'POST', body: JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'x' }] }) });
    expect(noKey.status).toBe(401);

    const otherModel = await callError(generateText({ model: compatibleModel(model, KEY, 'gpt-elsewhere'), prompt: 'x', maxRetries: 0 }));
    expect(otherModel.statusCode).toBe(404);
    expect(JSON.parse(otherModel.responseBody ?? '{}').error).toMatchObject({ code: 'model_not_found', type: 'invalid_request_error' });

    // None of the refused requests used up the script.
    const result = await generateText({ model: compatibleModel(model), prompt: 'x', maxRetries: 0 });
    expect(result.text).toBe('unused');
  });

  it('sends a raw body as is, which the SDK reports as an invalid response', async () => {
    const model = await start([{ raw: { choices: 'not a list' } }, { raw: '{"choices": [', status: 200 }]);
    const wrongShape = await callError(generateText({ model: compatibleModel(model), prompt: 'x', maxRetries: 0 }));
    expect(wrongShape.statusCode).toBe(200);
    expect(wrongShape.message).toMatch(/Invalid JSON response/);
    expect(wrongShape.responseBody).toBe('{"choices":"not a list"}');

    const truncated = await callError(generateText({ model: compatibleModel(model), prompt: 'x', maxRetries: 0 }));
    expect(truncated.responseBody).toBe('{"choices": [');
  });

  it('asks a script function for each reply, with the request and its index', async () => {
    server = await startScriptedModel((request, index) => ({ text: `${index}:${request.messages.length}` }));
    const model = compatibleModel(server, 'any-key', 'any-model');
    const first = await generateText({ model, prompt: 'x', maxRetries: 0 });
    const second = await generateText({ model, system: 's', prompt: 'y', maxRetries: 0 });

    expect([first.text, second.text]).toEqual(['0:1', '1:2']);
  });
});
