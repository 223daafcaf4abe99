// An audit trail of the requests served. `record` keeps every entry in a module-level array
// that nothing ever trims: the leak. `recordBounded` keeps the last 100 only: the fix.
const trail = [];
const recent = [];

export function record(req) {
  trail.push({ method: req.method, path: req.path, at: new Date() });
}

export function recordBounded(req) {
  recent.push({ method: req.method, path: req.path, at: new Date() });
  if (recent.length > 100) recent.shift();
}
