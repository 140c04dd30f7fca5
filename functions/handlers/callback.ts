import { createCallbackHandler } from '../shared/app/callback.ts';
import { documentClient, ssmClient } from '../shared/clients.ts';
import { parseEnv } from '../shared/env.ts';
import { defaultPlatform } from '../shared/platform.ts';

/** Environment parsed once at cold start: a missing variable fails the init, not a request.
 *  Only the SDK clients this function uses are constructed (and so bundled). */
export const handler = createCallbackHandler(
  parseEnv('callback'),
  defaultPlatform({ ddb: documentClient(), ssm: ssmClient() }),
);
