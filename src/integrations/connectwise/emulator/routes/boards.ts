import type { FastifyPluginAsync } from 'fastify';
import type { InstanceSeed } from '../data.ts';
import { type ApiContext, endpoint } from '../endpoint.ts';
import { list } from '../paging.ts';
import { renderBoard, renderStatus } from '../records.ts';
import type { ConnectWiseSite } from '../site.ts';
import { cwError, ok, ReplyError } from '../wire.ts';

/** `service/boards`: the boards and the statuses of each, which a board's tickets move between. */

const BOARD = '/service/boards/:boardId(^\\d+$)';

export const boardRoutes: FastifyPluginAsync<{ site: ConnectWiseSite }> = async (api, { site }) => {
  endpoint(api, site, '/service/boards', { GET: (c) => list(c, c.instance.seed.boards.map((b) => renderBoard(c.site.href, c.instance, b))) });
  endpoint(api, site, BOARD, { GET: (c) => ok(renderBoard(c.site.href, c.instance, boardOf(c))) });
  endpoint(api, site, `${BOARD}/statuses`, {
    GET: (c) => {
      const board = boardOf(c);
      return list(c, c.instance.seed.statuses.filter((s) => s.boardId === board.id).map((s) => renderStatus(c.instance, s)));
    },
  });
};

function boardOf(ctx: ApiContext): InstanceSeed['board'] {
  const id = Number(ctx.params['boardId']);
  const board = ctx.instance.seed.boards.find((b) => b.id === id);
  if (!board) throw new ReplyError(cwError(404, 'NotFound', `Board ${id} not found`));
  return board;
}
