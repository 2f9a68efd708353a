/**
 * A local OpenAI-compatible model server that replays scripted answers over real HTTP, so the LLM
 * planner's path (AI SDK → provider → fetch → JSON) runs in CI without any network.
 *
 * The wire shapes follow OpenAI's published OpenAPI spec (openai/openai-openapi `openapi.yaml`):
 * `CreateChatCompletionResponse`, `ChatCompletionResponseMessage`, `ChatCompletionMessageToolCall`,
 * `CompletionUsage` and `ErrorResponse`/`Error` (all four of type, message, param, code present).
 * The validation messages are OpenAI's own wording, so a test that sees one here sees what
 * production would. Never imported by production code.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ScriptedToolCall {
  name: string;
  args: unknown;
}

export interface ScriptedReply {
  /** Assistant tool calls (finish_reason "tool_calls"). */
  toolCalls?: ScriptedToolCall[];
  /** Assistant text (finish_reason "stop"); with `status`, the error message instead. */
  text?: string;
  /** Default: a plausible count from the request and answer sizes (about four characters a token). */
  usage?: { prompt: number; completion: number };
  /** An error answer in OpenAI's error shape, e.g. 429 or 503. */
  status?: number;
  /** Sent with the answer, e.g. `{ 'retry-after': '1' }`. */
  headers?: Record<string, string>;
  /** Answer this late (for timeouts); the wait ends, unanswered, if the client disconnects. */
  delayMs?: number;
  /** Sent as the body as is (for malformed answers): JSON-encoded, or verbatim when a string. */
  raw?: unknown;
}

export interface ChatRequest {
  model: string;
  messages: unknown[];
  tools?: unknown[];
  tool_choice?: unknown;
  /** Request headers, names in lower case. */
  headers: Record<string, string>;
}

/** An array is played in order; a function is asked for each request that passes validation (index from 0). */
export type Script = readonly ScriptedReply[] | ((request: ChatRequest, index: number) => ScriptedReply);

export interface ScriptedModel {
  /** Base URL ending in /v1, for OpenAI-compatible clients. */
  url: string;
  /** Every chat request received whose body was a JSON object, in order (rejected ones included). */
  requests: ChatRequest[];
  /** How many answers were given (errors included); a request abandoned during `delayMs` gets none. */
  calls(): number;
  close(): Promise<void>;
}

interface OpenAIError {
  status: number;
  message: string;
  type: string;
  param: string | null;
  code: string | null;
}

type Answer = { kind: 'error'; error: OpenAIError; headers?: Record<string, string> } | { kind: 'body'; status: number; body: string; headers: Record<string, string> };

const COMPLETIONS_PATH = '/v1/chat/completions';

