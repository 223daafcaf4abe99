// Starts a long-lived child of its own (as cluster or worker pools do), prints its pid, then
// serves like hello.js.
const { spawn } = require("child_process");
const http = require("http");

const child = spawn(process.execPath, ["-e", "setInterval(() => {}, 1000)"], {
  stdio: "ignore",
});
console.log("grandchild pid " + child.pid);
http
  .createServer((req, res) => res.end("ok"))
  .listen(Number(process.env.PORT));
