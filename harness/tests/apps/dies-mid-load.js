// Serves like a small API, then calls process.exit(3) at request DIE_AT (default 1500), the way
// a service dies on a bad input mid-traffic. Prints the moment it exits (ms since the epoch).
const http = require("http");

const dieAt = Number(process.env.DIE_AT || 1500);
let served = 0;
http
  .createServer((req, res) => {
    served += 1;
    if (served === dieAt) {
      console.error("dies-mid-load: exiting at " + Date.now());
      process.exit(3);
    }
    res.end("ok");
  })
  .listen(Number(process.env.PORT));
