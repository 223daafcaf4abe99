// timers-fixed: the same job API as ../timers with the poller stopped.
//
// The fix: the interval handle is stored on the job and cleared with `clearInterval`
// as soon as the job completes. Once cleared, the timer list drops the Timeout, and
// the callback and the job become garbage. Only the intervals of in-flight jobs are
// alive at any time.
//
// Expected verdict: clean.
'use strict';

const crypto = require('node:crypto');
const express = require('express');

const PORT = Number(process.env.PORT) || 3000;
const POLL_MS = 60_000;

let completed = 0;

function refreshStatus(job) {
  job.lastPolledAt = Date.now();
}

function runJob(job) {
  setImmediate(() => {
    job.status = 'done';
    job.finishedAt = Date.now();
    completed += 1;
    clearInterval(job.poller); // <- the fix
    job.poller = null;
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
    poller: null,
  };
  job.poller = setInterval(() => refreshStatus(job), POLL_MS);
  runJob(job);
  res.status(202).json({ id: job.id, status: job.status, completed });
});

app.listen(PORT, () => {
  console.log(`timers-fixed listening on port ${PORT}`);
});
