export function SignInPage() {
  return <main className="centered"><h1>Sign in</h1></main>;
}
