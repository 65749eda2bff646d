/**
 * Reading Jaeger v2's query API (the one its UI uses): a trace by id, the service list and the
 * dependency links Jaeger derives from the stored traces; plus what "connected" means for a trace.
 */

export interface JaegerSpan {
  traceID: string;
  spanID: string;
  operationName: string;
  references?: { refType: string; traceID: string; spanID: string }[];
  processID: string;
  tags?: { key: string; type: string; value: unknown }[];
  /** Filled in by `getTrace` from the trace's processes. */
  service: string;
  kind: string;
}

export interface Trace {
  traceID: string;
  spans: JaegerSpan[];
}

async function getJson<T>(url: string): Promise<{ status: number; body: T }> {
  const res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  const body = (await res.json().catch(() => ({}))) as T;
  return { status: res.status, body };
}

/** The trace with that id, or undefined while Jaeger has not stored it (404). */
export async function getTrace(jaeger: string, traceId: string): Promise<Trace | undefined> {
  const { status, body } = await getJson<{
    data?: {
      traceID: string;
      spans: Omit<JaegerSpan, 'service' | 'kind'>[];
      processes: Record<string, { serviceName: string }>;
    }[];
  }>(`${jaeger}/api/traces/${traceId}`);
  if (status === 404) return undefined;
  if (status !== 200) throw new Error(`GET /api/traces/${traceId}: ${status} ${JSON.stringify(body)}`);
  const t = body.data?.[0];
  if (!t) return undefined;
  return {
    traceID: t.traceID,
    spans: t.spans.map((s) => ({
      ...s,
      service: t.processes[s.processID]?.serviceName ?? '?',
      kind: String(s.tags?.find((g) => g.key === 'span.kind')?.value ?? 'internal'),
    })),
  };
}

export async function services(jaeger: string): Promise<string[]> {
  const { body } = await getJson<{ data?: string[] }>(`${jaeger}/api/services`);
  return body.data ?? [];
}

/** Jaeger's dependency links (caller -> callee, with call counts) over the last `lookbackMs`. */
export async function dependencies(
  jaeger: string,
  lookbackMs: number,
): Promise<{ parent: string; child: string; callCount: number }[]> {
  const { status, body } = await getJson<{ data?: { parent: string; child: string; callCount: number }[] }>(
    `${jaeger}/api/dependencies?endTs=${Date.now()}&lookback=${lookbackMs}`,
  );
  if (status !== 200) throw new Error(`GET /api/dependencies: ${status} ${JSON.stringify(body)}`);
  return body.data ?? [];
}

const parentOf = (s: JaegerSpan) => s.references?.find((r) => r.refType === 'CHILD_OF')?.spanID;

/** The chain of services above a span, nearest first. */
export function ancestors(trace: Trace, span: JaegerSpan): JaegerSpan[] {
  const byId = new Map(trace.spans.map((s) => [s.spanID, s]));
  const out: JaegerSpan[] = [];
  for (let p = byId.get(parentOf(span) ?? ''); p; p = byId.get(parentOf(p) ?? '')) out.push(p);
  return out;
}

/** Spans whose parent is neither in the trace nor the client's own (unexported) root span. */
export function orphans(trace: Trace, clientSpanId: string): JaegerSpan[] {
  const ids = new Set(trace.spans.map((s) => s.spanID));
  return trace.spans.filter((s) => {
    const p = parentOf(s);
    return p !== undefined && p !== clientSpanId && !ids.has(p);
  });
}

/** Any tag of the span whose value is `value` (e.g. the routing key of a consume span). */
export const hasTagValue = (s: JaegerSpan, value: string): boolean =>
  (s.tags ?? []).some((t) => t.value === value);
