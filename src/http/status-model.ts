/** What the status page, /metrics and /readyz show: one read of the store and the daemon's parts. */
export interface StatusSnapshot {
  /** Business time: deadlines are relative to it. */
  at: Date;
  /** Real time: pulls, polls and writes are stamped with it (the same as `at` outside the demo). */
  opsAt: Date;
  version: string;
  state: string;
  startedAt?: Date;
  pairs: PairStatus[];
  outbox: {
    /** Jobs by target and state (pending, running, done, dead). */
    byTarget: Record<string, Record<string, number>>;
    oldestDueAgeMs: Record<string, number>;
    retrying: number;
    deadByCode: Record<string, number>;
    topFailures: Array<{ code: string; count: number; message: string; lastAt: Date }>;
  };
  deadlines: {
    dueWithin24h: number;
    dueWithin7d: number;
    /** Leads in the expired state. */
    expired: number;
    /** Leads this daemon closed by the 60-day rule. */
    closedBy60DayRule: number;
    dueSoon: DueLeadView[];
  };
  reminders: { sentToday: number };
  /** API calls and limits by target (partner-center:<account>, crm:<name>, notify:<channel>). */
  targets: TargetStatus[];
  webhooks: { accepted: number; refused: number };
}

export interface PairStatus {
  name: string;
  account: string;
  crm: string;
  leadsByState: Record<string, number>;
  lastPullAt?: Date;
  lastPullFailure?: { at: Date; code: string; message: string };
  lastPollAt?: Date;
  lastPollFailure?: { at: Date; code: string; message: string };
  lastCrmWriteAt?: Date;
  lastPushAt?: Date;
  /** How long the oldest change still waiting for this pair has waited (0: nothing waiting). */
  lagMs: number;
  /** The pull schedule's interval, when it is regular (for the "last pull within 3 intervals" check). */
  pullIntervalMs?: number;
}

export interface DueLeadView {
  leadId: number;
  referralId: string;
  name: string;
  account: string;
  deadline: "accept" | "act";
  at: Date;
  owner?: string;
  state: string;
}

export interface TargetStatus {
  target: string;
  requests: number;
  throttled: number;
  dailyUsed?: number;
  dailyLimit?: number;
  remaining?: number;
}

/** One lead and its story, for the lead page. */
export interface LeadView {
  /** When it was read (times on the page are relative to it). */
  at: Date;
  id: number;
  referralId: string;
  account: string;
  name: string;
  state: string;
  owner?: string;
  acceptBy?: Date;
  actBy?: Date;
  partnerCenterUrl: string;
  records: Array<{ pair: string; object: string; id: string; url?: string; syncError?: string }>;
  timeline: Array<{ at: Date; side: string; kind: string; cause?: string; pair?: string }>;
}
