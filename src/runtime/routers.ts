import type { ZodType } from 'zod';
import type { Context } from './context.js';
import { isMessage } from './message.js';
import { Node } from './node.js';
import type { NodePolicy } from './policy.js';
import { resolveTargets, type RoutingPolicy } from './routing-policy.js';

/** What a predicate may answer: successor nodes or names; `null`/`undefined`/`[]` drops the message. */
export type RouteTarget = Node | string | readonly (Node | string)[] | null | undefined;

/** Options of the routers. */
export interface RouterOptions {
  /** Consulted after the router's own decision and may override it. */
  policy?: RoutingPolicy;
  nodePolicy?: NodePolicy;
}

async function route(ctx: Context, name: string, msg: unknown, proposed: Node[], policy: RoutingPolicy | undefined): Promise<void> {
  let targets = proposed;
  if (policy) {
    const answer = policy.select({
      message: msg,
      proposed: proposed.map((n) => n.name),
      successors: ctx.successors.map((n) => n.name),
      routerName: name,
      traceId: ctx.traceId,
      context: ctx,
    });
    if (answer !== undefined) targets = resolveTargets(answer, ctx.successors, name);
  }
  if (targets.length > 0) await ctx.emit(msg, targets);
}

function toNodes(target: RouteTarget, successors: readonly Node[], name: string): Node[] {
  if (target === null || target === undefined) return [];
  const list = Array.isArray(target) ? (target as readonly (Node | string)[]) : [target as Node | string];
  return list.map((t) => {
    const node = typeof t === 'string' ? successors.find((s) => s.name === t) : t;
    if (node === undefined || !successors.includes(node)) {
      throw new Error(`router ${name}: ${typeof t === 'string' ? t : t.name} is not a successor`);
    }
    return node;
  });
}

/**
 * A node that forwards each message, unchanged, to the successors chosen by
 * `predicate` (nodes or names). An optional {@link RoutingPolicy} may
 * override the choice. Naming a non-successor fails the invocation.
 */
export function predicateRouter(name: string, predicate: (msg: unknown) => RouteTarget | Promise<RouteTarget>, opts: RouterOptions = {}): Node {
  return new Node(
    async (msg: unknown, ctx: Context) => {
      const chosen = toNodes(await predicate(msg), ctx.successors, name);
      await route(ctx, name, msg, chosen, opts.policy);
      return undefined;
    },
    { name, policy: { validate: 'none', ...opts.nodePolicy } },
  );
}

/**
 * A node that validates each message's payload (or the value itself, for a
 * plain payload) against a zod discriminated union on `kind` and forwards it
 * to the successor named like the `kind`. Invalid input or a `kind` without
 * a successor of that name fails the invocation (a `node_error`).
 */
export function unionRouter(name: string, schema: ZodType, opts: RouterOptions = {}): Node {
  return new Node(
    async (msg: unknown, ctx: Context) => {
      const body = isMessage(msg) ? msg.payload : msg;
      const parsed = schema.parse(body) as { kind?: unknown };
      const kind = parsed.kind;
      if (typeof kind !== 'string') throw new TypeError(`router ${name}: payload has no string kind`);
      const forwarded = isMessage(msg) ? { ...msg, payload: parsed } : parsed;
      await route(ctx, name, forwarded, toNodes(kind, ctx.successors, name), opts.policy);
      return undefined;
    },
    { name, policy: { validate: 'none', ...opts.nodePolicy } },
  );
}
