import fc from 'fast-check';

/**
 * Hostile input for the fuzz tests: text that has broken parsers and databases before, JSON of the
 * wrong shape or type, truncated and oversized bodies, odd encodings. Bodies built here for a route
 * are invalid by construction (each names what is wrong with it), so that a case answered 2xx is a
 * finding, not luck, and a valid request never changes the state the properties say stays put.
 */

// --- text --------------------------------------------------------------------------------------

/** Strings that have broken parsers, type coercions and databases before. */
export const NASTY_STRINGS: readonly string[] = [
  '',
  ' ',
  '\t\n',
  '\u0000',
  'a\u0000b',
  '%00',
  '%zz',
  '%',
  '\ud800',
  'x\udfffy',
  '\uffff',
  '\ufeff{}',
  '\u202eevil',
  'é',
  '😀',
  'Ω'.repeat(40),
  '../../../../etc/passwd',
  '..%2f..%2f',
  '<script>alert(1)</script>',
  '"><img src=x onerror=alert(1)>',
  "' OR '1'='1",
  "'; DROP TABLE requests; --",
  '$' + '{7*7}',
  '{{7*7}}',
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  'hasOwnProperty',
  'null',
  'undefined',
  'NaN',
  'Infinity',
  '-Infinity',
  'true',
  'false',
  '[]',
  '{}',
  '-1',
  '0',
  '-0',
  '00',
  '1e3',
  '1e309',
  '0x10',
  '1.5',
  '2147483647',
  '2147483648',
  '9007199254740993',
  '99999999999999999999',
  '9'.repeat(400),
  '0000-01-01T00:00:00Z',
  '9999-12-31T23:59:59.999Z',
  '2024-02-30T00:00:00Z',
  '1970-01-01T00:00:00Z',
  '2024-01-01T00:00:00+99:99',
  '00000000-0000-0000-0000-000000000000',
  'ffffffff-ffff-ffff-ffff-ffffffffffff',
  'FFFFFFFF-FFFF-4FFF-BFFF-FFFFFFFFFFFF',
  '00000000-0000-0000-0000-00000000000g',
  'approve',
  'APPROVE',
  ' approve',
  'approve\u0000',
  'deny ',
  'plan',
  'execute',
  'auto',
  'disabled',
  'pending',
  'all',
  'awaiting_approval',
  'msp_admin',
  '\r\nX-Injected: 1',
  'a'.repeat(301),
  'm365.reset_password',
  'connectwise.add_note',
];

export const nastyString = fc.constantFrom(...NASTY_STRINGS);

/** Any text, weighted towards the nasty: short random strings of any code point, ids, numbers, long runs. */
export const hostileText: fc.Arbitrary<string> = fc.oneof(
  { arbitrary: nastyString, weight: 6 },
  { arbitrary: fc.string({ unit: 'binary', maxLength: 24 }), weight: 3 },
  { arbitrary: fc.string({ maxLength: 24 }), weight: 2 },
  { arbitrary: fc.uuid(), weight: 2 },
  { arbitrary: fc.bigInt({ min: -(10n ** 30n), max: 10n ** 30n }).map(String), weight: 1 },
  // Long: past every field's limit, around Node's 16 KiB limit on a request's headers (the URL included).
  { arbitrary: fc.integer({ min: 2_001, max: 24_000 }).map((n) => 'A'.repeat(n)), weight: 1 },
);

// --- JSON --------------------------------------------------------------------------------------

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

const hostileKey: fc.Arbitrary<string> = fc.oneof(nastyString, fc.string({ maxLength: 12 }), fc.constantFrom('__proto__', 'constructor', 'prototype'));

const hostileNumber: fc.Arbitrary<number> = fc.oneof(
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.constantFrom(-0, 2_147_483_648, -2_147_483_649, Number.MAX_SAFE_INTEGER + 2, 1e300, 5e-324),
);

