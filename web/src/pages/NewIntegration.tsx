export function NewIntegrationPage() {
  return <h1>Connect a system</h1>;
}