/** Start the server on 127.0.0.1 at a free port. */
export async function startScriptedModel(script: Script, options: { apiKey?: string; model?: string } = {}): Promise<ScriptedModel> {
  const requests: ChatRequest[] = [];
  let answered = 0;
  let scripted = 0;

  const server = createServer((req, res) => {
    void handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) send(res, errorAnswer(500, 'server_error', `scripted model failed: ${String(error)}`));
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = await readBody(req);
    if (req.method !== 'POST' || req.url !== COMPLETIONS_PATH) {
      return send(res, errorAnswer(404, 'invalid_request_error', `Invalid URL (${req.method} ${req.url})`));
    }
    const denied = authorisationError(req.headers.authorization, options.apiKey);
    if (denied) return answer(res, denied);
    const body = parseJsonObject(raw);
    if (!body) return answer(res, errorAnswer(400, 'invalid_request_error', 'We could not parse the JSON body of your request.'));
    const request = toChatRequest(body, req);
    requests.push(request);
    const invalid = requestError(body, options.model);
    if (invalid) return answer(res, invalid);

    const index = scripted++;
    const reply = pickReply(script, request, index);
    if (!reply) {
      return answer(res, errorAnswer(500, 'server_error', `The scripted model's script ran out: it has ${index} answers, and request ${index + 1} was not expected.`));
    }
    if (reply.delayMs && !(await waitUnlessClosed(res, reply.delayMs))) return;
    answer(res, replyAnswer(reply, request, raw.length, index));
  }

  function answer(res: ServerResponse, reply: Answer): void {
    answered++;
    send(res, reply);
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}/v1`,
    requests,
    calls: () => answered,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        // Keep-alive sockets and delayed answers would hold close() open until they time out.
        server.closeAllConnections();
      }),
  };
}

function pickReply(script: Script, request: ChatRequest, index: number): ScriptedReply | undefined {
  return typeof script === 'function' ? script(request, index) : script[index];
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function parseJsonObject(raw: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(raw);
    return isRecord(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function toChatRequest(body: Record<string, unknown>, req: IncomingMessage): ChatRequest {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  const request: ChatRequest = {
    model: typeof body.model === 'string' ? body.model : '',
    messages: Array.isArray(body.messages) ? body.messages : [],
    headers,
  };
  if (Array.isArray(body.tools)) request.tools = body.tools;
  if (body.tool_choice !== undefined) request.tool_choice = body.tool_choice;
  return request;
}

/** OpenAI's answers for a missing key (code null) and a wrong one (`invalid_api_key`); the key is never echoed. */
function authorisationError(authorization: string | undefined, apiKey: string | undefined): Answer | undefined {
  if (apiKey === undefined) return undefined;
  const given = /^Bearer (.+)$/.exec(authorization ?? '')?.[1];
  if (given === undefined) {
    return errorAnswer(401, 'invalid_request_error', "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).");
  }
  if (given !== apiKey) return errorAnswer(401, 'invalid_request_error', 'Incorrect API key provided.', null, 'invalid_api_key');
  return undefined;
}

/** The checks that catch a planner that sends something OpenAI would refuse. */
function requestError(body: Record<string, unknown>, model: string | undefined): Answer | undefined {
  if (body.stream === true) {
    return errorAnswer(400, 'invalid_request_error', 'The scripted model does not stream: the planner calls generateText, so `stream: true` means the wrong call was made.', 'stream', 'unsupported_value');
  }
  if (typeof body.model !== 'string' || body.model === '') return errorAnswer(400, 'invalid_request_error', 'you must provide a model parameter', 'model');
  if (model !== undefined && body.model !== model) {
    return errorAnswer(404, 'invalid_request_error', `The model \`${body.model}\` does not exist or you do not have access to it.`, null, 'model_not_found');
  }
  if (!Array.isArray(body.messages)) {
    return errorAnswer(400, 'invalid_request_error', `Invalid type for 'messages': expected an array, but got ${typeof body.messages} instead.`, 'messages', 'invalid_type');
  }
  if (body.messages.length === 0) {
    return errorAnswer(400, 'invalid_request_error', "Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty array instead.", 'messages', 'empty_array');
  }
  return conversationError(body.messages);
}

/**
 * OpenAI's two pairing rules: every `tool` message answers a tool call issued earlier in the
 * conversation, and every tool call is answered before the conversation moves on.
 */
function conversationError(messages: unknown[]): Answer | undefined {
  const issued = new Set<string>();
  let unanswered: string[] = [];
  for (const [position, message] of messages.entries()) {
    const role = isRecord(message) ? message.role : undefined;
    if (role === 'tool' && isRecord(message)) {
      const id = message.tool_call_id;
      if (typeof id !== 'string' || !issued.has(id)) {
        if (issued.size === 0) {
          return errorAnswer(400, 'invalid_request_error', "Invalid parameter: messages with role 'tool' must be a response to a preceeding message with 'tool_calls'.", `messages.[${position}].role`);
        }
        return errorAnswer(400, 'invalid_request_error', `Invalid parameter: 'tool_call_id' of '${String(id)}' not found in 'tool_calls' of previous message.`, `messages.[${position}].tool_call_id`);
      }
      unanswered = unanswered.filter((pending) => pending !== id);
      continue;
    }
    if (unanswered.length > 0) return unansweredError(unanswered);
    if (role === 'assistant' && isRecord(message) && Array.isArray(message.tool_calls)) {
      for (const call of message.tool_calls) {
        if (isRecord(call) && typeof call.id === 'string') {
          issued.add(call.id);
          unanswered.push(call.id);
        }
      }
    }
  }
  return unanswered.length > 0 ? unansweredError(unanswered) : undefined;
}

