/**
 * The blocking window (engine.md §1.2, §7.4): whether automated actions may run at a given
 * local time. Pure; the clock is a parameter.
 *
 * @module
 */

import type { WindowConfig } from "../config_types.ts";

/**
 * Tells whether actions may run at local time `now` (engine.md §7.4, Required):
 *
 * - either hour null: any time on an allowed day;
 * - start = end: any time on an allowed day;
 * - start < end: on an allowed day, from `start:00` up to (not including) `end:00`;
 * - start > end (overnight): on an allowed day from `start:00`, or before `end:00` on the
 *   day after an allowed day.
 *
 * Days are the local weekday (0 = Sunday … 6 = Saturday); an empty set allows no day.
 *
 * @example
 * ```ts
 * const night = { days: new Set([5]), startHour: 22, endHour: 6, unblockOutside: false };
 * isInsideWindow(night, new Date(2026, 10, 28, 3)); // Saturday 03:00, after Friday 22:00: true
 * ```
 */
export function isInsideWindow(window: WindowConfig, now: Date): boolean {
  const { days, startHour, endHour } = window;
  const today = now.getDay();
  const hour = now.getHours();
  if (startHour === null || endHour === null || startHour === endHour) {
    return days.has(today);
  }
  if (startHour < endHour) {
    return days.has(today) && startHour <= hour && hour < endHour;
  }
  const yesterday = (today + 6) % 7;
  return (days.has(today) && hour >= startHour) || (days.has(yesterday) && hour < endHour);
}
