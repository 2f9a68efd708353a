import type { ReactNode } from 'react';

/**
 * A form built from an integration module's JSON Schema (GET /api/integration-kinds): each system
 * declares its settings and secrets once, as Zod, and the dashboard draws what it is given instead
 * of a hand-written form per system. Covers what the modules use: strings (URL-like names get a
 * URL input), numbers, booleans, enums, arrays of strings (one a line), nested objects (a fieldset).
 * Secrets are password inputs that never show a value: an already-set secret says so and offers
 * Replace; left alone, it keeps its value.
 */

export interface JsonSchema {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  description?: string;
  title?: string;
  enum?: unknown[];
  const?: unknown;
  format?: string;
  default?: unknown;
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
}

/** The schema with a nullable/optional union unwrapped to its one real branch. */
function unwrap(schema: JsonSchema): JsonSchema {
  const union = schema.anyOf ?? schema.oneOf;
  if (union) {
    const real = union.filter((branch) => branch.type !== 'null');
    if (real.length === 1 && real[0]) return { ...real[0], description: schema.description ?? real[0].description, default: schema.default ?? real[0].default };
    const constants = real.filter((branch) => branch.const !== undefined);
    if (constants.length === real.length) return { ...schema, type: 'string', enum: constants.map((branch) => branch.const) };
  }
  return schema;
}

function typeOf(schema: JsonSchema): string {
  const type = Array.isArray(schema.type) ? schema.type.find((t) => t !== 'null') : schema.type;
  if (schema.enum) return 'enum';
  return type ?? (schema.properties ? 'object' : 'string');
}

/** "siteUrl" → "Site URL", "apiMemberIdentifier" → "API member identifier". */
export function humanize(name: string): string {
  const words = name
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .replace(/[_-]+/g, ' ')
    .split(' ')
    .filter(Boolean)
    .map((word) => (/^(url|api|id|ssl|tls|smtp|oauth|uri)$/i.test(word) ? word.toUpperCase() : word.toLowerCase()));
  const text = words.join(' ');
  return text.charAt(0).toUpperCase() + text.slice(1);
}

const isUrlName = (name: string) => /(url|uri|endpoint|baseurl)$/i.test(name);

/** The starting values of a form: each property's default, nested objects filled in. */
export function initialValues(schema: JsonSchema): Record<string, unknown> {
  const values: Record<string, unknown> = {};
  for (const [name, raw] of Object.entries(schema.properties ?? {})) {
    const property = unwrap(raw);
    if (typeOf(property) === 'object') values[name] = initialValues(property);
    else if (property.default !== undefined) values[name] = property.default;
  }
  return values;
}

/**
 * The values as the API wants them: empty strings and empty lists dropped (an optional field left
 * empty is absent, not ""), numbers parsed; a required field left empty stays out and the API names it.
 */
export function cleanValues(schema: JsonSchema, values: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, raw] of Object.entries(schema.properties ?? {})) {
    const property = unwrap(raw);
    const value = values[name];
    const type = typeOf(property);
    if (type === 'object') {
      const nested = cleanValues(property, (value as Record<string, unknown> | undefined) ?? {});
      if (Object.keys(nested).length > 0) out[name] = nested;
    } else if (type === 'number' || type === 'integer') {
      if (value !== '' && value !== undefined && value !== null) out[name] = Number(value);
    } else if (type === 'array') {
      const list = Array.isArray(value) ? value : typeof value === 'string' ? value.split('\n') : [];
      const items = list.map((item) => String(item).trim()).filter(Boolean);
      if (items.length > 0) out[name] = items;
    } else if (type === 'boolean') {
      if (typeof value === 'boolean') out[name] = value;
    } else if (typeof value === 'string') {
      if (value.trim() !== '') out[name] = value.trim();
    } else if (value !== undefined && value !== null) {
      out[name] = value;
    }
  }
  return out;
}

