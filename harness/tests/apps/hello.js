// Answers every request; /health is the readiness path. Keeps some data alive so heap
// snapshots have something in them.
const http = require("http");

const kept = [];
for (let i = 0; i < 20000; i++) kept.push({ index: i, label: "item-" + i });

const server = http.createServer((req, res) => {
  if (req.url.startsWith("/exit?code=")) {
    res.end("bye");
    setTimeout(() => process.exit(Number(req.url.slice("/exit?code=".length))), 20);
    return;
  }
  if (req.url === "/missing") {
    res.writeHead(404);
    res.end();
    return;
  }
  if (req.url === "/health") {
    res.writeHead(200, { "content-type": "text/plain" });
    res.end("ok");
    return;
  }
  res.writeHead(200, { "content-type": "application/json" });
  res.end(JSON.stringify({ hello: "world", kept: kept.length }));
});
server.listen(Number(process.env.PORT), () => {
  console.log("hello listening on " + process.env.PORT);
});
