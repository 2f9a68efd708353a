import type { FastifyInstance, FastifyReply } from 'fastify';
import { isExpired } from '../core/approval.ts';
import { DeskhandError, isDeskhandError } from '../core/errors.ts';
import type { PlanStep } from '../core/plan.ts';
import { decideManagerApproval, loadManagerApproval } from '../engine/approvals.ts';
import type { EngineContext } from '../engine/context.ts';
import { humanStep } from '../engine/messages.ts';

/** The response schema of a route that answers an HTML page (the OpenAPI document shows text/html). */
export const HTML_PAGE = { description: 'An HTML page', content: { 'text/html': { schema: { type: 'string' } } } };

/**
 * The small page behind the link in the manager's email. Opening it (GET) changes nothing, so mail
 * scanners that prefetch links cannot decide; the buttons POST. The link works once.
 */
export function registerManagerPages(app: FastifyInstance, ctx: EngineContext, onDecided: () => void): void {
  app.register(async (scope) => {
    scope.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_req, body, done) => {
      done(null, Object.fromEntries(new URLSearchParams(String(body))));
    });

    scope.get(
      '/approvals/manager/:link',
      {
        schema: {
          tags: ['approvals'],
          operationId: 'showManagerApproval',
          summary: "The manager's approval page behind the link in their email (opening it decides nothing; 404/409 pages when the link is not valid, expired or used)",
          security: [],
          params: { type: 'object', properties: { link: { type: 'string' } }, required: ['link'] },
          response: { 200: HTML_PAGE },
        },
      },
      async (request, reply) => {
      const { link } = request.params as { link: string };
      try {
        const { approval, request: req } = await loadManagerApproval(ctx, link);
        const plan = await ctx.db.selectFrom('plans').select(['steps']).where('id', '=', approval.plan_id).executeTakeFirstOrThrow();
        const steps = plan.steps as PlanStep[];
        const diagnosis = await ctx.db.selectFrom('diagnoses').select('requester').where('request_id', '=', req.id).executeTakeFirst();
        const requester = (diagnosis?.requester as { displayName?: string } | null)?.displayName;
        const who = requester ? `${requester} (${req.requester_email})` : req.requester_email;
        const expired = approval.status === 'expired' || (approval.status === 'pending' && isExpired(approval.expires_at, ctx.clock.now()));
        if (approval.status !== 'pending' || expired) {
          return page(reply, 409, expired ? 'Link expired' : 'Already decided', `<p>${escapeHtml(statusSentence(expired ? 'expired' : approval.status))}</p>`);
        }
        return page(
          reply,
          200,
          'Approval needed',
          `<p>${escapeHtml(who)} asked IT for:</p><ul>${steps.map((s) => `<li>${escapeHtml(humanStep(s))}</li>`).join('')}</ul>
           <p>As their manager, do you approve? A technician approves too. This link works once and expires ${escapeHtml(approval.expires_at.toUTCString())}.</p>
           <form method="post"><p><label>Comment (optional)<br><input name="comment" maxlength="500" size="50"></label></p>
           <button type="submit" name="decision" value="approve">Approve</button> <button type="submit" name="decision" value="deny">Deny</button></form>`,
        );
      } catch (error) {
        return errorPage(reply, error);
      }
    });

    scope.post(
      '/approvals/manager/:link',
      {
        schema: {
          tags: ['approvals'],
          operationId: 'decideManagerApproval',
          summary: "The manager's decision, posted by the page's form (decision=approve|deny, comment); the link works once",
          security: [],
          params: { type: 'object', properties: { link: { type: 'string' } }, required: ['link'] },
          consumes: ['application/x-www-form-urlencoded'],
          body: {
            type: 'object',
            properties: { decision: { type: 'string', enum: ['approve', 'deny'] }, comment: { type: 'string', maxLength: 500 } },
          },
          response: { 200: HTML_PAGE },
        },
      },
      async (request, reply) => {
      const { link } = request.params as { link: string };
      const body = (request.body ?? {}) as Record<string, unknown>;
      const decision = body['decision'];
      if (decision !== 'approve' && decision !== 'deny') {
        return errorPage(reply, new DeskhandError('bad_request', 'choose approve or deny'));
      }
      if (body['comment'] !== undefined && typeof body['comment'] !== 'string') {
        return errorPage(reply, new DeskhandError('bad_request', 'the comment must be text'));
      }
      const comment = typeof body['comment'] === 'string' && body['comment'].trim() ? body['comment'].trim().slice(0, 500) : null;
      try {
        const result = await decideManagerApproval(ctx, { link, decision, comment });
        onDecided();
        const text =
          decision === 'approve'
            ? result.combined === 'approved'
              ? 'Thank you: you approved, and the request is being carried out now.'
              : 'Thank you: you approved. A technician approves too before anything is done.'
            : 'Thank you: you denied the request. Nothing will be changed and the employee will be told.';
        return page(reply, 200, 'Decision recorded', `<p>${escapeHtml(text)}</p>`);
      } catch (error) {
        return errorPage(reply, error);
      }
    });
  });
}

function statusSentence(status: string): string {
  if (status === 'expired') return 'This approval request expired (24 hours after it was sent); nothing was changed.';
  if (status === 'cancelled') return 'A technician already denied this request, so your approval is no longer needed. Nothing was changed.';
  return `This link was already used: you ${status === 'approved' ? 'approved' : 'declined'} the request. Nothing more is needed from you.`;
}

function errorPage(reply: FastifyReply, error: unknown) {
  if (isDeskhandError(error)) {
    const status = error.httpStatus;
    const title = status === 404 ? 'Link not valid' : error.code === 'expired' ? 'Link expired' : status === 409 ? 'Already decided' : 'Cannot decide';
    return page(reply, status, title, `<p>${escapeHtml(error.message)}</p>`);
  }
  throw error;
}

/**
 * The page's one style sheet, inline: the CSP (src/api/server.ts, with the other security headers)
 * allows exactly this text by its hash, and the form to post only to this site.
 */
export const MANAGER_STYLE = 'body{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem;color:#1b1f24}button{font:inherit;padding:.4rem 1rem;margin:.3rem 0}form{display:inline-block;margin-right:1rem}';

function page(reply: FastifyReply, status: number, title: string, body: string) {
  reply
    .code(status)
    .header('content-type', 'text/html; charset=utf-8')
    .header('cache-control', 'no-store');
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width"><title>${escapeHtml(title)} · deskhand</title>
<style>${MANAGER_STYLE}</style>
</head><body><h1>${escapeHtml(title)}</h1>${body}</body></html>`;
}

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}
