/** Anything that hands out bearer tokens for one audience. */
export interface TokenProvider {
  /** A valid token; `forceRefresh` after the API refused the last one. */
  getToken(options?: { forceRefresh?: boolean }): Promise<string>;
}

/** A fixed token: for tests and for `access-token` auth modes. */
export class StaticTokenProvider implements TokenProvider {
  constructor(private readonly token: string) {}

  async getToken(): Promise<string> {
    return this.token;
  }
}
