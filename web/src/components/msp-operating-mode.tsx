import { useId } from 'react';
import type { OperatingMode } from '../../../src/api/contract.ts';

/** What each operating mode means, in the words the product uses (DESIGN.md). */
export const MODE_EXPLAINED: Record<OperatingMode, string> = {
  plan: 'deskhand diagnoses each request and writes its plan as a note on the ticket; a technician does the work. Nothing is changed.',
  execute: 'deskhand carries out its plan through the tools, asking for approval where a tool’s policy says so.',
};

/** The Plan / Execute choice: a radio group, each mode named by its label and explained by its hint. */
export function OperatingModeChoice(props: { value: OperatingMode; onChange: (mode: OperatingMode) => void; legend: string; disabled?: boolean }) {
  const id = useId();
  return (
    <fieldset className="mode-choice" disabled={props.disabled}>
      <legend>{props.legend}</legend>
      {(['plan', 'execute'] as const).map((mode) => (
        <div key={mode} className="mode-option">
          <input
            id={`${id}-${mode}`}
            type="radio"
            name={`${id}-operating-mode`}
            value={mode}
            checked={props.value === mode}
            aria-describedby={`${id}-${mode}-hint`}
            onChange={() => props.onChange(mode)}
          />
          <label htmlFor={`${id}-${mode}`}>{mode === 'plan' ? 'Plan' : 'Execute'}</label>
          <p className="hint mode-hint" id={`${id}-${mode}-hint`}>
            {MODE_EXPLAINED[mode]}
          </p>
        </div>
      ))}
    </fieldset>
  );
}
