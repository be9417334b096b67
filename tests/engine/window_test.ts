import assert from "node:assert/strict";
import type { WindowConfig } from "../../config_types.ts";
import { isInsideWindow } from "../../engine/window.ts";

// Local-time dates in the week of Monday 23 November 2026 (the 28th is a Saturday).
const DAY = { mon: 23, tue: 24, wed: 25, thu: 26, fri: 27, sat: 28, sun: 29, nextMon: 30 };

function at(day: keyof typeof DAY, hour: number, minute = 0): Date {
  return new Date(2026, 10, DAY[day], hour, minute, 0, 0);
}

const SUN = 0, MON = 1, TUE = 2, WED = 3, THU = 4, FRI = 5, SAT = 6;
const EVERY_DAY = [SUN, MON, TUE, WED, THU, FRI, SAT];
const WEEKDAYS = [MON, TUE, WED, THU, FRI];
const WEEKEND = [SAT, SUN];

function window(days: number[], startHour: number | null, endHour: number | null): WindowConfig {
  return { days: new Set(days), startHour, endHour, unblockOutside: false };
}

interface Case {
  readonly name: string;
  readonly window: WindowConfig;
  readonly inside: readonly Date[];
  readonly outside: readonly Date[];
}

const cases: Case[] = [
  {
    name: "the default 0/0 every day is always open",
    window: window(EVERY_DAY, 0, 0),
    inside: [at("mon", 0), at("wed", 12), at("sat", 23, 59), at("sun", 0, 1)],
    outside: [],
  },
  {
    name: "start equal to end is the whole allowed day, and only allowed days",
    window: window(WEEKDAYS, 9, 9),
    inside: [at("mon", 0), at("mon", 8, 59), at("fri", 23, 59)],
    outside: [at("sat", 9), at("sun", 12), at("sat", 0)],
  },
  {
    name: "a null start hour means the whole allowed day",
    window: window(WEEKEND, null, 17),
    inside: [at("sat", 0), at("sat", 20), at("sun", 23, 59)],
    outside: [at("fri", 23, 59), at("nextMon", 0), at("wed", 12)],
  },
  {
    name: "a null end hour means the whole allowed day",
    window: window([TUE], 8, null),
    inside: [at("tue", 0), at("tue", 7), at("tue", 23)],
    outside: [at("mon", 23, 59), at("wed", 0)],
  },
  {
    name: "a same-day window 8 to 17 on weekdays closes at 17:00 (defect 14: not 33 hours)",
    window: window(WEEKDAYS, 8, 17),
    inside: [at("mon", 8), at("mon", 12, 30), at("mon", 16, 59), at("fri", 8)],
    outside: [
      at("mon", 7, 59),
      at("mon", 17),
      at("mon", 23),
      at("tue", 1),
      at("fri", 17),
      at("sat", 12),
    ],
  },
  {
    name: "disallowed days act on nothing (defect 15)",
    window: window([WED], 0, 0),
    inside: [at("wed", 0), at("wed", 23, 59)],
    outside: [at("tue", 23, 59), at("thu", 0), at("sat", 12), at("sun", 12)],
  },
  {
    name: "an overnight window 22 to 6 on Fridays runs into Saturday morning only",
    window: window([FRI], 22, 6),
    inside: [at("fri", 22), at("fri", 23, 59), at("sat", 0), at("sat", 5, 59)],
    outside: [at("fri", 21, 59), at("fri", 5), at("sat", 6), at("sat", 22), at("thu", 23)],
  },
  {
    name: "an overnight window on weekdays opens Monday evening and ends Saturday morning",
    window: window(WEEKDAYS, 20, 4),
    inside: [at("mon", 20), at("tue", 3, 59), at("fri", 21), at("sat", 3)],
    outside: [at("mon", 3), at("mon", 19, 59), at("sat", 20), at("sun", 3), at("tue", 4)],
  },
  {
    name: "an overnight window on Sundays wraps into Monday across the week boundary",
    window: window([SUN], 23, 2),
    inside: [at("sun", 23), at("nextMon", 0, 30), at("nextMon", 1, 59)],
    outside: [at("nextMon", 2), at("sun", 1), at("sat", 23), at("sun", 22, 59)],
  },
  {
    name: "a window ending at midnight (start 18, end 0) stays within the day",
    window: window(WEEKEND, 18, 0),
    inside: [at("sat", 18), at("sat", 23, 59), at("sun", 18)],
    outside: [at("sat", 17, 59), at("sun", 0), at("nextMon", 0), at("fri", 23)],
  },
  {
    name: "no allowed day never opens",
    window: window([], 0, 0),
    inside: [],
    outside: [at("mon", 12), at("sat", 12)],
  },
];

for (const c of cases) {
  Deno.test(`isInsideWindow(): ${c.name}`, () => {
    for (const date of c.inside) {
      assert.equal(isInsideWindow(c.window, date), true, `expected inside at ${date.toString()}`);
    }
    for (const date of c.outside) {
      assert.equal(isInsideWindow(c.window, date), false, `expected outside at ${date.toString()}`);
    }
  });
}

Deno.test("isInsideWindow() uses local time, not UTC", () => {
  const date = at("wed", 10);
  const w = window([WED], 10, 11);
  assert.equal(isInsideWindow(w, date), true);
  // The same instant described by its UTC hour only matches when the zone is UTC.
  assert.equal(
    isInsideWindow(window([date.getUTCDay()], date.getUTCHours(), date.getUTCHours() + 1), date),
    date.getTimezoneOffset() === 0,
  );
});
