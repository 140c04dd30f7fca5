import { createImporterHandler } from '../shared/app/importer.ts';
import { documentClient, s3Client, sqsClient } from '../shared/clients.ts';
import { parseEnv } from '../shared/env.ts';
import { defaultPlatform } from '../shared/platform.ts';

/** Environment parsed once at cold start: a missing variable fails the init, not a request.
 *  Only the SDK clients this function uses are constructed (and so bundled). */
export const handler = createImporterHandler(
  parseEnv('importer'),
  defaultPlatform({ ddb: documentClient(), s3: s3Client(), sqs: sqsClient() }),
);
