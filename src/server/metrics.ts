/** A handful of Prometheus counters, kept in memory and rendered as text exposition format. */
export class Metrics {
  private readonly requests = new Map<string, number>()
  private readonly verifications = new Map<string, number>()
  private readonly startedAt = Date.now()

  constructor(private readonly gauges: {revocationStreams: () => number}) {}

  countRequest(method: string, route: string, status: number): void {
    const key = `method="${method}",route="${route}",status="${status}"`
    this.requests.set(key, (this.requests.get(key) ?? 0) + 1)
  }

  countVerification(result: string): void {
    this.verifications.set(result, (this.verifications.get(result) ?? 0) + 1)
  }

  render(): string {
    const lines = [
      '# HELP cape_http_requests_total HTTP requests answered, by route and status.',
      '# TYPE cape_http_requests_total counter',
      ...[...this.requests].map(([labels, count]) => `cape_http_requests_total{${labels}} ${count}`),
      '# HELP cape_token_verifications_total Bearer and introspected tokens checked, by result.',
      '# TYPE cape_token_verifications_total counter',
      ...[...this.verifications].map(([result, count]) => `cape_token_verifications_total{result="${result}"} ${count}`),
      '# HELP cape_revocation_streams Revocation feeds (GET /v1/revocations as server-sent events) open now.',
      '# TYPE cape_revocation_streams gauge',
      `cape_revocation_streams ${this.gauges.revocationStreams()}`,
      '# HELP cape_uptime_seconds Seconds since the server started.',
      '# TYPE cape_uptime_seconds gauge',
      `cape_uptime_seconds ${((Date.now() - this.startedAt) / 1000).toFixed(0)}`,
    ]
    return `${lines.join('\n')}\n`
  }
}
