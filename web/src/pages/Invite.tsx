export function InvitePage() {
  return <main className="centered"><h1>Accept the invitation</h1></main>;
}
