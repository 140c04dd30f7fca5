import { createDeauthorizeHandler } from '../shared/app/deauthorize.ts';
import { documentClient, s3Client, ssmClient } from '../shared/clients.ts';
import { parseEnv } from '../shared/env.ts';
import { defaultPlatform } from '../shared/platform.ts';

/** Environment parsed once at cold start: a missing variable fails the init, not a request.
 *  Only the SDK clients this function uses are constructed (and so bundled). */
export const handler = createDeauthorizeHandler(
  parseEnv('deauthorize'),
  defaultPlatform({ ddb: documentClient(), ssm: ssmClient(), s3: s3Client() }),
);