/** Any JSON value, nested a little, with hostile strings and keys. */
export const hostileJson: fc.Arbitrary<Json> = fc.letrec<{ value: Json }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    hostileText,
    hostileNumber,
    fc.boolean(),
    fc.constant(null),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(hostileKey, tie('value'), { maxKeys: 4 }),
  ),
})).value;

type JsonType = 'string' | 'number' | 'boolean' | 'null' | 'array' | 'object';

function typeOf(value: Json): JsonType {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value as JsonType;
}

const valueOfType: Record<JsonType, fc.Arbitrary<Json>> = {
  string: hostileText,
  number: hostileNumber,
  boolean: fc.boolean(),
  null: fc.constant(null),
  array: fc.array(hostileJson, { maxLength: 3 }),
  object: fc.dictionary(hostileKey, hostileJson, { maxKeys: 3 }),
};

/** A JSON value of none of these types. */
export function valueNotOf(types: readonly JsonType[]): fc.Arbitrary<Json> {
  const others = (Object.keys(valueOfType) as JsonType[]).filter((t) => !types.includes(t) && !(t === 'number' && types.includes('integer' as JsonType)));
  return fc.oneof(...others.map((t) => valueOfType[t]));
}

/** A JSON value of any type but the one `value` has. */
export function typeConfused(value: Json): fc.Arbitrary<Json> {
  return valueNotOf([typeOf(value)]);
}

// --- JSON Schema (the subset the OpenAPI document uses) -----------------------------------------

