/**
 * The Health Graph feeds as the API contract lists them (`/user` key → path name,
 * ../shared/docs/health-graph-api.md §6), and the simulator's clock. Kept here, not imported
 * from functions/: the simulator is the oracle the client is checked against, so it shares no
 * code with it.
 */
export const FEEDS = {
  fitness_activities: 'fitnessActivities',
  strength_training_activities: 'strengthTrainingActivities',
  background_activities: 'backgroundActivities',
  sleep: 'sleep',
  nutrition: 'nutrition',
  weight: 'weight',
  general_measurements: 'generalMeasurements',
  diabetes: 'diabetes',
} as const;
export type FeedField = keyof typeof FEEDS;
export type FeedName = (typeof FEEDS)[FeedField];
export const FEED_NAMES = Object.values(FEEDS) as FeedName[];

/** What the simulator needs of a clock (any object with `now()`, e.g. a test's manual clock). */
export interface SimClock {
  now(): number;
}

export const realClock: SimClock = { now: () => Date.now() };

/** A clock running `scale` times faster than real time from `origin` (the demo's compressed time). */
export function scaledClock(scale: number, origin = Date.now()): SimClock {
  const realOrigin = Date.now();
  return { now: () => origin + (Date.now() - realOrigin) * scale };
}
