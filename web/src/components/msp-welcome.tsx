import { Link } from '@tanstack/react-router';
import { useState } from 'react';

/**
 * The note that greets the first admin after the setup: what to do next. Kept in the tab's session
 * storage so that a reload still shows it, until the admin hides it.
 */
const KEY = 'deskhand.welcome';

export function rememberWelcome(): void {
  sessionStorage.setItem(KEY, '1');
}

export function WelcomeNote() {
  const [shown, setShown] = useState(() => sessionStorage.getItem(KEY) === '1');
  if (!shown) return null;
  return (
    <section className="note note-ok welcome" aria-labelledby="welcome-title">
      <h2 id="welcome-title">Welcome: your MSP is set up</h2>
      <p>You are signed in as its first admin. Next:</p>
      <ol>
        <li>
          <Link to="/msp/integrations">Connect your PSA</Link> (ConnectWise, HaloPSA, Autotask) and press <em>Test connection</em>.
        </li>
        <li>Import your clients from the PSA's companies, then link each client's Microsoft 365 tenant.</li>
        <li>
          Map the PSA's <Link to="/msp/statuses">ticket statuses</Link>, and <Link to="/msp/users">invite your technicians</Link>.
        </li>
      </ol>
      <button
        type="button"
        className="button button-small"
        onClick={() => {
          sessionStorage.removeItem(KEY);
          setShown(false);
        }}
      >
        Hide this note
      </button>
    </section>
  );
}
