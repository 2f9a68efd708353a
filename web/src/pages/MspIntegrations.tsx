export function MspIntegrationsTab() {
  return <h2>Integrations</h2>;
}
