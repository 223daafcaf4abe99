// Ignores PORT and listens on a port of its own choosing (here a free one).
const http = require("http");
const server = http.createServer((req, res) => res.end("ok"));
server.listen(0, "127.0.0.1", () => console.log("listening on " + server.address().port));
