import type { World } from '../src/world/fixture.ts';
import { FREELY_GRANTED_APPS } from '../src/world/generate.ts';

/**
 * What the bench's employees ask, spread over every client (and so every MSP and audit chain).
 * Intake tickets stop after the internal note (an approval to wait for, or an escalation); story
 * asks are access to an application the employee does not have yet, so each needs a technician's
 * approval and then changes the tenant. A story ask is used once per set of emulators: after it
 * ran, the employee has the application.
 */
export interface Ask {
  mspId: string;
  clientId: string;
  email: string;
  text: string;
  /** The group a story adds the employee to (story asks only). */
  group?: string;
}

export class AskBook {
  private readonly storyAsks: Ask[];
  private nextStory = 0;
  private nextIntake = 0;

  constructor(private readonly world: World) {
    // Round-robin over clients so that stories in flight at once belong to different tenants and MSPs.
    const perClient = world.clients.map((client) =>
      client.employees.flatMap((e) =>
        FREELY_GRANTED_APPS.filter((a) => !e.groups.includes(a.group)).map((a) => ({
          mspId: client.msp,
          clientId: client.id,
          email: e.upn,
          text: `Could you give me access to ${a.app}?`,
          group: a.group,
        })),
      ),
    );
    this.storyAsks = [];
    for (let i = 0; perClient.some((list) => i < list.length); i++) {
      for (const list of perClient) if (i < list.length) this.storyAsks.push(list[i]!);
    }
  }

  get storiesLeft(): number {
    return this.storyAsks.length - this.nextStory;
  }

  /** `count` asks that each need an approval and have not been used yet. */
  takeStories(count: number): Ask[] {
    if (count > this.storiesLeft) {
      throw new Error(
        `the generated world has ${this.storiesLeft} unused approval asks left and ${count} are needed: give it more employees (--employees) or clients (--clients)`,
      );
    }
    const taken = this.storyAsks.slice(this.nextStory, this.nextStory + count);
    this.nextStory += count;
    return taken;
  }

  /** `count` intake tickets: mostly application access, some shared mailboxes, some printers (escalated). */
  takeIntake(count: number): Ask[] {
    const asks: Ask[] = [];
    const clients = this.world.clients;
    for (let n = 0; n < count; n++) {
      const i = this.nextIntake++;
      const client = clients[i % clients.length]!;
      const employees = client.employees;
      const employee = employees[1 + ((Math.floor(i / clients.length) * 7) % (employees.length - 1))]!;
      const kind = i % 10;
      let text: string;
      if (kind < 7) {
        const missing = FREELY_GRANTED_APPS.filter((a) => !employee.groups.includes(a.group));
        const app = missing.length > 0 ? missing[i % missing.length]! : FREELY_GRANTED_APPS[0]!;
        text = `I'd like access to ${app.app}, please.`;
      } else if (kind < 9) {
        text = 'Could you add me to the Accounts Payable shared mailbox?';
      } else {
        text = 'The third-floor printer has jammed again and its light is flashing orange.';
      }
      asks.push({ mspId: client.msp, clientId: client.id, email: employee.upn, text });
    }
    return asks;
  }
}
