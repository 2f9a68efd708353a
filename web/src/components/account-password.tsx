import { useQueryClient } from '@tanstack/react-query';
import { useRouter } from '@tanstack/react-router';
import type { SignedIn } from '../../../src/api/contract.ts';
import { setCsrfToken } from '../api.ts';
import { Field } from './ui.tsx';

/** The server's rule (contract.ts `Password`), checked here too so the form explains it before sending. */
export const PASSWORD_MIN = 12;

/** What is wrong with a new password and its confirmation, or null when they will do. */
export function newPasswordProblem(password: string, confirm: string): { field: 'password' | 'confirm'; message: string } | null {
  if (password.length < PASSWORD_MIN) return { field: 'password', message: `Use at least ${PASSWORD_MIN} characters (a few words make a good one).` };
  if (password !== confirm) return { field: 'confirm', message: 'The two passwords differ: type the same password twice.' };
  return null;
}

/** A new password and its confirmation, labelled, with the browser's password manager in mind. */
export function NewPasswordFields(props: {
  password: string;
  confirm: string;
  onPassword: (value: string) => void;
  onConfirm: (value: string) => void;
  problem: ReturnType<typeof newPasswordProblem>;
  showProblem: boolean;
}) {
  const problem = props.showProblem ? props.problem : null;
  return (
    <>
      <Field id="new-password" label="Password" hint={`At least ${PASSWORD_MIN} characters.`} error={problem?.field === 'password' ? problem.message : null}>
        <input
          id="new-password"
          type="password"
          autoComplete="new-password"
          required
          minLength={PASSWORD_MIN}
          value={props.password}
          aria-describedby="new-password-hint"
          aria-invalid={problem?.field === 'password' || undefined}
          onChange={(event) => props.onPassword(event.target.value)}
        />
      </Field>
      <Field id="confirm-password" label="Confirm the password" error={problem?.field === 'confirm' ? problem.message : null}>
        <input
          id="confirm-password"
          type="password"
          autoComplete="new-password"
          required
          value={props.confirm}
          aria-invalid={problem?.field === 'confirm' || undefined}
          onChange={(event) => props.onConfirm(event.target.value)}
        />
      </Field>
    </>
  );
}

/** The token of a link's fragment (#token=…): never sent to the server by the browser, so never in its logs. */
export function fragmentToken(): string | null {
  const token = new URLSearchParams(window.location.hash.replace(/^#/, '')).get('token');
  return token && token.length > 0 ? token : null;
}

/** After a sign-in of any kind: keep the session's CSRF token, forget the last user's data, go on. */
export function useSignedIn() {
  const queryClient = useQueryClient();
  const router = useRouter();
  return async (answer: SignedIn, to: string) => {
    setCsrfToken(answer.csrfToken);
    queryClient.clear();
    router.history.push(to);
  };
}
