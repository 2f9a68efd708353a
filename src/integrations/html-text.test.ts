import { describe, expect, it } from 'vitest';
import { loadDemoWorld } from '../world/fixture.ts';
import { htmlToText, textToHtml } from './html-text.ts';

describe('article HTML as runbook text', () => {
  it('gives back every runbook of the demo world exactly, through the HTML the emulators store', () => {
    for (const runbook of loadDemoWorld().clients.flatMap((c) => c.runbooks)) expect(htmlToText(textToHtml(runbook.body))).toBe(runbook.body);
  });

  it('makes one line per block, drops tags, scripts and blank lines, and decodes entities', () => {
    const html = '<h2>Access</h2><p>Zendesk:&nbsp;SG-App-Zendesk &amp; SG&#45;VPN&#x2d;Users</p><script>alert(1)</script><ul><li>One</li><li>Two<br>Three</li></ul><p>  </p>';
    expect(htmlToText(html)).toBe('Access\nZendesk: SG-App-Zendesk & SG-VPN-Users\nOne\nTwo\nThree');
  });
});
