// ts-app: a TypeScript service run under tsx, keeping a record of every visit.
//
// `handle` builds a reply (kept only until it is sent) and records a `Visit` in `history`,
// which is never trimmed: one Visit per request, forever. tsx transpiles this file in memory
// to one or two long lines; the report must still name the line below that says
// `new Visit(`, in this file.
// Fixed twin: ../ts-app-fixed (history is a bounded ring).
//
// Expected verdict: leak.
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

const history: Visit[] = [];

function handle(req: http.IncomingMessage, res: http.ServerResponse): void {
  const started: number = Date.now();
  const reply = { path: req.url ?? '/', ok: true };
  history.push(new Visit(reply.path, started));
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
    console.log(`ts-app listening on port ${port}`);
  });
