/**
 * `node strava-simulator/main.ts --port 0 [--processing-ms 2000] [--limits 200,2000,100,1000]`
 *
 * A Strava API v3 simulator on loopback: prints one JSON line (base URLs and the client
 * credentials of its one application) on stdout, then serves until SIGTERM/SIGINT.
 * Point `rk-sync link strava --oauth-base-url … --api-base-url …` at it.
 */
import { parseArgs } from 'node:util';
import { startStravaSimulator } from './server.ts';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '0' },
    'processing-ms': { type: 'string', default: '2000' },
    limits: { type: 'string', default: '200,2000,100,1000' },
  },
});
const l = (values.limits ?? '').split(',').map(Number);
if (l.length !== 4 || l.some((n) => !Number.isInteger(n) || n < 1)) {
  process.stderr.write(
    '--limits: four integers: overall 15-min, overall daily, read 15-min, read daily\n',
  );
  process.exit(2);
}
const sim = await startStravaSimulator({
  port: Number(values.port),
  processingMs: Number(values['processing-ms']),
  limits: { overall: [l[0]!, l[1]!], read: [l[2]!, l[3]!] },
});
process.stdout.write(
  `${JSON.stringify({ baseUrl: sim.baseUrl, oauthBaseUrl: sim.oauthBaseUrl, apiBaseUrl: sim.apiBaseUrl, clientId: sim.clientId, clientSecret: sim.clientSecret, limits: sim.limits })}\n`,
);
const stop = () => {
  sim.close().then(() => process.exit(0));
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
