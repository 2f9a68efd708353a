export function IntegrationPage() {
  return <h1>Integration</h1>;
}
