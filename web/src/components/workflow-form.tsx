import { useMutation, useQueries, useQuery, useQueryClient } from '@tanstack/react-query';
import { useNavigate } from '@tanstack/react-router';
import { type FormEvent, useState } from 'react';
import type { ClientList, IntegrationList, ToolPolicyList, Workflow, WorkflowCreateBody, WorkflowPatchBody, WorkflowStatus, WorkflowStep } from '../../../src/api/contract.ts';
import { api } from '../api.ts';
import { ErrorNote, Field, SuccessNote } from './ui.tsx';
import { argumentNames, TOOL_ARGUMENTS, templatesFor } from './workflow-tools.ts';

/**
 * A workflow's form, to create one or change one: name, scope (MSP-wide or one client's; fixed
 * once created, as the API has it), trigger sentence, instructions, status and optional steps.
 * The API checks everything on save; its refusal is shown beside the form as it says it, since it
 * names the step and argument that are wrong.
 */

export const STATUS_LABEL: Record<WorkflowStatus, string> = { active: 'Active', draft: 'Draft', archived: 'Archived' };

export const workflowsKey = ['workflows'] as const;

export function useClients() {
  return useQuery({ queryKey: ['clients'], queryFn: () => api.get<ClientList>('/api/clients') });
}

/**
 * The write tools a step may name: those of the MSP's integrations' policy tables (the API has no
 * list of the catalog by itself), plus any a workflow already names.
 */
function useWriteTools(named: readonly string[]): string[] {
  const integrations = useQuery({ queryKey: ['integrations'], queryFn: () => api.get<IntegrationList>('/api/integrations') });
  const policies = useQueries({
    queries: (integrations.data?.integrations ?? []).map((integration) => ({
      queryKey: ['policies', 'integration', integration.id],
      queryFn: () => api.get<ToolPolicyList>(`/api/integrations/${encodeURIComponent(integration.id)}/policies`),
    })),
  });
  const tools = new Set(named);
  for (const answer of policies) for (const tool of answer.data?.tools ?? []) if (tool.kind === 'write') tools.add(tool.tool);
  return [...tools].sort();
}

type Draft = { name: string; clientId: string; trigger: string; instructions: string; status: WorkflowStatus; steps: WorkflowStep[] };

const fromWorkflow = (workflow: Workflow | undefined): Draft => ({
  name: workflow?.name ?? '',
  clientId: workflow?.client?.id ?? '',
  trigger: workflow?.trigger ?? '',
  instructions: workflow?.instructions ?? '',
  status: workflow?.status ?? 'active',
  steps: workflow?.steps.map((step) => ({ tool: step.tool, args: { ...step.args } })) ?? [],
});

/** Only the arguments the tool takes, each with its value (an empty one is sent, so the API says it is missing). */
function stepsToSave(steps: readonly WorkflowStep[]): WorkflowStep[] {
  return steps.map((step) => ({ tool: step.tool, args: Object.fromEntries(argumentNames(step.tool, step.args).map((name) => [name, step.args[name] ?? ''])) }));
}

