import { describe, expect, it } from 'vitest';
import type { DirectoryUser } from '../core/directory.ts';
import { loadDemoWorld } from '../world/fixture.ts';
import { findPeopleMentioned } from './subject.ts';
import { createFixtureReader } from './testing/fixture-reader.ts';

const reader = createFixtureReader(loadDemoWorld(), 'contoso');

async function requester(upn: string): Promise<DirectoryUser> {
  const user = await reader.getUser(upn);
  if (!user) throw new Error(`no ${upn}`);
  return user;
}

async function people(text: string, from = 'alex.wilber@contoso.example', skip: string[] = []) {
  const found = await findPeopleMentioned(text, reader, await requester(from), new Set(skip));
  return { ...found, people: found.people.map((p) => p.userPrincipalName) };
}

describe('findPeopleMentioned', () => {
  it('finds people by first name, full name and possessive', async () => {
    expect((await people("Today is Lee Gu's final day.", 'christie.cline@contoso.example')).people).toEqual(['lee.gu@contoso.example']);
    expect((await people('Could you put Nestor on the Sales list?', 'patti.fernandez@contoso.example')).people).toEqual(['nestor.wilke@contoso.example']);
  });

  it('finds people by address', async () => {
    expect((await people('Please give nestor.wilke@contoso.example access', 'patti.fernandez@contoso.example')).people).toEqual([
      'nestor.wilke@contoso.example',
    ]);
  });

  it('does not read "me" as Megan, nor a prefix as a name', async () => {
    expect((await people('Please give me Zendesk')).people).toEqual([]);
    expect((await people('Gupt needs access')).people).toEqual([]);
  });

  it('leaves out the requester and people who only approve or serve as an example', async () => {
    expect((await people('I need Zendesk, my manager Megan approved it. Thanks, Alex')).people).toEqual([]);
    expect((await people('Salesforce please, same as Nestor')).people).toEqual([]);
    expect((await people('I would like Adobe Creative Cloud. My manager is Megan Bowen.')).people).toEqual([]);
  });

  it('reports names in a person\'s place that nobody has', async () => {
    const found = await people('Please add John to Zendesk', 'adele.vance@contoso.example');
    expect(found.unknown).toEqual(['John']);
    expect(found.people).toEqual([]);
  });

  it('reads lower-case messages too', async () => {
    expect((await people('please add nestor to the sales list', 'patti.fernandez@contoso.example', ['sales'])).people).toEqual([
      'nestor.wilke@contoso.example',
    ]);
  });
});

describe('the role the words give each person', () => {
  async function roles(text: string, from = 'alex.wilber@contoso.example') {
    const found = await findPeopleMentioned(text, reader, await requester(from), new Set());
    return Object.fromEntries(found.mentions.map((m) => [m.user.givenName, m.role]));
  }

  it('puts a colleague who is away in the background, never among the people asked for', async () => {
    expect(await roles('Joni is off sick this week, so I need the support inbox')).toEqual({ Joni: 'context' });
    expect(await roles("I'm covering for Lidia, can I get Zendesk?")).toEqual({ Lidia: 'context' });
    expect(await roles("Lidia's on holiday and I need Zendesk")).toEqual({ Lidia: 'context' });
    const found = await findPeopleMentioned('Joni is off sick this week, so I need the support inbox', reader, await requester('alex.wilber@contoso.example'), new Set());
    expect(found.people).toEqual([]);
  });

  it('makes the subject of whoever the ask puts there, and spreads it along a list', async () => {
    expect(await roles('Please give Lidia Zendesk too, she is on holiday but needs it on return')).toMatchObject({ Lidia: 'subject' });
    expect(await roles('Nestor, Lidia and I need Project', 'patti.fernandez@contoso.example')).toEqual({ Nestor: 'subject', Lidia: 'subject' });
    expect(await roles('Power BI for me, Megan and Adele', 'diego.siciliani@contoso.example')).toEqual({ Megan: 'subject', Adele: 'subject' });
    expect(await roles("Please shut off Lee's access", 'christie.cline@contoso.example')).toEqual({ Lee: 'subject' });
    expect(await roles("I'm taking over Joni's tickets")).toEqual({ Joni: 'mentioned' });
  });
});
