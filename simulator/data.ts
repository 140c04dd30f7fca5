/**
 * The simulator's data: every user's Health Graph content, generated deterministically
 * from a seed and an anchor time, plus the mutations tests and the demo apply.
 *
 * Fitness activities keep only compact metadata; their sample arrays (path, heart rate,
 * distance, calories) are regenerated from a per-activity seed whenever a document is
 * requested, so a user with many thousands of activities stays cheap.
 *
 * Every item carries a hidden modification time (never in a payload) that drives the
 * `modified*` feed filters and the change log.
 */
import { FEEDS, type FeedField, type FeedName } from './feeds.ts';
import {
  chance,
  gauss,
  mixSeed,
  mulberry32,
  pick,
  type Rng,
  randInt,
  rkDate,
  round,
  ymd,
  zoneOffsetMinutes,
} from './util.ts';

export interface Home {
  name: string;
  zone: string;
  lat: number;
  lon: number;
  alt: number;
}

export const HOMES: readonly Home[] = [
  { name: 'Amsterdam', zone: 'Europe/Amsterdam', lat: 52.3702, lon: 4.8952, alt: 2 },
  { name: 'New York', zone: 'America/New_York', lat: 40.7812, lon: -73.9665, alt: 30 },
  { name: 'Adelaide', zone: 'Australia/Adelaide', lat: -34.9285, lon: 138.6007, alt: 50 },
  { name: 'Kathmandu', zone: 'Asia/Kathmandu', lat: 27.7172, lon: 85.324, alt: 1400 },
  { name: 'Los Angeles', zone: 'America/Los_Angeles', lat: 34.0522, lon: -118.2437, alt: 90 },
];

interface TypeSpec {
  type: string;
  weight: number;
  gps: boolean;
  speed: [number, number]; // m/s moving
  minutes: [number, number];
  met: number;
  equipment?: string;
}

const TYPES: readonly TypeSpec[] = [
  { type: 'Running', weight: 34, gps: true, speed: [2.4, 4.2], minutes: [18, 100], met: 10 },
  { type: 'Cycling', weight: 14, gps: true, speed: [4.5, 9], minutes: [25, 180], met: 7.5 },
  { type: 'Walking', weight: 14, gps: true, speed: [1.1, 1.6], minutes: [15, 90], met: 3.5 },
  { type: 'Hiking', weight: 6, gps: true, speed: [0.8, 1.4], minutes: [80, 360], met: 6 },
  { type: 'Mountain Biking', weight: 3, gps: true, speed: [3, 6], minutes: [40, 150], met: 8.5 },
  { type: 'Nordic Walking', weight: 2, gps: true, speed: [1.3, 1.8], minutes: [30, 90], met: 4.8 },
  {
    type: 'Cross-Country Skiing',
    weight: 2,
    gps: true,
    speed: [2.5, 5],
    minutes: [30, 120],
    met: 9,
  },
  { type: 'Rowing', weight: 2, gps: true, speed: [2.5, 4], minutes: [30, 90], met: 7 },
  { type: 'Swimming', weight: 5, gps: false, speed: [0.6, 1.2], minutes: [20, 60], met: 8 },
  { type: 'Yoga', weight: 5, gps: false, speed: [0, 0], minutes: [30, 90], met: 2.5 },
  {
    type: 'Elliptical',
    weight: 3,
    gps: false,
    speed: [1.5, 2.5],
    minutes: [20, 60],
    met: 5,
    equipment: 'Elliptical',
  },
  {
    type: 'Spinning',
    weight: 2,
    gps: false,
    speed: [0, 0],
    minutes: [30, 60],
    met: 8,
    equipment: 'Stationary Bike',
  },
  { type: 'Strength Training', weight: 2, gps: false, speed: [0, 0], minutes: [20, 70], met: 5 },
  { type: 'Other', weight: 3, gps: true, speed: [1, 3], minutes: [20, 120], met: 5 },
];
const TYPE_WEIGHT_TOTAL = TYPES.reduce((s, t) => s + t.weight, 0);

const NOTES = [
  'Morning run along the Amstel ☀️',
  'Crème brûlée afterwards, well earned 🍮',
  '雨の中のランニング。気持ちよかった！',
  'ركض صباحي على الكورنيش',
  'Tempo run — 5×1 km @ 4:10/km 🔥🔥',
  'Über den Deich bei Gegenwind 💨',
  'Felt slow. Knee a bit sore… 🤕',
  'Ñandú spotted near the trail 🦤',
  'גשם כל הדרך',
  'Group ride with the café crew ☕🚴',
  '𝓛𝓸𝓷𝓰 𝓻𝓾𝓷 — "quotes", back\\slash & <tags>',
  'Ĉiuĵaŭde — 15 km',
];

