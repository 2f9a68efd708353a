/**
 * The phases a request moves its ticket through, each mapped per board (a PSA's queue) to one of
 * the board's statuses by the MSP: `waiting` while an approval is pending, `in_progress` while the
 * plan runs, `resolved` once the employee has the reply. A phase or board without a mapping leaves
 * the ticket's status alone.
 */
export const TICKET_PHASES = ['waiting', 'in_progress', 'resolved'] as const;
export type TicketPhase = (typeof TICKET_PHASES)[number];

/** One board's mapping: the status name for each phase it maps (a phase left out changes nothing). */
export type BoardStatusMap = { board: string } & Partial<Record<TicketPhase, string>>;

/** The status a board maps `phase` to, by board name (PSAs compare names without case), or undefined. */
export function mappedStatus(byBoard: Readonly<Record<string, string>>, board: string): string | undefined {
  const wanted = board.trim().toLowerCase();
  for (const [name, status] of Object.entries(byBoard)) if (name.trim().toLowerCase() === wanted) return status;
  return undefined;
}
