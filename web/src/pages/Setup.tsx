export function SetupPage() {
  return <main className="centered"><h1>Set up deskhand</h1></main>;
}
