/**
 * The write tools the built-in planner proposes. The names are the catalog's contract (TOOLS.md);
 * the definitions live with the Microsoft 365 integration, the planner only needs to name them.
 */
export const M365 = {
  addToGroup: 'm365.add_user_to_group',
  removeFromGroup: 'm365.remove_user_from_group',
  resetPassword: 'm365.reset_password',
  revokeSessions: 'm365.revoke_sessions',
  resetMfa: 'm365.reset_mfa',
  assignLicense: 'm365.assign_license',
  removeLicense: 'm365.remove_license',
  disableAccount: 'm365.disable_account',
  enableAccount: 'm365.enable_account',
} as const;

export type M365WriteTool = (typeof M365)[keyof typeof M365];
