// Container HEALTHCHECK: exit 0 when the ops port answers /readyz with 2xx.
// Plain CommonJS with no dependencies so it starts fast (~40 ms).
'use strict';
const port = Number(process.env.PENGUIFLOW_OPS_PORT || 9464);
const path = process.argv[2] || '/readyz';
const req = require('node:http').get({ host: '127.0.0.1', port, path, timeout: 2000 }, (res) => {
  res.resume();
  process.exit(res.statusCode >= 200 && res.statusCode < 300 ? 0 : 1);
});
req.on('timeout', () => req.destroy(new Error('timeout')));
req.on('error', () => process.exit(1));
