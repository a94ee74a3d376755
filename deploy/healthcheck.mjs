// Container health check: every logical node of the container must answer /q/health/<ready|live>
// with 200. HEALTHCHECK_PORTS lists the API ports of the container's nodes (default 9003); a
// `hotledger host` container runs several. Node's own fetch: the slim image has no curl.
const kind = process.argv[2] === 'live' ? 'live' : 'ready';
const ports = (process.env.HEALTHCHECK_PORTS ?? '9003').split(',').filter(Boolean);
const results = await Promise.all(
  ports.map(async (port) => {
    try {
      const res = await fetch(`http://127.0.0.1:${port}/q/health/${kind}`, { signal: AbortSignal.timeout(3000) });
      return res.status === 200 ? null : `${port}: HTTP ${res.status}`;
    } catch (e) {
      return `${port}: ${e.message}`;
    }
  }),
);
const failed = results.filter(Boolean);
if (failed.length > 0) {
  process.stderr.write(`not ${kind}: ${failed.join('; ')}\n`);
  process.exit(1);
}
