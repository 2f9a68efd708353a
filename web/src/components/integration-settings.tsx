import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useEffect, useState } from 'react';
import type { IntegrationConfiguration, IntegrationConfigurationBody } from '../../../src/api/contract.ts';
import { api } from '../api.ts';
import { schemaOf, useIntegrationKinds } from './integration-kinds.ts';
import { cleanValues, SchemaFields, SecretFields, typedSecrets } from './schema-form.tsx';
import { ErrorNote, Field, Loading, SuccessNote } from './ui.tsx';

/**
 * An integration's settings as an admin edits them (GET/PUT /api/integrations/:id/configuration):
 * the form drawn from the system's schema, the secrets as "set" (Replace sends a new one; nothing
 * typed keeps the stored one), and the enabled switch.
 */
export function IntegrationSettings(props: { integrationId: string }) {
  const queryClient = useQueryClient();
  const path = `/api/integrations/${encodeURIComponent(props.integrationId)}/configuration`;
  const configuration = useQuery({ queryKey: ['integration-configuration', props.integrationId], queryFn: () => api.get<IntegrationConfiguration>(path) });
  const kinds = useIntegrationKinds();
  const [name, setName] = useState('');
  const [enabled, setEnabled] = useState(true);
  const [settings, setSettings] = useState<Record<string, unknown>>({});
  const [secrets, setSecrets] = useState<Record<string, string>>({});
  const [replacing, setReplacing] = useState<Set<string>>(new Set());
  const [saved, setSaved] = useState(false);

  const data = configuration.data;
  useEffect(() => {
    if (!data) return;
    setName(data.integration.name);
    setEnabled(data.integration.enabled);
    setSettings(data.settings);
    setSecrets({});
    setReplacing(new Set());
  }, [data]);

  const save = useMutation({
    mutationFn: (body: IntegrationConfigurationBody) => api.put<IntegrationConfiguration>(path, body),
    onMutate: () => setSaved(false),
    onSuccess: (answer) => {
      setSaved(true);
      queryClient.setQueryData(['integration-configuration', props.integrationId], answer);
      void queryClient.invalidateQueries({ queryKey: ['integrations'] });
    },
  });

  if (configuration.isPending || kinds.isPending) return <Loading what="the settings" />;
  if (configuration.error) return <ErrorNote error={configuration.error} title="The settings could not load" />;
  if (kinds.error) return <ErrorNote error={kinds.error} title="The systems could not load" />;
  const kind = kinds.data.kinds.find((k) => k.kind === configuration.data.integration.kind);
  if (!kind) return <ErrorNote error={new Error(`this deskhand no longer knows the system "${configuration.data.integration.kind}"`)} />;
  const settingsSchema = schemaOf(kind, 'settings');
  const prefix = `settings-${props.integrationId.slice(0, 8)}`;

  return (
    <section className="card" aria-labelledby="settings-heading">
      <h2 id="settings-heading">Settings</h2>
      <form
        onSubmit={(event) => {
          event.preventDefault();
          // The stored settings may carry keys the form does not draw (set by the system's setup): keep them.
          const drawn = cleanValues(settingsSchema, settings);
          const undrawn = Object.fromEntries(Object.entries(settings).filter(([key]) => !(key in (settingsSchema.properties ?? {}))));
          save.mutate({ name, enabled, settings: { ...undrawn, ...drawn }, secrets: typedSecrets(secrets) });
        }}
      >
        <Field id={`${prefix}-name`} label="Name" hint="How this connection is called in the dashboard and the audit log.">
          <input id={`${prefix}-name`} type="text" value={name} required onChange={(event) => setName(event.target.value)} />
        </Field>
        <div className="field">
          <label className="check-label" htmlFor={`${prefix}-enabled`}>
            <input id={`${prefix}-enabled`} type="checkbox" checked={enabled} onChange={(event) => setEnabled(event.target.checked)} />
            Enabled
          </label>
          <p className="hint">A disabled integration is kept with its settings, but the agent does not use it.</p>
        </div>
        <SchemaFields schema={settingsSchema} values={settings} onChange={setSettings} idPrefix={prefix} />
        <fieldset>
          <legend>Secrets</legend>
          <SecretFields
            schema={schemaOf(kind, 'secrets')}
            values={secrets}
            onChange={setSecrets}
            idPrefix={`${prefix}-secret`}
            set={configuration.data.secretsSet}
            replacing={replacing}
            onReplace={(secret, on) =>
              setReplacing((current) => {
                const next = new Set(current);
                if (on) next.add(secret);
                else next.delete(secret);
                return next;
              })
            }
          />
        </fieldset>
        <ErrorNote error={save.error} title="Not saved" />
        {saved && !save.isPending ? <SuccessNote>Saved. Run Test connection to check the new settings.</SuccessNote> : null}
        <div className="form-actions">
          <button type="submit" className="button button-primary" disabled={save.isPending}>
            {save.isPending ? 'Saving…' : 'Save settings'}
          </button>
        </div>
      </form>
    </section>
  );
}
