import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { type FormEvent, useEffect, useState } from 'react';
import type { PLANNER_PROMPT_MAX, PlannerPrompt, PlannerPromptBody } from '../../../src/api/contract.ts';
import { api } from '../api.ts';
import { ErrorNote, formatTime, Loading, SuccessNote } from './ui.tsx';

/**
 * A planner prompt (issue 14): what the MSP, or one client, tells a language-model planner in its
 * own words. The same card on the MSP's Planner tab and on a client's: admins edit it, technicians
 * read it. The explanation says where it sits and what it can never do, because an admin who
 * believes a prompt can lift a policy would write one that tries.
 */

/** The API's bound (contract.ts); typed by it, so a change there fails the build here. Importing the value would bring Zod into the dashboard. */
const PROMPT_MAX: typeof PLANNER_PROMPT_MAX = 8000;

export function plannerPromptKey(path: string) {
  return ['planner-prompt', path] as const;
}

export function PlannerPromptCard(props: { path: string; whose: 'msp' | 'client'; name: string; admin: boolean }) {
  const prompt = useQuery({ queryKey: plannerPromptKey(props.path), queryFn: () => api.get<PlannerPrompt>(props.path) });
  const headingId = `planner-prompt-${props.whose}-title`;
  return (
    <section className="card" aria-labelledby={headingId}>
      <h2 id={headingId}>{props.whose === 'msp' ? "The MSP's planner prompt" : `${props.name}'s planner prompt`}</h2>
      <PromptExplainer whose={props.whose} />
      {prompt.isPending ? (
        <Loading what="the prompt" />
      ) : prompt.error ? (
        <ErrorNote error={prompt.error} title="The prompt could not load" />
      ) : props.admin ? (
        <PromptForm path={props.path} whose={props.whose} saved={prompt.data} />
      ) : (
        <PromptRead saved={prompt.data} />
      )}
    </section>
  );
}

function PromptExplainer(props: { whose: 'msp' | 'client' }) {
  return (
    <p className="hint prompt-explainer">
      {props.whose === 'msp'
        ? "Read by a language-model planner after deskhand's own rules and before a client's prompt; it applies to every client."
        : "Read by a language-model planner after deskhand's own rules and the MSP's prompt; it applies to this client's requests only."}{' '}
      The built-in planner does not read it. A prompt can never add a tool or change a policy: the tool policies and approvals still decide what runs.
    </p>
  );
}

function LastChange(props: { saved: PlannerPrompt }) {
  if (!props.saved.updatedAt) return <p className="muted small">Never changed.</p>;
  return (
    <p className="muted small">
      Last changed {formatTime(props.saved.updatedAt)}
      {props.saved.updatedBy ? ` by ${props.saved.updatedBy.replace(/^user:/, '')}` : ''}.
    </p>
  );
}

function PromptRead(props: { saved: PlannerPrompt }) {
  return (
    <>
      {props.saved.prompt ? <div className="note-text prompt-text">{props.saved.prompt}</div> : <p className="muted">No prompt.</p>}
      <LastChange saved={props.saved} />
      <p className="hint">Only an admin changes it.</p>
    </>
  );
}

function PromptForm(props: { path: string; whose: 'msp' | 'client'; saved: PlannerPrompt }) {
  const queryClient = useQueryClient();
  const savedText = props.saved.prompt ?? '';
  const [text, setText] = useState(savedText);
  // A reload of the prompt (another admin, another tab) resets the form to what is saved.
  useEffect(() => setText(savedText), [savedText]);
  const save = useMutation({
    mutationFn: (body: PlannerPromptBody) => api.put<PlannerPrompt>(props.path, body),
    onSuccess: (answer) => queryClient.setQueryData(plannerPromptKey(props.path), answer),
  });
  const id = `planner-prompt-${props.whose}`;
  const tooLong = text.length > PROMPT_MAX;
  const changed = text !== savedText;
  const submit = (event: FormEvent) => {
    event.preventDefault();
    // An empty prompt is no prompt: the API stores null.
    save.mutate({ prompt: text.trim() === '' ? null : text });
  };
  return (
    <form onSubmit={submit} noValidate>
      <div className="field">
        <label htmlFor={id}>Prompt</label>
        <textarea id={id} className="prompt-input" value={text} maxLength={PROMPT_MAX} aria-describedby={`${id}-count`} onChange={(event) => setText(event.target.value)} />
        <p className={tooLong ? 'field-error' : 'hint'} id={`${id}-count`} aria-live="polite">
          {text.length} of {PROMPT_MAX} characters
        </p>
      </div>
      <LastChange saved={props.saved} />
      <ErrorNote error={save.error} title="Not saved" />
      {save.isSuccess && !changed ? <SuccessNote>Saved.</SuccessNote> : null}
      <div className="form-actions">
        <button type="submit" className="button button-primary" disabled={!changed || tooLong || save.isPending}>
          {save.isPending ? 'Saving…' : 'Save prompt'}
        </button>
        {changed ? (
          <button type="button" className="button" onClick={() => setText(savedText)}>
            Undo changes
          </button>
        ) : null}
      </div>
    </form>
  );
}
