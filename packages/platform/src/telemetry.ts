interface TelemetryHandle {
  enabled: boolean;
  exporting: boolean;
  serviceName: string;
  shutdown(): Promise<void>;
  forceFlush(): Promise<void>;
}

/** The handle the preload (`--import @mdp/platform/telemetry`) left, if it ran. */
export function telemetry(): TelemetryHandle | undefined {
  return (globalThis as Record<symbol, TelemetryHandle | undefined>)[Symbol.for('mdp.telemetry')];
}

/** Flushes and stops the tracer provider; a no-op when the preload did not run. */
export async function shutdownTelemetry(): Promise<void> {
  await telemetry()?.shutdown();
}
