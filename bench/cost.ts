/**
 * Monthly AWS cost from measured counts. Prices: us-east-1 list prices (on-demand), read in
 * 2026-11; free tiers are NOT applied, so the figures are an upper bound for a new account.
 */
export const PRICES = {
  lambdaRequestPerMillion: 0.2,
  lambdaArmGbSecond: 0.0000133334,
  dynamoWritePerMillion: 0.625,
  dynamoReadPerMillion: 0.125,
  s3PutPer1000: 0.005,
  s3GetPer1000: 0.0004,
  s3StorageGbMonth: 0.023,
  sqsPerMillion: 0.4,
  kmsKeyMonth: 1.0,
  kmsPer10000: 0.03,
  cloudwatchAlarmMonth: 0.1,
  logsIngestGb: 0.5,
  apiGatewayHttpPerMillion: 1.0,
} as const;

export interface UsageMonth {
  label: string;
  lambdaInvocations: number;
  lambdaGbSeconds: number;
  dynamoWrites: number;
  dynamoReads: number;
  s3Puts: number;
  s3Gets: number;
  s3StoredGb: number;
  sqsRequests: number;
  kmsRequests: number;
  logGb: number;
  alarms: number;
  kmsKeys: number;
}

export function monthlyCost(u: UsageMonth): {
  total: number;
  variable: number;
  lines: Record<string, number>;
} {
  const p = PRICES;
  const lines: Record<string, number> = {
    lambda:
      (u.lambdaInvocations / 1e6) * p.lambdaRequestPerMillion +
      u.lambdaGbSeconds * p.lambdaArmGbSecond,
    dynamodb:
      (u.dynamoWrites / 1e6) * p.dynamoWritePerMillion +
      (u.dynamoReads / 1e6) * p.dynamoReadPerMillion,
    s3:
      (u.s3Puts / 1000) * p.s3PutPer1000 +
      (u.s3Gets / 1000) * p.s3GetPer1000 +
      u.s3StoredGb * p.s3StorageGbMonth,
    sqs: (u.sqsRequests / 1e6) * p.sqsPerMillion,
    kmsRequests: (u.kmsRequests / 10_000) * p.kmsPer10000,
    logs: u.logGb * p.logsIngestGb,
    alarms: u.alarms * p.cloudwatchAlarmMonth,
    kmsKey: u.kmsKeys * p.kmsKeyMonth,
  };
  const total = Object.values(lines).reduce((a, b) => a + b, 0);
  return { total, variable: total - lines.kmsKey! - lines.alarms!, lines };
}
