// timers: an express job API that starts a status poller per job and never stops it.
//
// `POST /jobs` accepts a job, starts a `setInterval(..., 60000)` that would refresh the
// job's status every minute, and answers 202. The (simulated) job finishes almost at
// once, but the interval is never cleared.
//
// What leaks: every request leaves an active interval timer behind. Node's timer list
// keeps the Timeout object, which keeps its callback closure, which keeps the job
// object (task name, payload copy, timestamps). Nothing else references the job, yet
// it can never be collected. An active timer is a GC root.
// Why: a setInterval needs a matching clearInterval on every path.
// Fixed twin: ../timers-fixed (the interval is cleared when the job completes).
//
// Expected verdict: leak.
'use strict';

const crypto = require('node:crypto');
const express = require('express');

const PORT = Number(process.env.PORT) || 3000;
const POLL_MS = 60_000;

let completed = 0;

function refreshStatus(job) {
  // Would ask the worker pool for progress; jobs here finish immediately.
  job.lastPolledAt = Date.now();
}

function runJob(job) {
  setImmediate(() => {
    job.status = 'done';
    job.finishedAt = Date.now();
    completed += 1;
    // Missing: clearInterval(job.poller)
  });
}

const app = express();
app.use(express.json());

app.get('/health', (req, res) => {
  res.send('ok');
});

app.post('/jobs', (req, res) => {
  const body = req.body || {};
  const job = {
    id: crypto.randomUUID(),
    task: String(body.task || 'noop'),
    payload: { ...body },
    status: 'queued',
    createdAt: Date.now(),
  };
  setInterval(() => refreshStatus(job), POLL_MS); // never cleared: the leak
  runJob(job);
  res.status(202).json({ id: job.id, status: job.status, completed });
});

app.listen(PORT, () => {
  console.log(`timers listening on port ${PORT}`);
});