const SECONDARY = ['Frisbee 🥏', 'Kayak', 'Padel', 'Stand-up paddle', 'Klettersteig'];
const SOURCES = ['RunKeeper', 'RunKeeper', 'RunKeeper', 'RunKeeper', 'Garmin Connect', 'Polar'];
const SHARES = ['Just Me', 'Friends', 'Everyone', 'Street Team'] as const;

const PROFILE_NAMES = [
  'Zoë Ørsted-Müller',
  'José Ñúñez 🏃',
  '李小龙',
  'نور الهدى',
  'Siobhán Ó Briain',
  'Ægir Þórsson',
];
const FRIEND_NAMES = ['Åsa Lindqvist', 'Ravi Shrestha', 'Chloé Dubois', '김민준', 'Dmitri Ивanov'];
const COMMENTS = [
  'Great pace! 💪',
  'Chapeau 🎩',
  'Wow, señor!',
  'お疲れさま！',
  'Next time wait for me 😅',
];

export interface Pause {
  at: number;
  len: number;
}

export interface FitnessMeta {
  seed: number;
  type: string;
  secondaryType: string | undefined;
  equipment: string;
  home: Home;
  showOffset: boolean;
  manual: boolean;
  hasPath: boolean;
  indoor: boolean;
  isLive: boolean;
  /** A live activity records until this long after it appeared (its elapsed time); set for added ones. */
  liveFromMs?: number | undefined;
  hasHr: boolean;
  hasDistanceSamples: boolean;
  images: number;
  comments: number;
  notes: string | undefined;
  totalDistance: number;
  duration: number;
  elapsed: number;
  pauses: Pause[];
  totalCalories: number | undefined;
  source: string;
  entryMode: 'API' | 'Web';
  trackingMode: string;
  share: string;
  shareMap: string | undefined;
}

export interface Item {
  feed: FeedName;
  id: string;
  /** Start instant (UTC ms). */
  startMs: number;
  /** Local offset from UTC at start, minutes. */
  offsetMinutes: number;
  /** yyyy-MM-dd of the local start (what the start-date filters compare). */
  localDate: string;
  /** Hidden modification time (UTC ms). */
  modifiedMs: number;
  version: number;
  fitness?: FitnessMeta;
  /** Non-fitness feed-item fields (without uri). */
  fields?: Record<string, unknown>;
  /** Extra detail-only fields (strength exercises, notes...). */
  extra?: Record<string, unknown>;
}

export interface Tombstone {
  feed: FeedName;
  id: string;
  deletedMs: number;
}

export interface TeamMember {
  userID: number;
  name: string;
}

export interface UserData {
  index: number;
  userId: string;
  home: Home;
  name: string;
  team: TeamMember[];
  items: Map<FeedName, Map<string, Item>>;
  tombstones: Tombstone[];
  sortedCache: Map<FeedName, Item[]>;
}

export const FEED_FIELD_OF: Record<FeedName, FeedField> = Object.fromEntries(
  Object.entries(FEEDS).map(([field, feed]) => [feed, field]),
) as Record<FeedName, FeedField>;

/** `nearest_*` key for a feed (singular, as in the contract). */
const NEAREST_KEY: Record<FeedName, string> = {
  fitnessActivities: 'nearest_fitness_activity',
  strengthTrainingActivities: 'nearest_strength_training_activity',
  backgroundActivities: 'nearest_background_activity',
  sleep: 'nearest_sleep',
  nutrition: 'nearest_nutrition',
  weight: 'nearest_weight',
  generalMeasurements: 'nearest_general_measurement',
  diabetes: 'nearest_diabetes',
};

const DAY = 86_400_000;
const YEAR = 365 * DAY;

function pickType(rng: Rng): TypeSpec {
  let r = rng() * TYPE_WEIGHT_TOTAL;
  for (const t of TYPES) {
    r -= t.weight;
    if (r < 0) return t;
  }
  return TYPES[0]!;
}

/** Local offset (minutes) of `home` at `utcMs`. */
function offsetAt(home: Home, utcMs: number): number {
  return zoneOffsetMinutes(home.zone, utcMs);
}

/** UTC instant of a local wall-clock time in `home`'s zone. */
function localToUtc(home: Home, localMs: number): number {
  const guess = localMs - offsetAt(home, localMs) * 60_000;
  return localMs - offsetAt(home, guess) * 60_000;
}

export class World {
  readonly seed: number;
  readonly users: UserData[] = [];
  readonly byId = new Map<string, UserData>();
  readonly #usedIds = new Set<string>();
  readonly #idRng: Rng;
  #addCounter = 0;

  /** When the simulator started (live activities record from then on). */
  startedAtMs: number;
  constructor(seed: number, userCount: number, activities: number, anchorMs: number) {
    this.startedAtMs = anchorMs;
    this.seed = seed;
    this.#idRng = mulberry32(mixSeed(seed, 0x1d));
    const userRng = mulberry32(mixSeed(seed, 0x05e7));
    const usedUserIds = new Set<string>();
    const n = Math.max(0, Math.min(1000, Math.floor(userCount)));
    for (let i = 0; i < n; i++) {
      let userId = '';
      for (let k = 0; k < 100; k++) {
        userId = String(randInt(userRng, 10_000_000, 99_999_999));
        if (!usedUserIds.has(userId)) break;
      }
      usedUserIds.add(userId);
      const user = this.#makeUser(i, userId, activities, anchorMs);
      this.users.push(user);
      this.byId.set(userId, user);
    }
  }

