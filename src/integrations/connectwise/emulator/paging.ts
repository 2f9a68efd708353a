import type { ApiContext } from './endpoint.ts';
import { filtered, ordered, pickFields, positiveIntParam, type Reply } from './wire.ts';

/**
 * A list endpoint's answer, like ConnectWise's: `conditions`, `orderBy`, `fields`, `page` and
 * `pageSize` (25 by default, 1000 at most), with the pages in a Link header.
 */

const DEFAULT_PAGE_SIZE = 25;
const MAX_PAGE_SIZE = 1000;

export function list(ctx: ApiContext, records: Record<string, unknown>[]): Reply {
  const page = positiveIntParam(ctx.query, 'page', 1);
  const pageSize = Math.min(positiveIntParam(ctx.query, 'pageSize', DEFAULT_PAGE_SIZE), MAX_PAGE_SIZE);
  const rows = ordered(filtered(ctx.query, records), ctx.query.get('orderBy'));
  const lastPage = Math.max(1, Math.ceil(rows.length / pageSize));
  const slice = rows.slice((page - 1) * pageSize, page * pageSize).map((row) => pickFields(row, ctx.query.get('fields')));
  return { status: 200, body: slice, headers: { link: linkHeader(ctx.site.linkBaseUrl, ctx.requestUrl, page, pageSize, lastPage) } };
}

/** Like ConnectWise: `first`/`prev` from page 2 on, `next` while more pages exist, always `last`. */
function linkHeader(siteUrl: string, requestUrl: URL, page: number, pageSize: number, lastPage: number): string {
  const at = (n: number): string => {
    const url = new URL(requestUrl.pathname + requestUrl.search, siteUrl);
    url.searchParams.set('page', String(n));
    url.searchParams.set('pageSize', String(pageSize));
    return url.toString();
  };
  const links: string[] = [];
  if (page > 1) links.push(`<${at(1)}>; rel="first"`, `<${at(Math.min(page - 1, lastPage))}>; rel="prev"`);
  if (page < lastPage) links.push(`<${at(page + 1)}>; rel="next"`);
  links.push(`<${at(lastPage)}>; rel="last"`);
  return links.join(', ');
}
