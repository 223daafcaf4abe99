// Listens on the IPv6 loopback only, as apps that call listen(port, 'localhost') do where
// localhost resolves to ::1.
require('http')
  .createServer((req, res) => res.end('ok'))
  .listen(Number(process.env.PORT), '::1');