export function SchemaFields(props: {
  schema: JsonSchema;
  values: Record<string, unknown>;
  onChange: (values: Record<string, unknown>) => void;
  /** Prefix for element ids, unique on the page. */
  idPrefix: string;
  disabled?: boolean;
}): ReactNode {
  const required = new Set(props.schema.required ?? []);
  const entries = Object.entries(props.schema.properties ?? {});
  if (entries.length === 0) return <p className="hint">Nothing to fill in.</p>;
  return entries.map(([name, raw]) => {
    const property = unwrap(raw);
    const id = `${props.idPrefix}-${name}`;
    const label = property.title ?? humanize(name);
    const value = props.values[name];
    const set = (next: unknown) => props.onChange({ ...props.values, [name]: next });
    const type = typeOf(property);
    const isRequired = required.has(name);
    const hint = property.description;
    const describedBy = hint ? `${id}-hint` : undefined;
    if (type === 'object') {
      return (
        <fieldset key={name} className="schema-fieldset">
          <legend>{label}</legend>
          {hint ? <p className="hint">{hint}</p> : null}
          <SchemaFields schema={property} values={(value as Record<string, unknown> | undefined) ?? {}} onChange={set} idPrefix={id} disabled={props.disabled} />
        </fieldset>
      );
    }
    if (type === 'boolean') {
      return (
        <div key={name} className="field schema-check">
          <label htmlFor={id} className="check-label">
            <input id={id} type="checkbox" checked={value === true} disabled={props.disabled} aria-describedby={describedBy} onChange={(event) => set(event.target.checked)} />
            {label}
          </label>
          {hint ? (
            <p className="hint" id={`${id}-hint`}>
              {hint}
            </p>
          ) : null}
        </div>
      );
    }
    return (
      <SchemaField key={name} id={id} label={label} required={isRequired} hint={hint}>
        {type === 'enum' ? (
          <select id={id} value={value === undefined ? '' : String(value)} required={isRequired} disabled={props.disabled} aria-describedby={describedBy} onChange={(event) => set(event.target.value === '' ? undefined : event.target.value)}>
            {isRequired && value !== undefined ? null : <option value="">—</option>}
            {(property.enum ?? []).map((option) => (
              <option key={String(option)} value={String(option)}>
                {String(option)}
              </option>
            ))}
          </select>
        ) : type === 'array' ? (
          <textarea id={id} rows={3} value={Array.isArray(value) ? value.join('\n') : typeof value === 'string' ? value : ''} disabled={props.disabled} aria-describedby={describedBy} onChange={(event) => set(event.target.value.split('\n'))} />
        ) : (
          <input
            id={id}
            type={type === 'number' || type === 'integer' ? 'number' : property.format === 'uri' || property.format === 'url' || isUrlName(name) ? 'url' : property.format === 'email' ? 'email' : 'text'}
            value={value === undefined || value === null ? '' : String(value)}
            required={isRequired}
            disabled={props.disabled}
            aria-describedby={describedBy}
            autoComplete="off"
            spellCheck={false}
            onChange={(event) => set(event.target.value)}
          />
        )}
      </SchemaField>
    );
  });
}

function SchemaField(props: { id: string; label: string; required: boolean; hint?: string | undefined; children: ReactNode }) {
  return (
    <div className="field">
      <label htmlFor={props.id}>
        {props.label}
        {props.required ? (
          <span className="required" aria-hidden="true">
            {' '}
            *
          </span>
        ) : (
          <span className="optional"> (optional)</span>
        )}
      </label>
      {props.children}
      {props.hint ? (
        <p className="hint" id={`${props.id}-hint`}>
          {props.hint}
        </p>
      ) : null}
    </div>
  );
}

/**
 * The secrets of a form: write-only password inputs. `set` names the secrets already stored (shown
 * as "set" with Replace); `values` holds only what the user typed, so what is sent is exactly that.
 */
export function SecretFields(props: {
  schema: JsonSchema;
  values: Record<string, string>;
  onChange: (values: Record<string, string>) => void;
  idPrefix: string;
  set?: readonly string[];
  disabled?: boolean;
  replacing?: ReadonlySet<string>;
  onReplace?: (name: string, replacing: boolean) => void;
}): ReactNode {
  const required = new Set(props.schema.required ?? []);
  const entries = Object.entries(props.schema.properties ?? {});
  if (entries.length === 0) return <p className="hint">This system needs no secret.</p>;
  return entries.map(([name, raw]) => {
    const property = unwrap(raw);
    const id = `${props.idPrefix}-${name}`;
    const label = property.title ?? humanize(name);
    const isSet = props.set?.includes(name) ?? false;
    const replacing = props.replacing?.has(name) ?? false;
    if (isSet && !replacing) {
      return (
        <div key={name} className="field">
          <span className="field-label" id={`${id}-label`}>
            {label}
          </span>
          <div className="secret-set">
            <span className="badge badge-ok">Set</span>
            <span className="hint">stored encrypted, never shown</span>
            <button type="button" className="button" aria-label={`Replace ${label}`} disabled={props.disabled} onClick={() => props.onReplace?.(name, true)}>
              Replace
            </button>
          </div>
          {property.description ? <p className="hint">{property.description}</p> : null}
        </div>
      );
    }
    return (
      <SchemaField key={name} id={id} label={label} required={required.has(name) && !isSet} hint={property.description}>
        <div className="secret-input">
          <input
            id={id}
            type="password"
            autoComplete="new-password"
            value={props.values[name] ?? ''}
            required={required.has(name) && !isSet}
            disabled={props.disabled}
            aria-describedby={property.description ? `${id}-hint` : undefined}
            onChange={(event) => props.onChange({ ...props.values, [name]: event.target.value })}
          />
          {isSet ? (
            <button
              type="button"
              className="button"
              onClick={() => {
                const { [name]: _dropped, ...rest } = props.values;
                props.onChange(rest);
                props.onReplace?.(name, false);
              }}
            >
              Keep the stored one
            </button>
          ) : null}
        </div>
      </SchemaField>
    );
  });
}

/** Only the secrets actually typed: an empty input sends nothing (the stored value stays). */
export function typedSecrets(values: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(values).filter(([, value]) => value.length > 0));
}
