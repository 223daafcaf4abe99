// Listens on PORT but survives EADDRINUSE (logs it and stays up), as apps with an `error`
// handler on their server do: the squatter case.
const http = require("http");
const server = http.createServer((req, res) => res.end("the real app"));
server.on("error", (e) => console.error("listen failed: " + e.code));
server.listen(Number(process.env.PORT));
setInterval(() => {}, 1000);
