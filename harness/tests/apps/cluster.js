// A `cluster` app: the primary forks two workers, and the workers serve PORT.
const cluster = require("cluster");
const http = require("http");
if (cluster.isPrimary) {
  for (let i = 0; i < 2; i++) cluster.fork();
} else {
  http.createServer((req, res) => res.end("worker " + process.pid)).listen(Number(process.env.PORT));
}
