import { Link } from '@tanstack/react-router';
import type { ReactNode } from 'react';
import { errorMessage } from '../api.ts';

/**
 * The dashboard's small shared pieces. Pages compose these and plain elements styled by
 * styles.css (tables `.table`, buttons `.button`, forms `.field`): no component library.
 */

export function PageHeader(props: { title: string; subtitle?: ReactNode; actions?: ReactNode; back?: { to: string; label: string; params?: Record<string, string> } }) {
  return (
    <header className="page-header">
      {props.back ? (
        <Link className="back-link" to={props.back.to} params={props.back.params as never}>
          ← {props.back.label}
        </Link>
      ) : null}
      <div className="page-header-row">
        <div>
          <h1>{props.title}</h1>
          {props.subtitle ? <p className="subtitle">{props.subtitle}</p> : null}
        </div>
        {props.actions ? <div className="page-actions">{props.actions}</div> : null}
      </div>
    </header>
  );
}

/** Tabs as links (each tab is a URL: reload and share keep it). */
export function Tabs(props: { label: string; tabs: { to: string; label: string; params?: Record<string, string>; exact?: boolean }[] }) {
  return (
    <nav className="tabs" aria-label={props.label}>
      {props.tabs.map((tab) => (
        <Link key={tab.to} to={tab.to} params={tab.params as never} className="tab" activeProps={{ className: 'tab active', 'aria-current': 'page' }} activeOptions={{ exact: tab.exact ?? true }}>
          {tab.label}
        </Link>
      ))}
    </nav>
  );
}

/** An error explained, where the user looks: role=alert so a screen reader says it too. */
export function ErrorNote(props: { error: unknown; title?: string }) {
  if (!props.error) return null;
  return (
    <div className="note note-error" role="alert">
      {props.title ? <strong>{props.title}: </strong> : null}
      {errorMessage(props.error)}
    </div>
  );
}

export function SuccessNote(props: { children: ReactNode }) {
  return (
    <div className="note note-ok" role="status">
      {props.children}
    </div>
  );
}

/** What an empty list means and what to do about it. */
export function EmptyState(props: { title: string; children?: ReactNode }) {
  return (
    <div className="empty">
      <p className="empty-title">{props.title}</p>
      {props.children ? <div className="empty-body">{props.children}</div> : null}
    </div>
  );
}

export function Loading(props: { what?: string }) {
  return (
    <p className="loading" role="status">
      Loading{props.what ? ` ${props.what}` : ''}…
    </p>
  );
}

export function Badge(props: { tone?: 'neutral' | 'ok' | 'warn' | 'bad' | 'info'; children: ReactNode; title?: string }) {
  return (
    <span className={`badge badge-${props.tone ?? 'neutral'}`} title={props.title}>
      {props.children}
    </span>
  );
}

export function ModeBadge(props: { mode: 'plan' | 'execute'; inherited?: boolean }) {
  return (
    <Badge tone={props.mode === 'execute' ? 'info' : 'neutral'} title={props.inherited ? "inherited from the MSP's default" : undefined}>
      {props.mode === 'execute' ? 'Execute' : 'Plan'}
      {props.inherited ? ' (inherited)' : ''}
    </Badge>
  );
}

export function HealthBadge(props: { status: 'healthy' | 'unhealthy' | 'unknown' }) {
  const tone = props.status === 'healthy' ? 'ok' : props.status === 'unhealthy' ? 'bad' : 'neutral';
  const label = props.status === 'healthy' ? 'Healthy' : props.status === 'unhealthy' ? 'Failing' : 'Not checked';
  return <Badge tone={tone}>{label}</Badge>;
}

/** A labelled form field: the label names the control, the hint and the error are tied to it. */
export function Field(props: { id: string; label: string; hint?: ReactNode; error?: string | null; children: ReactNode }) {
  return (
    <div className="field">
      <label htmlFor={props.id}>{props.label}</label>
      {props.children}
      {props.hint ? (
        <p className="hint" id={`${props.id}-hint`}>
          {props.hint}
        </p>
      ) : null}
      {props.error ? (
        <p className="field-error" id={`${props.id}-error`} role="alert">
          {props.error}
        </p>
      ) : null}
    </div>
  );
}

export function formatTime(value: string | null | undefined): string {
  if (!value) return '—';
  const date = new Date(value);
  return date.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

export function NotFound() {
  return (
    <main className="centered">
      <h1>Not found</h1>
      <p>This page does not exist, or belongs to another MSP.</p>
      <p>
        <Link to="/clients">Back to the clients</Link>
      </p>
    </main>
  );
}
