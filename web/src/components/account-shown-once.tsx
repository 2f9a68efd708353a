import { useId, useRef, useState } from 'react';

/**
 * A secret the server hands out once (an invitation link, a personal API token): shown with a copy
 * button and the warning that it will not be shown again, since the server keeps only its hash.
 * Copying falls back to selecting the text where the clipboard is not available (plain http).
 */
export function ShownOnce(props: { label: string; value: string; warning: string; onDone: () => void }) {
  const id = useId();
  const text = useRef<HTMLTextAreaElement>(null);
  const [copied, setCopied] = useState<'copied' | 'select' | null>(null);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(props.value);
      setCopied('copied');
    } catch {
      text.current?.select();
      setCopied('select');
    }
  };
  return (
    <section className="shown-once" aria-label={`${props.label}, shown once`}>
      <p className="note note-warn">
        <strong>Shown once.</strong> {props.warning}
      </p>
      <label htmlFor={id} className="shown-once-label">
        {props.label}
      </label>
      <textarea id={id} ref={text} className="secret-once" readOnly rows={2} value={props.value} onFocus={(event) => event.currentTarget.select()} />
      <div className="form-actions">
        <button type="button" className="button button-primary" onClick={copy}>
          Copy
        </button>
        <button type="button" className="button" onClick={props.onDone}>
          Done, hide it
        </button>
        <span role="status" className="hint">
          {copied === 'copied' ? 'Copied to the clipboard.' : copied === 'select' ? 'Selected: press Ctrl+C (⌘C) to copy.' : ''}
        </span>
      </div>
    </section>
  );
}
