/**
 * What the first-run page (GET /api/setup) says about the demo world: its users and their password,
 * when the demo world is loaded (null password and no users otherwise).
 */
export interface HomeInfo {
  demoPassword: string | null;
  demoUsers: { email: string; role: 'msp_admin' | 'msp_technician' | 'msp_billing'; msp: string }[];
}
