/**
 * Payload schemas: they validate only what the code relies on and keep every unknown
 * field (`z.looseObject`), because the backup stores the raw JSON as received.
 */
import { z } from 'zod';

const numeric = z.union([
  z.number(),
  z
    .string()
    .regex(/^-?[0-9]+(\.[0-9]+)?$/)
    .transform(Number),
]);

export const UserSchema = z.looseObject({
  userID: z
    .union([z.number().int().nonnegative(), z.string().regex(/^[0-9]{1,20}$/)])
    .transform(String),
  profile: z.string().optional(),
  settings: z.string().optional(),
  fitness_activities: z.string().optional(),
  strength_training_activities: z.string().optional(),
  background_activities: z.string().optional(),
  sleep: z.string().optional(),
  nutrition: z.string().optional(),
  weight: z.string().optional(),
  general_measurements: z.string().optional(),
  diabetes: z.string().optional(),
  records: z.string().optional(),
  team: z.string().optional(),
  change_log: z.string().optional(),
});
export type UserDoc = z.infer<typeof UserSchema>;

export const FeedItemSchema = z.looseObject({
  uri: z.string(),
  start_time: z.string().optional(),
  timestamp: z.string().optional(),
});
export type FeedItem = z.infer<typeof FeedItemSchema>;

export const FeedPageSchema = z.looseObject({
  size: numeric.optional(),
  items: z.array(z.unknown()),
  next: z.string().optional(),
  previous: z.string().optional(),
});

export const FitnessActivitySchema = z.looseObject({
  uri: z.string(),
  userID: z.union([z.number(), z.string()]).transform(String).optional(),
  type: z.string(),
  start_time: z.string(),
  duration: numeric.optional(),
  total_distance: numeric.optional(),
  is_live: z
    .union([z.boolean(), z.enum(['true', 'false']).transform((v) => v === 'true')])
    .optional(),
  images: z.array(z.unknown()).optional(),
  comments: z.string().optional(),
});

/** Any other feed item document: an object with its uri. */
export const ItemDocSchema = z.looseObject({
  uri: z.string(),
  userID: z.union([z.number(), z.string()]).transform(String).optional(),
});

const ChangeEntrySchema = z.looseObject({
  modified: z.array(z.unknown()).optional(),
  deleted: z.array(z.unknown()).optional(),
});

/** The change log: an object keyed by feed field, or (as the docs type it) an array of such objects. */
export const ChangeLogSchema = z.union([
  z.record(z.string(), z.union([ChangeEntrySchema, z.array(ChangeEntrySchema)])),
  z.array(z.record(z.string(), z.union([ChangeEntrySchema, z.array(ChangeEntrySchema)]))),
]);

export const TokenResponseSchema = z.looseObject({
  access_token: z.string().min(8).max(4096),
  token_type: z.string().optional(),
});

export const CommentThreadSchema = z.looseObject({
  comments: z.array(z.unknown()).optional(),
});

export const ImageSchema = z.looseObject({
  uri: z.string().optional(),
  thumbnail_uri: z.string().optional(),
  timestamp: numeric.optional(),
});
