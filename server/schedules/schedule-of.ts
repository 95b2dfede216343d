// Which schedule a source's config asks for (read by the schedules and by whoever starts a run:
// a scheduled source's runs never overlap).
export type ScheduleOption = { every_seconds: number } | { cron: string; timezone?: string };

/** The schedule a source's config asks for, when it may have one (no change stream), else null. */
export function scheduleOf(config: unknown): ScheduleOption | null {
  const options = (config as { options?: { change_tracking?: string; schedule?: ScheduleOption } }).options;
  if (!options?.schedule || options.change_tracking === "cdc" || options.change_tracking === undefined) return null;
  return options.schedule;
}
