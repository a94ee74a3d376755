/**
 * A bare uWebSockets.js hello-world server: the ceiling bench/http.ts compares the API against.
 * Run as a child process: prints `{"port":N}` on stdout once listening; exits on SIGTERM/SIGINT.
 * Usage: node dist/bench/uws-hello.js [port]
 */
import { loadUws } from '../src/api/uws.js';

const { uws } = loadUws();
const port = Number(process.argv[2] ?? 0);
const app = uws.App().any('/*', (res) => {
  res.end('Hello World!');
});
app.listen('127.0.0.1', port, (s) => {
  if (!s) {
    process.stderr.write(`uws-hello: cannot listen on 127.0.0.1:${port}\n`);
    process.exit(1);
  }
  process.stdout.write(`${JSON.stringify({ port: uws.us_socket_local_port(s as never) })}\n`);
  const stop = () => {
    uws.us_listen_socket_close(s);
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
});
