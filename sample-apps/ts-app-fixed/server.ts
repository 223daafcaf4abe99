// ts-app-fixed: the twin of ../ts-app. `history` keeps the last 100 visits only (a ring),
// so after the first 100 requests nothing more is retained.
//
// Expected verdict: clean.
import http from 'node:http';

interface VisitRecord {
  path: string;
  at: number;
}

class Visit implements VisitRecord {
  constructor(
    public path: string,
    public at: number,
  ) {}
}

const HISTORY = 100;
const history: Visit[] = [];
let next = 0;

function handle(req: http.IncomingMessage, res: http.ServerResponse): void {
  const started: number = Date.now();
  const reply = { path: req.url ?? '/', ok: true };
  history[next] = new Visit(reply.path, started);
  next = (next + 1) % HISTORY;
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify(reply));
}

const port: number = Number(process.env.PORT) || 3000;
http
  .createServer((req, res) => {
    if (req.url === '/health') {
      res.end('ok');
      return;
    }
    handle(req, res);
  })
  .listen(port, () => {
    console.log(`ts-app-fixed listening on port ${port}`);
  });
