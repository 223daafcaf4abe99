// Ready on /health, but every other route accepts the request and never answers: a handler
// that forgot to call res.end().
const http = require("http");

http
  .createServer((req, res) => {
    if (req.url === "/health") {
      res.end("ok");
    }
  })
  .listen(Number(process.env.PORT));
