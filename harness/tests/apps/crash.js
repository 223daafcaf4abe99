// Fails at boot, the way a misconfigured service does.
console.error("crash.js: missing DATABASE_URL, giving up");
process.exit(3);
