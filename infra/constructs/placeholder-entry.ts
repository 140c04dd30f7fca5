/**
 * Never deployed. AppFunction points NodejsFunction here only when bundling is skipped
 * (template tests) and the real handler under functions/handlers/ does not exist yet,
 * because NodejsFunction requires an existing entry file even when it does not bundle.
 */
export const handler = async (): Promise<never> => {
  throw new Error('placeholder entry: the real handler was not bundled');
};