  newId(): string {
    for (let k = 0; k < 1000; k++) {
      const id = String(randInt(this.#idRng, 100_000_000, 999_999_999));
      if (!this.#usedIds.has(id)) {
        this.#usedIds.add(id);
        return id;
      }
    }
    throw new Error('id space exhausted');
  }

  #makeUser(index: number, userId: string, activities: number, anchorMs: number): UserData {
    const rng = mulberry32(mixSeed(this.seed, 0xa11, index));
    const home = HOMES[index % HOMES.length]!;
    const items = new Map<FeedName, Map<string, Item>>();
    for (const feed of Object.values(FEEDS)) items.set(feed, new Map());
    const team: TeamMember[] = [];
    for (let f = 0; f < 2; f++) {
      team.push({
        userID: randInt(rng, 10_000_000, 99_999_999),
        name: FRIEND_NAMES[(index * 2 + f) % FRIEND_NAMES.length]!,
      });
    }
    const user: UserData = {
      index,
      userId,
      home,
      name: PROFILE_NAMES[index % PROFILE_NAMES.length]!,
      team,
      items,
      tombstones: [],
      sortedCache: new Map(),
    };
    const count = Math.max(0, Math.min(1_000_000, Math.floor(activities)));
    for (let i = 0; i < count; i++) {
      const aSeed = mixSeed(this.seed, 0xac7, index, i);
      const arng = mulberry32(aSeed);
      const localHome = chance(arng, 0.7) ? home : pick(arng, HOMES);
      // Local start: a random day in the last ~3 years, realistic hour.
      const dayStart =
        Math.floor((anchorMs - 3 * YEAR + arng() * (3 * YEAR - 2 * DAY)) / DAY) * DAY;
      const localStart = dayStart + randInt(arng, 5 * 3600, 21 * 3600) * 1000;
      const startMs = localToUtc(localHome, localStart);
      const item = this.#makeActivity(arng, aSeed, localHome, startMs, anchorMs, false);
      this.#insert(user, item);
    }
    this.#makeMeasurements(user, rng, anchorMs);
    return user;
  }

  #makeActivity(
    rng: Rng,
    seed: number,
    home: Home,
    startMs: number,
    anchorMs: number,
    fresh: boolean,
  ): Item {
    const spec = pickType(rng);
    const manual = chance(rng, 0.15);
    const treadmill = spec.type === 'Running' && chance(rng, 0.12);
    const hasPath = spec.gps && !manual && !treadmill;
    const indoor = !spec.gps || treadmill;
    const minutes = spec.minutes[0] + rng() * (spec.minutes[1] - spec.minutes[0]);
    const duration = round(minutes * 60 + rng(), 3);
    const speed = spec.speed[0] + rng() * (spec.speed[1] - spec.speed[0]);
    const totalDistance = speed === 0 ? 0 : round(speed * duration + rng(), 2);
    const pauses: Pause[] = [];
    if (hasPath && chance(rng, 0.25)) {
      const k = randInt(rng, 1, 2);
      let pausedSoFar = 0;
      for (let p = 0; p < k; p++) {
        const movingAt = (duration * (p + 0.3 + 0.4 * rng())) / k;
        const len = round(30 + rng() * 570, 3);
        pauses.push({ at: round(movingAt + pausedSoFar, 3), len });
        pausedSoFar += len;
      }
    }
    const elapsed = round(duration + pauses.reduce((s, x) => s + x.len, 0), 3);
    const kcal = round(spec.met * 72 * (duration / 3600) * (0.9 + 0.2 * rng()), 0);
    const offsetMinutes = offsetAt(home, startMs);
    const wholeHour = offsetMinutes % 60 === 0;
    const source = manual ? 'RunKeeper' : pick(rng, SOURCES);
    const share = pick(rng, SHARES);
    const meta: FitnessMeta = {
      seed,
      type: spec.type,
      secondaryType: spec.type === 'Other' ? pick(rng, SECONDARY) : undefined,
      equipment: treadmill ? 'Treadmill' : (spec.equipment ?? 'None'),
      home,
      showOffset: wholeHour && chance(rng, 0.9),
      manual,
      hasPath,
      indoor,
      isLive: !manual && chance(rng, 0.02),
      hasHr: !manual && chance(rng, 0.65),
      hasDistanceSamples: !manual && totalDistance > 0,
      images: hasPath && chance(rng, 0.12) ? randInt(rng, 1, 3) : 0,
      comments: chance(rng, 0.15) ? randInt(rng, 1, 3) : 0,
      notes: chance(rng, 0.3) ? pick(rng, NOTES) : undefined,
      totalDistance,
      duration,
      elapsed,
      pauses,
      totalCalories: chance(rng, 0.9) ? kcal : undefined,
      source,
      entryMode: manual ? 'Web' : 'API',
      trackingMode: indoor ? 'indoor' : 'outdoor',
      share,
      shareMap: hasPath ? pick(rng, SHARES) : undefined,
    };
    let modifiedMs: number;
    if (fresh) {
      modifiedMs = anchorMs;
    } else {
      modifiedMs = startMs + elapsed * 1000 + randInt(rng, 60, 7200) * 1000;
      if (chance(rng, 0.1)) modifiedMs += rng() * 60 * DAY;
      modifiedMs = Math.min(modifiedMs, anchorMs);
    }
    return {
      feed: 'fitnessActivities',
      id: this.newId(),
      startMs,
      offsetMinutes,
      localDate: ymd(startMs + offsetMinutes * 60_000),
      modifiedMs: Math.round(modifiedMs),
      version: 0,
      fitness: meta,
    };
  }

