/** What a target's answer said about its limits; every field is optional. Connectors report it, the outbox pacer obeys it. */
export interface RateInfo {
  retryAfterMs?: number;
  /** Requests left in the target's current window, and when that window resets. */
  remaining?: number;
  resetAt?: Date;
  /** Daily quota as reported (Sforce-Limit-Info api-usage=USED/LIMIT, HubSpot daily headers). */
  dailyUsed?: number;
  dailyLimit?: number;
}
