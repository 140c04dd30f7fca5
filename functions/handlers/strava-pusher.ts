import { createStravaPusherHandler, parseStravaPusherEnv } from '../shared/app/strava-pusher.ts';
import { documentClient, s3Client, ssmClient } from '../shared/clients.ts';
import { defaultPlatform } from '../shared/platform.ts';

/** Opt-in (`-c strava=true`): environment parsed once at cold start; only the clients it uses. */
export const handler = createStravaPusherHandler(
  parseStravaPusherEnv(),
  defaultPlatform({ ddb: documentClient(), s3: s3Client(), ssm: ssmClient() }),
);