  #makeMeasurements(user: UserData, rng: Rng, anchorMs: number): void {
    const home = user.home;
    const at = (daysAgo: number, hour: number): { startMs: number; offsetMinutes: number } => {
      const localDay = Math.floor(anchorMs / DAY) * DAY - daysAgo * DAY;
      const startMs = localToUtc(home, localDay + hour * 3_600_000);
      return { startMs, offsetMinutes: offsetAt(home, startMs) };
    };
    const add = (
      feed: FeedName,
      daysAgo: number,
      hour: number,
      fields: Record<string, unknown>,
      extra?: Record<string, unknown>,
    ): void => {
      const { startMs, offsetMinutes } = at(daysAgo, hour);
      const local = startMs + offsetMinutes * 60_000;
      const timeField = feed === 'strengthTrainingActivities' ? 'start_time' : 'timestamp';
      const item: Item = {
        feed,
        id: this.newId(),
        startMs,
        offsetMinutes,
        localDate: ymd(local),
        modifiedMs: Math.min(anchorMs, startMs + randInt(rng, 1, 48) * 3_600_000),
        version: 0,
        fields: { [timeField]: rkDate(local), ...fields },
      };
      if (extra) item.extra = extra;
      this.#insert(user, item);
    };
    for (let i = 0; i < 4; i++) {
      const exercises = [];
      for (let e = 0; e < randInt(rng, 1, 3); e++) {
        const sets = [];
        for (let s = 0; s < randInt(rng, 2, 4); s++) {
          sets.push({
            weight: round(20 + rng() * 60, 1),
            repetitions: randInt(rng, 5, 12),
            notes: s === 0 ? 'warm-up' : '',
          });
        }
        exercises.push({
          primary_type: pick(rng, ['Bench Press', 'Squat', 'Deadlift', 'Barbell Curl', 'Other']),
          secondary_type: '',
          primary_muscle_group: pick(rng, ['Chest', 'Legs', 'Back', 'Arms', 'Shoulders']),
          secondary_muscle_group: pick(rng, ['Core', 'Triceps', 'Glutes']),
          routine: pick(rng, ['Push day', 'Pull day', 'Leg day 🦵']),
          notes: chance(rng, 0.3) ? 'Neue Bestleistung 💪' : '',
          sets,
        });
      }
      add(
        'strengthTrainingActivities',
        randInt(rng, 1, 360),
        18,
        {},
        {
          total_calories: randInt(rng, 150, 450),
          notes: chance(rng, 0.5) ? 'Gym — séance du soir' : undefined,
          exercises,
          source: 'RunKeeper',
        },
      );
    }
    for (let i = 0; i < 12; i++) {
      add('backgroundActivities', randInt(rng, 1, 365), 0, {
        steps: randInt(rng, 2000, 18000),
        calories_burned: randInt(rng, 80, 700),
        source: 'Fitbit',
      });
    }
    for (let i = 0; i < 8; i++) {
      const deep = randInt(rng, 40, 120);
      const rem = randInt(rng, 60, 120);
      const light = randInt(rng, 150, 260);
      const awake = randInt(rng, 5, 40);
      add('sleep', randInt(rng, 1, 365), 23, {
        total_sleep: deep + rem + light,
        deep,
        rem,
        light,
        awake,
        times_woken: randInt(rng, 0, 5),
        source: 'Withings',
      });
    }
    for (let i = 0; i < 5; i++) {
      add('nutrition', randInt(rng, 1, 365), 20, {
        calories: randInt(rng, 1500, 3200),
        carbohydrates: randInt(rng, 150, 400),
        fat: randInt(rng, 40, 120),
        fiber: randInt(rng, 15, 45),
        protein: randInt(rng, 50, 160),
        sodium: randInt(rng, 1200, 3500),
        water: randInt(rng, 1000, 3000),
        source: 'MyFitnessPal',
      });
    }
    for (let i = 0; i < 10; i++) {
      const weight = round(62 + rng() * 20, 1);
      const fat = round(12 + rng() * 14, 1);
      add('weight', randInt(rng, 1, 1000), 7, {
        weight,
        fat_percent: fat,
        free_mass: round(weight * (1 - fat / 100), 1),
        mass_weight: round(weight * 0.45, 1),
        bmi: round(weight / 1.78 ** 2, 1),
        source: 'Withings',
      });
    }
    for (let i = 0; i < 3; i++) {
      add('generalMeasurements', randInt(rng, 1, 700), 9, {
        systolic: randInt(rng, 105, 140),
        diastolic: randInt(rng, 65, 90),
        resting_heartrate: randInt(rng, 44, 72),
        total_cholesterol: randInt(rng, 140, 240),
        hdl: randInt(rng, 40, 80),
        ldl: randInt(rng, 70, 160),
        vitamin_d: randInt(rng, 20, 60),
        crp: round(rng() * 3, 2),
        tsh: round(0.5 + rng() * 3, 2),
        source: 'RunKeeper',
      });
    }
    for (let i = 0; i < 2; i++) {
      add('diabetes', randInt(rng, 1, 700), 8, {
        fasting_plasma_glucose_test: randInt(rng, 70, 110),
        oral_glucose_tolerance_test: randInt(rng, 90, 160),
        random_plasma_glucose_test: randInt(rng, 80, 150),
        hemoglobin_a1c: round(4.8 + rng() * 1.5, 1),
        insulin: round(2 + rng() * 20, 1),
        c_peptide: round(0.5 + rng() * 2.5, 2),
        triglyceride: randInt(rng, 50, 200),
        source: 'RunKeeper',
      });
    }
  }

  #insert(user: UserData, item: Item): void {
    user.items.get(item.feed)!.set(item.id, item);
    user.sortedCache.delete(item.feed);
  }

  user(userId: string): UserData {
    const u = this.byId.get(userId);
    if (!u) throw new Error(`unknown simulator user ${userId}`);
    return u;
  }

  item(user: UserData, feed: FeedName, id: string): Item | undefined {
    return user.items.get(feed)?.get(id);
  }

  /** Items of a feed, newest first (ties by id, descending). */
  sorted(user: UserData, feed: FeedName): Item[] {
    let list = user.sortedCache.get(feed);
    if (!list) {
      list = [...(user.items.get(feed)?.values() ?? [])].sort(
        (a, b) => b.startMs - a.startMs || (b.id < a.id ? -1 : b.id > a.id ? 1 : 0),
      );
      user.sortedCache.set(feed, list);
    }
    return list;
  }

  addActivity(userId: string, nowMs: number, startTime?: Date): string {
    const user = this.user(userId);
    const seed = mixSeed(this.seed, 0xadd, this.#addCounter++);
    const rng = mulberry32(seed);
    const home = user.home;
    // Without a start time the activity has just ended.
    const provisional = startTime ? startTime.getTime() : nowMs;
    const item = this.#makeActivity(rng, seed, home, provisional, nowMs, true);
    if (!startTime) {
      const meta = item.fitness!;
      item.startMs = Math.round(nowMs - meta.elapsed * 1000);
      item.offsetMinutes = offsetAt(home, item.startMs);
      item.localDate = ymd(item.startMs + item.offsetMinutes * 60_000);
    }
    item.modifiedMs = nowMs;
    item.fitness!.liveFromMs = nowMs;
    this.#insert(user, item);
    return item.id;
  }

  editActivity(userId: string, id: string, nowMs: number): void {
    const user = this.user(userId);
    const item = this.item(user, 'fitnessActivities', id);
    if (!item?.fitness) throw new Error(`no activity ${id} for user ${userId}`);
    item.version++;
    item.fitness.notes = `Edited ×${item.version} ✏️ — ${NOTES[item.version % NOTES.length]}`;
    item.fitness.totalCalories = (item.fitness.totalCalories ?? 100) + 7 * item.version;
    item.modifiedMs = Math.max(nowMs, item.modifiedMs + 1);
  }

  deleteActivity(userId: string, id: string, nowMs: number): void {
    this.deleteItem(userId, 'fitnessActivities', id, nowMs);
  }

  deleteItem(userId: string, feed: FeedName, id: string, nowMs: number): void {
    const user = this.user(userId);
    const map = user.items.get(feed)!;
    if (!map.delete(id)) throw new Error(`no ${feed} item ${id} for user ${userId}`);
    user.sortedCache.delete(feed);
    user.tombstones.push({ feed, id, deletedMs: nowMs });
  }

  // ---------------------------------------------------------------- documents

  feedItem(item: Item): Record<string, unknown> {
    const uri = `/${item.feed}/${item.id}`;
    const m = item.fitness;
    if (!m) return { uri, ...item.fields };
    const out: Record<string, unknown> = {
      uri,
      type: m.type,
      start_time: rkDate(item.startMs + item.offsetMinutes * 60_000),
    };
    if (m.showOffset) out.utc_offset = item.offsetMinutes / 60;
    out.total_distance = m.totalDistance;
    out.duration = m.duration;
    if (m.totalCalories !== undefined) out.total_calories = m.totalCalories;
    out.source = m.source;
    out.entry_mode = m.entryMode;
    out.has_path = m.hasPath;
    out.tracking_mode = m.trackingMode;
    return out;
  }

  #neighbours(user: UserData, item: Item, out: Record<string, unknown>): void {
    const list = this.sorted(user, item.feed);
    const i = list.indexOf(item);
    const older = list[i + 1];
    const newer = i > 0 ? list[i - 1] : undefined;
    if (older) out.previous = `/${older.feed}/${older.id}`;
    if (newer) out.next = `/${newer.feed}/${newer.id}`;
  }

  #nearest(user: UserData, item: Item, out: Record<string, unknown>): void {
    for (const feed of Object.values(FEEDS)) {
      if (feed === item.feed) continue;
      let best: Item | undefined;
      let bestGap = Number.POSITIVE_INFINITY;
      for (const other of user.items.get(feed)!.values()) {
        const gap = Math.abs(other.startMs - item.startMs);
        if (gap < bestGap || (gap === bestGap && best && other.id < best.id)) {
          best = other;
          bestGap = gap;
        }
      }
      if (best) out[NEAREST_KEY[feed]] = `/${feed}/${best.id}`;
    }
    for (const field of Object.keys(FEEDS)) out[`nearest_teammate_${field}`] = [];
  }

  /**
   * Still recording at `nowMs`: a live activity ends after its own elapsed time, counted from
   * when the simulator started (or when it was added), as a real recording does.
   */
  isLiveAt(m: FitnessMeta, nowMs: number): boolean {
    return m.isLive && nowMs < (m.liveFromMs ?? this.startedAtMs) + m.elapsed * 1000;
  }

  /** The full (or summary) document of an item; `origin` makes image URLs absolute. */
  detail(
    user: UserData,
    item: Item,
    origin: string,
    summary: boolean,
    nowMs = this.startedAtMs,
  ): Record<string, unknown> {
    const uri = `/${item.feed}/${item.id}`;
    const local = item.startMs + item.offsetMinutes * 60_000;
    const m = item.fitness;
    if (!m) {
      const out: Record<string, unknown> = { uri, userID: Number(user.userId), ...item.fields };
      if (item.extra) {
        for (const [k, v] of Object.entries(item.extra)) if (v !== undefined) out[k] = v;
      }
      if (item.feed === 'strengthTrainingActivities') {
        out.comments = `${uri}/comments`;
        this.#neighbours(user, item, out);
        this.#nearest(user, item, out);
      }
      return out;
    }
    const s = samples(item, m, user.userId, origin);
    const out: Record<string, unknown> = { uri, userID: Number(user.userId), type: m.type };
    if (m.secondaryType) out.secondary_type = m.secondaryType;
    out.equipment = m.equipment;
    out.start_time = rkDate(local);
    if (m.showOffset) out.utc_offset = item.offsetMinutes / 60;
    out.total_distance = m.totalDistance;
    out.duration = m.duration;
    if (s.averageHr !== undefined) out.average_heart_rate = s.averageHr;
    if (m.totalCalories !== undefined) out.total_calories = m.totalCalories;
    out.climb = s.climb;
    if (m.notes) out.notes = m.notes;
    out.is_live = this.isLiveAt(m, nowMs);
    out.source = m.source;
    out.entry_mode = m.entryMode;
    out.tracking_mode = m.trackingMode;
    out.has_path = m.hasPath;
    out.share = m.share;
    if (m.shareMap) out.share_map = m.shareMap;
    out.activity = `https://runkeeper.com/user/${user.userId}/activity/${item.id}`;
    out.comments = `${uri}/comments`;
    this.#neighbours(user, item, out);
    if (!summary) {
      out.path = s.path;
      out.heart_rate = s.heartRate;
      out.distance = s.distance;
      out.calories = s.calories;
    }
    out.images = s.images;
    this.#nearest(user, item, out);
    return out;
  }

  comments(user: UserData, item: Item): Record<string, unknown> {
    const uri = `/${item.feed}/${item.id}/comments`;
    const comments: Record<string, unknown>[] = [];
    const n = item.fitness?.comments ?? 0;
    const rng = mulberry32(mixSeed(item.fitness?.seed ?? 0, 0xc0));
    const end = item.startMs + (item.fitness?.elapsed ?? 0) * 1000;
    for (let i = 0; i < n; i++) {
      const friend = pick(rng, user.team);
      const t = end + randInt(rng, 5, 600 * (i + 1)) * 60_000;
      comments.push({
        timestamp: rkDate(t + item.offsetMinutes * 60_000),
        userID: friend.userID,
        name: friend.name,
        comment: pick(rng, COMMENTS),
      });
    }
    return { uri, userID: Number(user.userId), comments };
  }

  profile(user: UserData, origin: string): Record<string, unknown> {
    const pic = (size: string): string => `${origin}/img/${user.userId}/profile/${size}.jpg`;
    return {
      name: user.name,
      location: `${user.home.name}`,
      athlete_type: 'Runner',
      goal: 'Run a marathon — sub 4h 🏅',
      gender: user.index % 2 === 0 ? 'F' : 'M',
      birthday: rkDate(Date.UTC(1984 + (user.index % 10), user.index % 12, 3 + user.index)),
      elite: user.index % 3 === 0,
      profile: `https://runkeeper.com/user/${user.userId}/profile`,
      small_picture: pic('small'),
      normal_picture: pic('normal'),
      medium_picture: pic('medium'),
      large_picture: pic('large'),
    };
  }

  settings(user: UserData): Record<string, unknown> {
    const out: Record<string, unknown> = {
      facebook_connected: false,
      twitter_connected: false,
      foursquare_connected: false,
    };
    for (const field of Object.keys(FEEDS)) {
      out[`share_${field}`] = 'Just Me';
      out[`post_${field}_facebook`] = false;
      out[`post_${field}_twitter`] = false;
    }
    out.share_map = 'Just Me';
    out.distance_units = user.home.zone.startsWith('America') ? 'mi' : 'km';
    out.weight_units = user.home.zone.startsWith('America') ? 'lbs' : 'kg';
    out.first_day_of_week = 1;
    return out;
  }

  records(user: UserData, nowMs: number): unknown[] {
    const weekOf = (ms: number): number => Math.floor((ms / DAY + 3) / 7);
    const monthOf = (ms: number): number => {
      const d = new Date(ms);
      return d.getUTCFullYear() * 12 + d.getUTCMonth();
    };
    const out: unknown[] = [];
    for (const type of ['Running', 'Cycling', 'Walking']) {
      const acts = this.sorted(user, 'fitnessActivities').filter((i) => i.fitness?.type === type);
      let overall = 0;
      let best: Item | undefined;
      const weeks = new Map<number, number>();
      const months = new Map<number, number>();
      for (const a of acts) {
        const d = a.fitness!.totalDistance;
        overall += d;
        if (!best || d > best.fitness!.totalDistance) best = a;
        weeks.set(weekOf(a.startMs), (weeks.get(weekOf(a.startMs)) ?? 0) + d);
        months.set(monthOf(a.startMs), (months.get(monthOf(a.startMs)) ?? 0) + d);
      }
      const km = (m: number): number => round(m / 1000, 2);
      const stats: Record<string, unknown>[] = [{ stat_type: 'OVERALL', value: round(overall, 1) }];
      if (best) {
        stats.push({
          stat_type: 'BEST_ACTIVITY',
          value: km(best.fitness!.totalDistance),
          date: rkDate(best.startMs + best.offsetMinutes * 60_000),
        });
      }
      stats.push({ stat_type: 'BEST_WEEK', value: km(Math.max(0, ...weeks.values())) });
      stats.push({ stat_type: 'BEST_MONTH', value: km(Math.max(0, ...months.values())) });
      stats.push({ stat_type: 'THIS_WEEK', value: km(weeks.get(weekOf(nowMs)) ?? 0) });
      stats.push({ stat_type: 'THIS_MONTH', value: km(months.get(monthOf(nowMs)) ?? 0) });
      stats.push({ stat_type: 'LAST_WEEK', value: km(weeks.get(weekOf(nowMs) - 1) ?? 0) });
      stats.push({ stat_type: 'LAST_MONTH', value: km(months.get(monthOf(nowMs) - 1) ?? 0) });
      out.push({ activity_type: type, stats });
    }
    return out;
  }
}

