import { escapeHtml } from './manager.ts';

/** The plain page at `/` until the dashboard exists: what runs where and how to try it. */
export interface HomeInfo {
  publicUrl: string;
  database: string;
  emulators: { name: string; url: string }[];
  demoPassword: string | null;
  demoUsers: { email: string; role: string; msp: string }[];
}

/** The page's one style sheet, inline: the CSP allows exactly this text by its hash (src/api/server.ts). */
export const HOME_STYLE =
  'body{font:15px/1.5 system-ui,sans-serif;max-width:56rem;margin:2rem auto;padding:0 1rem;color:#1b1f24}code,pre{background:#f3f4f6;padding:.1rem .3rem;border-radius:4px}pre{padding:.8rem;overflow:auto}table{border-collapse:collapse}td{padding:.2rem .8rem .2rem 0;border-bottom:1px solid #e5e7eb}';

export function homePage(info: HomeInfo): string {
  const rows = (items: string[][]) => items.map((cells) => `<tr>${cells.map((c) => `<td>${c}</td>`).join('')}</tr>`).join('');
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>deskhand</title>
<style>${HOME_STYLE}</style>
</head><body>
<h1>deskhand is running</h1>
<p>An AI service-desk agent for MSPs: it diagnoses an employee's request with read-only tools, posts an internal note with its plan, and executes only what the tool policies and approvals allow.</p>
<h2>What runs where</h2>
<table>${rows([
    ['API', `<code>${escapeHtml(info.publicUrl)}/api/</code> (<a href="/api/openapi.json">OpenAPI</a>)`],
    ['Health', `<a href="/healthz">/healthz</a>`],
    ['Database', escapeHtml(info.database)],
    ...info.emulators.map((e) => [escapeHtml(e.name), `<code>${escapeHtml(e.url)}</code>`]),
  ])}</table>
${
  info.demoPassword
    ? `<h2>Sign in</h2><p>Every demo user signs in with the password <code>${escapeHtml(info.demoPassword)}</code>:</p><table>${rows(
        info.demoUsers.map((u) => [escapeHtml(u.email), escapeHtml(u.role), escapeHtml(u.msp)]),
      )}</table>`
    : ''
}
<h2>Try it</h2>
<pre>curl -s -c /tmp/dh.cookies -H 'content-type: application/json' \\
  -d '{"email":"tom.rivera@northwind-it.example","password":"${escapeHtml(info.demoPassword ?? '<password>')}"}' \\
  ${escapeHtml(info.publicUrl)}/api/session
curl -s -b /tmp/dh.cookies ${escapeHtml(info.publicUrl)}/api/approvals</pre>
<p>Open a ticket as an employee with <code>npx deskhand ticket contoso alex.wilber@contoso.example "I need access to Zendesk"</code>, or play every story with <code>npx deskhand demo</code>.</p>
</body></html>`;
}
