import { createImporterHandler } from '../shared/app/importer.ts';
import { parseEnv } from '../shared/env.ts';
import { defaultPlatform } from '../shared/platform.ts';

/** Environment parsed once at cold start: a missing variable fails the init, not a request. */
export const handler = createImporterHandler(parseEnv('importer'), defaultPlatform());