interface Samples {
  path: Record<string, unknown>[];
  heartRate: Record<string, unknown>[];
  distance: Record<string, unknown>[];
  calories: Record<string, unknown>[];
  images: Record<string, unknown>[];
  averageHr: number | undefined;
  climb: number;
}

/** Regenerate an activity's sample arrays from its seed. */
function samples(item: Item, m: FitnessMeta, userId: string, origin: string): Samples {
  const empty: Samples = {
    path: [],
    heartRate: [],
    distance: [],
    calories: [],
    images: [],
    averageHr: undefined,
    climb: 0,
  };
  if (m.manual) return empty;
  const rng = mulberry32(mixSeed(m.seed, 0x5a));
  const n = Math.max(50, Math.min(400, Math.round(m.elapsed / 12)));
  // Sample times: 0 … elapsed, jittered, excluding paused stretches.
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const base = (m.elapsed * i) / (n - 1);
    const jitter = i === 0 || i === n - 1 ? 0 : (rng() - 0.5) * (m.elapsed / n) * 0.6;
    const t = round(base + jitter, 3);
    if (m.pauses.some((p) => t > p.at && t < p.at + p.len)) continue;
    times.push(t);
  }
  type Kind = 'start' | 'gps' | 'pause' | 'resume' | 'end';
  const marks: { t: number; kind: Kind }[] = times.map((t, i) => ({
    t,
    kind: i === 0 ? 'start' : i === times.length - 1 ? 'end' : 'gps',
  }));
  for (const p of m.pauses) {
    marks.push({ t: p.at, kind: 'pause' }, { t: round(p.at + p.len, 3), kind: 'resume' });
  }
  const order: Record<Kind, number> = { start: 0, gps: 1, pause: 2, resume: 3, end: 4 };
  marks.sort((a, b) => a.t - b.t || order[a.kind] - order[b.kind]);
  const moving = (t: number): number =>
    t - m.pauses.reduce((s, p) => s + Math.max(0, Math.min(t, p.at + p.len) - p.at), 0);
  const speed = m.duration > 0 ? m.totalDistance / m.duration : 0;

  const out: Samples = { ...empty };
  let lat = m.home.lat + (rng() - 0.5) * 0.05;
  let lon = m.home.lon + (rng() - 0.5) * 0.07;
  let heading = rng() * 2 * Math.PI;
  const altBase = m.home.alt + rng() * 20;
  const altAmp = 2 + rng() * (m.type === 'Hiking' || m.type === 'Mountain Biking' ? 150 : 15);
  const wave = 800 + rng() * 3000;
  let prevAlt: number | undefined;
  let prevMoving = 0;
  let climb = 0;
  let hrSum = 0;
  const hrRest = 70 + rng() * 20;
  const hrMax = 150 + rng() * 30;
  for (const mark of marks) {
    const mt = moving(mark.t);
    const step = speed * (mt - prevMoving);
    prevMoving = mt;
    const dist = round(speed * mt, 2);
    if (m.hasPath) {
      heading += gauss(rng) * 0.25;
      lat += (step * Math.cos(heading)) / 111_320;
      lon += (step * Math.sin(heading)) / (111_320 * Math.cos((lat * Math.PI) / 180));
      const alt = round(altBase + altAmp * Math.sin(dist / wave) + rng() * 0.6, 1);
      if (prevAlt !== undefined && alt > prevAlt) climb += alt - prevAlt;
      prevAlt = alt;
      out.path.push({
        timestamp: mark.t,
        latitude: round(lat, 6),
        longitude: round(lon, 6),
        altitude: alt,
        type: mark.kind,
      });
    }
    if (mark.kind === 'pause' || mark.kind === 'resume') continue;
    if (m.hasDistanceSamples) out.distance.push({ timestamp: mark.t, distance: dist });
    if (m.hasHr) {
      const effort = Math.min(1, mark.t / 300);
      const hr = Math.round(hrRest + (hrMax - hrRest) * effort * 0.85 + gauss(rng) * 4);
      hrSum += hr;
      out.heartRate.push({ timestamp: mark.t, heart_rate: hr });
    }
    if (m.totalCalories !== undefined) {
      const c = m.duration > 0 ? (m.totalCalories * mt) / m.duration : 0;
      out.calories.push({ timestamp: mark.t, calories: round(c, 1) });
    }
  }
  out.climb = round(climb, 1);
  if (out.heartRate.length > 0) out.averageHr = Math.round(hrSum / out.heartRate.length);
  const gpsPoints = out.path.filter((p) => p.type === 'gps');
  for (let k = 0; k < m.images; k++) {
    const p = gpsPoints[Math.floor(rng() * gpsPoints.length)];
    if (!p) break;
    out.images.push({
      timestamp: p.timestamp,
      latitude: p.latitude,
      longitude: p.longitude,
      uri: `${origin}/img/${userId}/${item.id}/${k}.jpg`,
      thumbnail_uri: `${origin}/img/${userId}/${item.id}/${k}_thumb.jpg`,
    });
  }
  return out;
}

/** Small deterministic JPEG-ish bytes (valid SOI/APP0/EOI framing, random payload). */
export function imageBytes(key: string, thumb: boolean): Buffer {
  let h = 0;
  for (let i = 0; i < key.length; i++) h = mixSeed(h, key.charCodeAt(i));
  const rng = mulberry32(h);
  const size = thumb ? 300 + Math.floor(rng() * 200) : 1500 + Math.floor(rng() * 2000);
  const head = Buffer.from([
    0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x00, 0x01, 0x01, 0x00, 0x00, 0x01,
    0x00, 0x01, 0x00, 0x00,
  ]);
  const body = Buffer.alloc(size);
  for (let i = 0; i < size; i++) {
    let b = Math.floor(rng() * 256);
    if (b === 0xff) b = 0xfe;
    body[i] = b;
  }
  return Buffer.concat([head, body, Buffer.from([0xff, 0xd9])]);
}
