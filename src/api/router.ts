/** A small method + path router, so unknown paths answer 404 and known paths with a wrong method 405. */

export interface Reply {
  status?: number;
  body: string | Buffer;
  contentType?: string;
  headers?: Record<string, string>;
}

export interface RequestContext {
  method: string;
  path: string;
  /** Raw query string (after `?`), or ''. */
  query: string;
  params: string[];
  contentType: string;
  /** The request body, for routes declared with `body`. */
  body: Buffer | undefined;
  /** The client's limit key (IPv4 address or IPv6 /64), read before any await. */
  client: string;
  /** Whether the transactions of this request were already charged to the client's tx budget (from Content-Length). */
  txsCharged: boolean;
  /** The `If-None-Match` header, read only for `conditional` routes (the dashboard's files). */
  ifNoneMatch?: string;
}

export interface Route {
  method: 'GET' | 'POST';
  /** Pattern with `:name` segments, e.g. `/api/v11/blocks/:height`; also the metrics label. */
  pattern: string;
  /** Media types accepted for the body; a route with `body` reads it before the handler runs. */
  body?: readonly string[];
  /** The handler answers conditional GETs: the server reads `If-None-Match` for it (and for no other route). */
  conditional?: boolean;
  handler: (ctx: RequestContext) => Reply | Promise<Reply>;
}

/** No route: `allowed` lists the methods of a known path (→ 405), empty for an unknown path (→ 404). */
export type Match = { route: Route; params: string[] } | { route: undefined; allowed: string[]; pattern: string | undefined };

interface Node {
  methods: Map<string, Route>;
  segments: string[];
}

export class Router {
  private readonly exact = new Map<string, Node>();
  private readonly patterned: Node[] = [];

  add(route: Route): this {
    const segments = route.pattern.split('/');
    const isPattern = segments.some((s) => s.startsWith(':'));
    let node = isPattern ? this.patterned.find((n) => n.segments.join('/') === segments.join('/')) : this.exact.get(route.pattern);
    if (!node) {
      node = { methods: new Map(), segments };
      if (isPattern) this.patterned.push(node);
      else this.exact.set(route.pattern, node);
    }
    node.methods.set(route.method, route);
    return this;
  }

  match(method: string, path: string): Match {
    const exact = this.exact.get(path);
    if (exact) return pick(exact, method, []);
    const parts = path.split('/');
    for (const node of this.patterned) {
      if (node.segments.length !== parts.length) continue;
      const params: string[] = [];
      let ok = true;
      for (let i = 0; i < parts.length; i++) {
        const seg = node.segments[i]!;
        if (seg.startsWith(':')) {
          if (parts[i] === '') {
            ok = false;
            break;
          }
          params.push(decodeURIComponentSafe(parts[i]!));
        } else if (seg !== parts[i]) {
          ok = false;
          break;
        }
      }
      if (ok) return pick(node, method, params);
    }
    return { route: undefined, allowed: [], pattern: undefined };
  }

  routes(): Route[] {
    return [...this.exact.values(), ...this.patterned].flatMap((n) => [...n.methods.values()]);
  }
}

function pick(node: Node, method: string, params: string[]): Match {
  const route = node.methods.get(method);
  if (route) return { route, params };
  return { route: undefined, allowed: [...node.methods.keys()], pattern: node.segments.join('/') };
}

function decodeURIComponentSafe(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}
