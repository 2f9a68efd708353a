import type { OperatingMode } from '../../../src/api/contract.ts';

/** What each operating mode means, in the words the product uses (DESIGN.md). */
export const MODE_EXPLAINED: Record<OperatingMode, string> = {
  plan: 'deskhand diagnoses each request and writes its plan as a note on the ticket; a technician does the work. Nothing is changed.',
  execute: 'deskhand carries out its plan through the tools, asking for approval where a tool’s policy says so.',
};

/** The Plan / Execute choice, as a labelled radio group with each mode explained. */
export function OperatingModeChoice(props: { value: OperatingMode; onChange: (mode: OperatingMode) => void; legend: string; disabled?: boolean }) {
  return (
    <fieldset className="mode-choice" disabled={props.disabled}>
      <legend>{props.legend}</legend>
      {(['plan', 'execute'] as const).map((mode) => (
        <label key={mode} className="mode-option">
          <input type="radio" name="operating-mode" value={mode} checked={props.value === mode} onChange={() => props.onChange(mode)} />
          <span>
            <strong>{mode === 'plan' ? 'Plan' : 'Execute'}</strong>
            <span className="hint mode-hint">{MODE_EXPLAINED[mode]}</span>
          </span>
        </label>
      ))}
    </fieldset>
  );
}