export interface JsonSchema {
  type?: string | string[];
  enum?: Json[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  nullable?: boolean;
  default?: Json;
  format?: string;
  pattern?: string;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
}

/** The JSON types a schema accepts (numbers as `number`). */
export function acceptedTypes(schema: JsonSchema): JsonType[] {
  const out = new Set<JsonType>();
  for (const type of [schema.type ?? []].flat()) out.add(type === 'integer' ? 'number' : (type as JsonType));
  for (const value of schema.enum ?? []) out.add(typeOf(value));
  for (const sub of [...(schema.anyOf ?? []), ...(schema.oneOf ?? [])]) for (const type of acceptedTypes(sub)) out.add(type);
  if (schema.nullable) out.add('null');
  if (out.size === 0) for (const type of Object.keys(valueOfType) as JsonType[]) out.add(type);
  return [...out];
}

/** A valid value for the schema where one is easy to make (enums, booleans, bounded strings), else undefined. */
export function exampleFor(schema: JsonSchema): Json | undefined {
  if (schema.enum && schema.enum.length > 0) return schema.enum[0]!;
  const type = [schema.type ?? []].flat()[0];
  if (type === 'boolean') return false;
  if (type === 'integer' || type === 'number') return schema.minimum ?? 0;
  if (type === 'string') {
    if (schema.pattern || schema.format) return undefined;
    return 'x'.repeat(Math.max(1, schema.minLength ?? 1));
  }
  if (type === 'object') {
    const out: Record<string, Json> = {};
    for (const [name, property] of Object.entries(schema.properties ?? {})) {
      const example = exampleFor(property);
      if (example !== undefined) out[name] = example;
    }
    return out;
  }
  return undefined;
}

/**
 * A value the property's schema refuses: another JSON type, a string outside its enum, or longer
 * than its maximum. Never one it accepts.
 */
export function violationOf(schema: JsonSchema): fc.Arbitrary<Json> {
  const options: fc.Arbitrary<Json>[] = [valueNotOf(acceptedTypes(schema))];
  const enumValues = schema.enum;
  if (enumValues && enumValues.every((v) => typeof v === 'string')) {
    options.push(hostileText.filter((text) => !enumValues.includes(text)));
  }
  if (typeof schema.maxLength === 'number') {
    options.push(fc.integer({ min: schema.maxLength + 1, max: schema.maxLength + 5_000 }).map((n) => 'z'.repeat(n)));
  }
  if (typeof schema.minLength === 'number' && schema.minLength > 0) options.push(fc.string({ maxLength: schema.minLength - 1 }));
  return fc.oneof(...options);
}

// --- bodies ------------------------------------------------------------------------------------

export interface HostileBody {
  /** What is wrong with it, for the tally. */
  kind: string;
  body: string | Buffer;
}

/** Noise that changes nothing about validity: unknown keys. */
const extraKeys = fc.dictionary(
  hostileKey.filter((key) => key !== '__proto__'),
  hostileJson,
  { maxKeys: 3 },
);

/**
 * A body that the object schema refuses, whatever else the route does with it: a declared property
 * of the wrong type or value, a required property missing, something that is not an object, not
 * JSON at all, truncated, nested deeper than any real body, or larger than the service accepts.
 */
export function hostileBodyFor(schema: JsonSchema): fc.Arbitrary<HostileBody> {
  const example = (exampleFor(schema) ?? {}) as Record<string, Json>;
  const properties = Object.entries(schema.properties ?? {});
  const required = schema.required ?? [];
  const exampleText = JSON.stringify(example);
  const json = (kind: string) => (value: Json) => ({ kind, body: JSON.stringify(value) });

  const arbitraries: fc.Arbitrary<HostileBody>[] = [];
  if (properties.length > 0) {
    // One declared property (or several) refused, the rest valid, plus unknown keys.
    arbitraries.push(
      fc
        .tuple(fc.subarray(properties, { minLength: 1 }), extraKeys)
        .chain(([broken, extra]) =>
          fc.tuple(...broken.map(([name, property]) => violationOf(property).map((value) => [name, value] as const))).map((pairs) => ({ ...extra, ...example, ...Object.fromEntries(pairs) })),
        )
        .map(json('type-confused')),
    );
  }
  if (required.length > 0) {
    arbitraries.push(
      fc.tuple(fc.constantFrom(...required), extraKeys).map(([missing, extra]) => {
        const out: Record<string, Json> = { ...extra, ...example };
        delete out[missing];
        return { kind: 'missing-required', body: JSON.stringify(out) };
      }),
      fc
        .dictionary(hostileKey, hostileJson, { maxKeys: 5 })
        .filter((object) => required.some((name) => !Object.hasOwn(object, name)))
        .map(json('random-object')),
      // Valid JSON objects that lack a required property, each aimed at a parser's weak spot.
      fc
        .constantFrom('{}', '{"a":"\\ud800"}', '{"__proto__":{"polluted":true}}', '{"constructor":{"prototype":{"polluted":true}}}', '{"a":1e999}', '{"a":-0}')
        .map((text) => ({ kind: 'odd-json', body: text })),
    );
  }
  arbitraries.push(
    hostileJson.filter((value) => typeOf(value) !== 'object').map(json('not-an-object')),
    fc.integer({ min: 0, max: Math.max(0, exampleText.length - 1) }).map((at) => ({ kind: 'truncated', body: exampleText.slice(0, at) })),
    fc
      .constantFrom(
        '{',
        '}',
        '{"',
        "{'a':1}",
        '{"a":1,}',
        '[1,]',
        'NaN',
        'undefined',
        '{"a":01}',
        '{"a":"\\x41"}',
        `${exampleText}x`,
        `${exampleText}${exampleText}`,
        `\ufeff${exampleText}}`,
        `${exampleText.slice(0, -1)}${exampleText.length > 2 ? ',' : ''}"__proto__":{"polluted":true}}`,
        // A duplicated key whose last value (an array) no declared property accepts: the last one is the one that counts.
        ...properties.map(([name]) => `${exampleText.slice(0, -1)}${exampleText.length > 2 ? ',' : ''}"${name}":[[]]}`),
      )
      .map((text) => ({ kind: 'malformed-json', body: text })),
    fc.tuple(fc.integer({ min: 500, max: 200_000 }), fc.boolean()).map(([depth, arrays]) => ({
      kind: 'deeply-nested',
      body: arrays ? `${'['.repeat(depth)}${']'.repeat(depth)}` : `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`,
    })),
  );
  const invalid = fc.oneof(...arbitraries);
  return fc.oneof(
    { arbitrary: invalid, weight: 12 },
    // Invalid UTF-8 spliced into a body that is refused anyway (so it cannot make one valid).
    {
      arbitrary: fc.tuple(invalid, fc.nat(), fc.constantFrom(Buffer.from([0xff]), Buffer.from([0xc0, 0x80]), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from([0xfe, 0xff]))).map(([b, at, bytes]) => {
        const raw = Buffer.from(b.body);
        const cut = raw.length === 0 ? 0 : at % raw.length;
        return { kind: `${b.kind}+invalid-utf8`, body: Buffer.concat([raw.subarray(0, cut), bytes, raw.subarray(cut)]) };
      }),
      weight: 1,
    },
    // Larger than any body the service accepts (1 MiB).
    { arbitrary: fc.integer({ min: 1024 * 1024 + 1, max: 1024 * 1024 + 300_000 }).map((n) => ({ kind: 'oversized', body: `{"x":"${'y'.repeat(n)}"}` })), weight: 1 },
  );
}

/** Content types a client may claim, most of them not what the route expects. */
export const contentType: fc.Arbitrary<string | undefined> = fc.oneof(
  { arbitrary: fc.constant('application/json'), weight: 8 },
  {
    arbitrary: fc.constantFrom(
      undefined,
      'application/json; charset=utf-8',
      'application/JSON',
      'application/json; charset=utf-16le',
      'application/json; charset=latin1',
      'text/plain',
      'text/plain; charset=utf-8',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=xyz',
      'application/xml',
      'application/octet-stream',
      '*/*',
      '',
      'application/json, text/plain',
      'application/vnd.api+json',
    ),
    weight: 4,
  },
);

// --- URLs --------------------------------------------------------------------------------------

/** A path segment: mostly hostile text, percent-encoded; sometimes raw broken encodings. */
export const hostileSegment: fc.Arbitrary<string> = fc.oneof(
  { arbitrary: hostileText.map((text) => encodeURIComponent(safeForUri(text))), weight: 6 },
  { arbitrary: fc.constantFrom('%zz', '%', '%0', '%00', 'a%00b', '%E0%A4%A', '%ED%A0%80', '%C0%AF', '%2e%2e', '..', '.', '%2F', '%252F', ';x=1', 'a%20b'), weight: 2 },
);

/** encodeURIComponent throws on a lone surrogate: keep it as the replacement character instead. */
function safeForUri(text: string): string {
  return text.replace(/[\ud800-\udfff]/g, (c, i: number, s: string) => {
    const code = c.charCodeAt(0);
    const next = s.charCodeAt(i + 1);
    const prev = s.charCodeAt(i - 1);
    if (code <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) return c;
    if (code >= 0xdc00 && prev >= 0xd800 && prev <= 0xdbff) return c;
    return '\ufffd';
  });
}

export function encodeText(text: string): string {
  return encodeURIComponent(safeForUri(text));
}

/** A query string: some of the declared names and some unknown ones, each with hostile values (repeated names too). */
export function hostileQuery(names: readonly string[]): fc.Arbitrary<string> {
  const name = names.length > 0 ? fc.oneof({ arbitrary: fc.constantFrom(...names), weight: 4 }, { arbitrary: hostileKey, weight: 1 }) : hostileKey;
  const pair = fc.tuple(name, fc.option(hostileText, { nil: undefined })).map(([n, v]) => (v === undefined ? encodeText(n) : `${encodeText(n)}=${encodeText(v)}`));
  return fc.oneof(
    { arbitrary: fc.array(pair, { minLength: 1, maxLength: 4 }).map((pairs) => `?${pairs.join('&')}`), weight: 6 },
    { arbitrary: fc.constantFrom('', '?', '?&&', '?=', '?=x', '?%zz=1', '?limit=%zz', '?a[b]=1', '?__proto__[x]=1', '?limit=1&limit=2', `?${'x='.repeat(3000)}`), weight: 1 },
  );
}
