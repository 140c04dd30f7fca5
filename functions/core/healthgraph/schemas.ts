/**
 * Payload schemas: they validate only what the code relies on and keep every unknown
 * field (`z.looseObject`), because the backup stores the raw JSON as received.
 */
import * as z from 'zod/mini';

const numeric = z.union([
  z.number(),
  z.pipe(z.string().check(z.regex(/^-?[0-9]+(\.[0-9]+)?$/)), z.transform(Number)),
]);
const optString = z.optional(z.string());
/** A user id as a number or a digit string, always read as a string. */
const idString = z.pipe(z.union([z.number(), z.string()]), z.transform(String));

export const UserSchema = z.looseObject({
  userID: z.pipe(
    z.union([z.int().check(z.nonnegative()), z.string().check(z.regex(/^[0-9]{1,20}$/))]),
    z.transform(String),
  ),
  profile: optString,
  settings: optString,
  fitness_activities: optString,
  strength_training_activities: optString,
  background_activities: optString,
  sleep: optString,
  nutrition: optString,
  weight: optString,
  general_measurements: optString,
  diabetes: optString,
  records: optString,
  team: optString,
  change_log: optString,
});
export type UserDoc = z.infer<typeof UserSchema>;

export const FeedItemSchema = z.looseObject({
  uri: z.string(),
  start_time: optString,
  timestamp: optString,
});
export type FeedItem = z.infer<typeof FeedItemSchema>;

export const FeedPageSchema = z.looseObject({
  size: z.optional(numeric),
  items: z.array(z.unknown()),
  next: optString,
  previous: optString,
});

export const FitnessActivitySchema = z.looseObject({
  uri: z.string(),
  userID: z.optional(idString),
  type: z.string(),
  start_time: z.string(),
  duration: z.optional(numeric),
  total_distance: z.optional(numeric),
  is_live: z.optional(
    z.union([
      z.boolean(),
      z.pipe(
        z.enum(['true', 'false']),
        z.transform((v) => v === 'true'),
      ),
    ]),
  ),
  images: z.optional(z.array(z.unknown())),
  comments: optString,
});

/** Any other feed item document: an object with its uri. */
export const ItemDocSchema = z.looseObject({
  uri: z.string(),
  userID: z.optional(idString),
});

const ChangeEntrySchema = z.looseObject({
  modified: z.optional(z.array(z.unknown())),
  deleted: z.optional(z.array(z.unknown())),
});

/** The change log: an object keyed by feed field, or (as the docs type it) an array of such objects. */
export const ChangeLogSchema = z.union([
  z.record(z.string(), z.union([ChangeEntrySchema, z.array(ChangeEntrySchema)])),
  z.array(z.record(z.string(), z.union([ChangeEntrySchema, z.array(ChangeEntrySchema)]))),
]);

export const TokenResponseSchema = z.looseObject({
  access_token: z.string().check(z.minLength(8), z.maxLength(4096)),
  token_type: optString,
});

export const CommentThreadSchema = z.looseObject({
  comments: z.optional(z.array(z.unknown())),
});

export const ImageSchema = z.looseObject({
  uri: optString,
  thumbnail_uri: optString,
  timestamp: z.optional(numeric),
});