export function WorkflowForm(props: { workflow?: Workflow }) {
  const { workflow } = props;
  const queryClient = useQueryClient();
  const navigate = useNavigate();
  const clients = useClients();
  const [draft, setDraft] = useState<Draft>(() => fromWorkflow(workflow));
  const tools = useWriteTools(draft.steps.map((step) => step.tool));
  const set = (patch: Partial<Draft>) => setDraft((current) => ({ ...current, ...patch }));
  const save = useMutation({
    mutationFn: async (): Promise<Workflow> => {
      const common = { name: draft.name, trigger: draft.trigger, instructions: draft.instructions, status: draft.status, steps: stepsToSave(draft.steps) };
      if (workflow) return api.patch<Workflow>(`/api/workflows/${encodeURIComponent(workflow.id)}`, common satisfies WorkflowPatchBody);
      return api.post<Workflow>('/api/workflows', { ...common, clientId: draft.clientId === '' ? null : draft.clientId } satisfies WorkflowCreateBody);
    },
    onSuccess: async (saved) => {
      queryClient.setQueryData(['workflow', saved.id], saved);
      await queryClient.invalidateQueries({ queryKey: workflowsKey });
      if (!workflow) await navigate({ to: '/workflows/$workflowId', params: { workflowId: saved.id } });
    },
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    save.mutate();
  };
  return (
    <form className="card workflow-form" onSubmit={submit} noValidate aria-labelledby="workflow-form-title">
      <h2 id="workflow-form-title">{workflow ? 'Change the workflow' : 'New workflow'}</h2>
      <Field id="workflow-name" label="Name">
        <input id="workflow-name" type="text" required maxLength={200} value={draft.name} onChange={(event) => set({ name: event.target.value })} />
      </Field>
      <Field id="workflow-scope" label="Scope" hint={workflow ? 'A workflow keeps its scope; create another for another client.' : "MSP-wide workflows apply to every client; a client's own are given to the planner first."}>
        <select id="workflow-scope" value={draft.clientId} disabled={workflow !== undefined} aria-describedby="workflow-scope-hint" onChange={(event) => set({ clientId: event.target.value })}>
          <option value="">MSP-wide</option>
          {workflow?.client && !clients.data ? <option value={workflow.client.id}>{workflow.client.name}</option> : null}
          {(clients.data?.clients ?? []).map((client) => (
            <option key={client.id} value={client.id}>
              {client.name}
            </option>
          ))}
        </select>
      </Field>
      <Field id="workflow-trigger" label="Trigger" hint="A sentence that says which requests this is for, e.g. “a new starter joins the company”. Requests that share its meaningful words match.">
        <input id="workflow-trigger" type="text" required maxLength={1000} aria-describedby="workflow-trigger-hint" value={draft.trigger} onChange={(event) => set({ trigger: event.target.value })} />
      </Field>
      <Field id="workflow-instructions" label="Instructions" hint="What to do, in your words: a language-model planner reads them; they never add a tool or change a policy.">
        <textarea id="workflow-instructions" maxLength={8000} aria-describedby="workflow-instructions-hint" value={draft.instructions} onChange={(event) => set({ instructions: event.target.value })} />
      </Field>
      <Field id="workflow-status" label="Status" hint="Draft: written, not used yet. Archived: no longer used (kept, since requests' stories name it).">
        <select id="workflow-status" value={draft.status} aria-describedby="workflow-status-hint" onChange={(event) => set({ status: event.target.value as WorkflowStatus })}>
          {(Object.keys(STATUS_LABEL) as WorkflowStatus[]).map((status) => (
            <option key={status} value={status}>
              {STATUS_LABEL[status]}
            </option>
          ))}
        </select>
      </Field>
      <StepsEditor steps={draft.steps} tools={tools} onChange={(steps) => set({ steps })} />
      <ErrorNote error={save.error} title="Not saved" />
      {save.isSuccess && workflow ? <SuccessNote>Saved.</SuccessNote> : null}
      <div className="form-actions">
        <button type="submit" className="button button-primary" disabled={save.isPending}>
          {save.isPending ? 'Saving…' : workflow ? 'Save workflow' : 'Create workflow'}
        </button>
      </div>
    </form>
  );
}

/** Optional steps: each a write tool and its arguments, each argument a literal or a template. */
function StepsEditor(props: { steps: WorkflowStep[]; tools: string[]; onChange: (steps: WorkflowStep[]) => void }) {
  const { steps, onChange } = props;
  const replace = (index: number, step: WorkflowStep) => onChange(steps.map((current, i) => (i === index ? step : current)));
  return (
    <fieldset className="workflow-steps">
      <legend>Steps (optional)</legend>
      <p className="hint">
        The changes to make, in order. Each argument is a literal value or a template the planner fills from the request. The tools' policies still decide whether a step runs on its own or waits for an approval.
      </p>
      {steps.length === 0 ? <p className="muted small">No step: the planner follows the instructions.</p> : null}
      <ol className="step-rows">
        {steps.map((step, index) => (
          // biome-ignore lint/suspicious/noArrayIndexKey: steps are numbered by position, as the API has them
          <li key={index} className="step-row">
            <StepRow index={index} step={step} tools={props.tools} onChange={(changed) => replace(index, changed)} onRemove={() => onChange(steps.filter((_, i) => i !== index))} />
          </li>
        ))}
      </ol>
      <button type="button" className="button button-small" disabled={steps.length >= 20 || props.tools.length === 0} onClick={() => onChange([...steps, { tool: props.tools[0] ?? '', args: {} }])}>
        Add a step
      </button>
      {props.tools.length === 0 ? <p className="hint">No write tool yet: connect a system that changes things (Microsoft 365) to give a workflow steps.</p> : null}
    </fieldset>
  );
}

function StepRow(props: { index: number; step: WorkflowStep; tools: string[]; onChange: (step: WorkflowStep) => void; onRemove: () => void }) {
  const { step, index } = props;
  const prefix = `step-${index + 1}`;
  const names = argumentNames(step.tool, step.args);
  const kinds = TOOL_ARGUMENTS[step.tool] ?? {};
  const setArg = (name: string, value: string) => props.onChange({ tool: step.tool, args: { ...step.args, [name]: value } });
  return (
    <div className="step-editor">
      <div className="step-head">
        <Field id={`${prefix}-tool`} label={`Step ${index + 1}: tool`}>
          <select id={`${prefix}-tool`} value={step.tool} onChange={(event) => props.onChange({ tool: event.target.value, args: {} })}>
            {props.tools.map((tool) => (
              <option key={tool} value={tool}>
                {tool}
              </option>
            ))}
          </select>
        </Field>
        <button type="button" className="button button-small button-danger" onClick={props.onRemove} aria-label={`Remove step ${index + 1}`}>
          Remove
        </button>
      </div>
      {names.length === 0 ? <p className="muted small">The dashboard does not know this tool's arguments; save, and the API lists them.</p> : null}
      {names.map((name) => {
        const id = `${prefix}-arg-${name}`;
        const value = step.args[name] ?? '';
        const templates = templatesFor(kinds[name]);
        return (
          <div key={name} className="step-arg">
            <Field id={id} label={`Step ${index + 1}: ${name}`}>
              <input id={id} type="text" maxLength={500} value={value} onChange={(event) => setArg(name, event.target.value)} />
            </Field>
            <Field id={`${id}-template`} label={`Step ${index + 1}: template for ${name}`}>
              <select id={`${id}-template`} value={templates.includes(value) ? value : ''} onChange={(event) => setArg(name, event.target.value)}>
                <option value="">A literal value</option>
                {templates.map((template) => (
                  <option key={template} value={template}>
                    {template}
                  </option>
                ))}
              </select>
            </Field>
          </div>
        );
      })}
    </div>
  );
}
