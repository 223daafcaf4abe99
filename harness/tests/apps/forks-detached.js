// Starts two node children, as worker pools do: one in its own process group, and one
// `detached` (its own session, out of reach of a signal to the app's process group). Prints
// their pids, then serves (`/fail` answers 500).
const { spawn } = require("child_process");
const http = require("http");

const keep = ["-e", "setInterval(() => {}, 1000)"];
const attached = spawn(process.execPath, keep, { stdio: "ignore" });
const detached = spawn(process.execPath, keep, { stdio: "ignore", detached: true });
detached.unref();
console.log("child pids " + attached.pid + " " + detached.pid);
http
  .createServer((req, res) => {
    if (req.url === "/fail") res.writeHead(500);
    res.end("ok");
  })
  .listen(Number(process.env.PORT));