function unansweredError(ids: string[]): Answer {
  return errorAnswer(
    400,
    'invalid_request_error',
    `An assistant message with 'tool_calls' must be followed by tool messages responding to each 'tool_call_id'. The following tool_call_ids did not have response messages: ${ids.join(', ')}`,
    'messages',
  );
}

function replyAnswer(reply: ScriptedReply, request: ChatRequest, requestSize: number, index: number): Answer {
  const headers = reply.headers ?? {};
  if (reply.raw !== undefined) {
    const body = typeof reply.raw === 'string' ? reply.raw : JSON.stringify(reply.raw);
    return { kind: 'body', status: reply.status ?? 200, body, headers };
  }
  if (reply.status !== undefined && reply.status >= 400) return scriptedError(reply.status, reply.text, headers);
  return { kind: 'body', status: reply.status ?? 200, body: JSON.stringify(completion(reply, request.model, requestSize, index)), headers };
}

/** OpenAI's type and code for the statuses a planner must handle; other statuses get the general pair. */
function scriptedError(status: number, text: string | undefined, headers: Record<string, string>): Answer {
  if (status === 429) {
    return withHeaders(errorAnswer(429, 'rate_limit_error', text ?? 'Rate limit reached for requests. Please try again in 1s.', null, 'rate_limit_exceeded'), headers);
  }
  if (status >= 500) return withHeaders(errorAnswer(status, 'server_error', text ?? 'The server is overloaded or not ready yet.'), headers);
  return withHeaders(errorAnswer(status, 'invalid_request_error', text ?? `Scripted error ${status}.`), headers);
}

function withHeaders(answer: Answer, headers: Record<string, string>): Answer {
  return { ...answer, headers };
}

/** A `chat.completion` object as in OpenAI's spec: `logprobs` and `refusal` are required, and null here. */
function completion(reply: ScriptedReply, model: string, requestSize: number, index: number) {
  const toolCalls = (reply.toolCalls ?? []).map((call, position) => ({
    id: `call_scripted_${index}_${position}`,
    type: 'function' as const,
    function: { name: call.name, arguments: JSON.stringify(call.args ?? {}) },
  }));
  const message = {
    role: 'assistant' as const,
    content: reply.text ?? (toolCalls.length > 0 ? null : ''),
    refusal: null,
    ...(toolCalls.length > 0 ? { tool_calls: toolCalls } : {}),
  };
  const prompt = reply.usage?.prompt ?? Math.max(1, Math.ceil(requestSize / 4));
  const completionTokens = reply.usage?.completion ?? Math.max(1, Math.ceil(JSON.stringify(message).length / 4));
  return {
    id: `chatcmpl-scripted-${index}`,
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model,
    choices: [{ index: 0, message, logprobs: null, finish_reason: toolCalls.length > 0 ? 'tool_calls' : 'stop' }],
    usage: { prompt_tokens: prompt, completion_tokens: completionTokens, total_tokens: prompt + completionTokens },
  };
}

function errorAnswer(status: number, type: string, message: string, param: string | null = null, code: string | null = null): Answer {
  return { kind: 'error', error: { status, message, type, param, code } };
}

function send(res: ServerResponse, reply: Answer): void {
  const status = reply.kind === 'error' ? reply.error.status : reply.status;
  const body = reply.kind === 'error' ? JSON.stringify({ error: { message: reply.error.message, type: reply.error.type, param: reply.error.param, code: reply.error.code } }) : reply.body;
  res.writeHead(status, { 'content-type': 'application/json', ...reply.headers });
  res.end(body);
}

/** Resolve true after `ms`, or false as soon as the client goes away (so an aborted call costs no answer). */
function waitUnlessClosed(res: ServerResponse, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      res.off('close', onClose);
      resolve(true);
    }, ms);
    function onClose(): void {
      clearTimeout(timer);
      resolve(false);
    }
    res.once('close', onClose);
  });
}
