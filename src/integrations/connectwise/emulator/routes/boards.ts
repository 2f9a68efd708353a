import type { FastifyPluginAsync } from 'fastify';
import type { InstanceSeed } from '../data.ts';
import { type ApiContext, endpoint } from '../endpoint.ts';
import { list } from '../paging.ts';
import { renderBoard, renderStatus } from '../records.ts';
import type { ConnectWiseSite } from '../site.ts';
import { cwError, ok, ReplyError } from '../wire.ts';

/** `service/boards`: the Help Desk board and its statuses, which tickets move between. */

const BOARD = '/service/boards/:boardId(^\\d+$)';

export const boardRoutes: FastifyPluginAsync<{ site: ConnectWiseSite }> = async (api, { site }) => {
  endpoint(api, site, '/service/boards', { GET: (c) => list(c, [renderBoard(c.site.href, c.instance)]) });
  endpoint(api, site, BOARD, { GET: (c) => ok(renderBoard(c.site.href, c.instance, boardOf(c))) });
  endpoint(api, site, `${BOARD}/statuses`, {
    GET: (c) => {
      boardOf(c);
      return list(c, c.instance.seed.statuses.map((s) => renderStatus(c.instance, s)));
    },
  });
};

function boardOf(ctx: ApiContext): InstanceSeed['board'] {
  const id = Number(ctx.params['boardId']);
  if (ctx.instance.seed.board.id !== id) throw new ReplyError(cwError(404, 'NotFound', `Board ${id} not found`));
  return ctx.instance.seed.board;
}
