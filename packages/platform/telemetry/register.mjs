// @ts-check
/**
 * OpenTelemetry preload. Load it before the application:
 *   node --import @mdp/platform/telemetry dist/src/server.js
 *   node --import @mdp/platform/telemetry --import tsx src/server.ts   (development)
 *
 * Service name from OTEL_SERVICE_NAME; spans go over OTLP/HTTP (JSON) to
 * OTEL_EXPORTER_OTLP_ENDPOINT (Jaeger v2 or an OpenTelemetry Collector). With no endpoint,
 * nothing is exported but W3C trace context still propagates, so log lines still carry
 * trace ids and downstream services still join the trace.
 */
import { builtinModules, register } from 'node:module';

// ESM imports of the instrumented libraries are wrapped by import-in-the-middle. Where Node can
// run its loader in-thread (module.registerHooks, Node >= 22.22.3 / 24.11.1 / 26), it does so,
// registered below once the instrumentations have named their modules: the off-thread loader
// of module.register() (deprecated in Node 26) cost a second V8 isolate, about 20 MB per process
// (issue 16). Elsewhere only the modules added through the message port are wrapped; the
// instrumented libraries here are CommonJS (patched by require-in-the-middle), so wrapping every
// ESM module would only cost memory.
// supports-sync-hooks.mjs imports nothing: the in-thread loader is only loaded where it runs.
/** @type {{ supportsSyncHooks(): boolean }} */
// @ts-expect-error the module ships no declaration file (register-hooks.d.mts re-exports its function)
const { supportsSyncHooks } = await import('import-in-the-middle/supports-sync-hooks.mjs');
const inThread = supportsSyncHooks();
const syncHooks = inThread ? await import('import-in-the-middle/register-hooks.mjs') : undefined;
let waitForAllMessagesAcknowledged = async () => {};
if (!inThread) {
  const { createAddHookMessageChannel } = await import('import-in-the-middle');
  const channel = createAddHookMessageChannel();
  waitForAllMessagesAcknowledged = channel.waitForAllMessagesAcknowledged;
  register('@opentelemetry/instrumentation/hook.mjs', import.meta.url, channel.registerOptions);
}

const { context, diag, DiagConsoleLogger, DiagLogLevel, propagation, trace } = await import(
  '@opentelemetry/api'
);
const { AsyncLocalStorageContextManager } = await import('@opentelemetry/context-async-hooks');
const { W3CTraceContextPropagator, W3CBaggagePropagator, CompositePropagator } = await import(
  '@opentelemetry/core'
);
const { registerInstrumentations } = await import('@opentelemetry/instrumentation');
const { AlwaysOffSampler, BatchSpanProcessor, ParentBasedSampler, TraceIdRatioBasedSampler, TracerProvider } =
  await import('@opentelemetry/sdk-trace');
const { OTLPTraceExporter } = await import('@opentelemetry/exporter-trace-otlp-http');
const { resourceFromAttributes } = await import('@opentelemetry/resources');
const { HttpInstrumentation } = await import('@opentelemetry/instrumentation-http');
const { UndiciInstrumentation } = await import('@opentelemetry/instrumentation-undici');
const { PgInstrumentation } = await import('@opentelemetry/instrumentation-pg');
const { IORedisInstrumentation } = await import('@opentelemetry/instrumentation-ioredis');
const { AmqplibInstrumentation } = await import('@opentelemetry/instrumentation-amqplib');
const { MongoDBInstrumentation } = await import('@opentelemetry/instrumentation-mongodb');
const { FastifyOtelInstrumentation } = await import('@fastify/otel');

if (process.env.OTEL_LOG_LEVEL === 'debug') diag.setLogger(new DiagConsoleLogger(), DiagLogLevel.DEBUG);

const serviceName = process.env.OTEL_SERVICE_NAME || 'unknown-service';
const endpoint = process.env.OTEL_EXPORTER_OTLP_ENDPOINT?.replace(/\/$/, '');
const ratio = Number(process.env.OTEL_TRACES_SAMPLER_ARG ?? '1');

const spanProcessors = endpoint
  ? [
      new BatchSpanProcessor({
        exporter: new OTLPTraceExporter({ url: `${endpoint}/v1/traces`, timeoutMillis: 5000 }),
        scheduledDelayMillis: Number(process.env.OTEL_BSP_SCHEDULE_DELAY ?? '1000'),
      }),
    ]
  : [];

const provider = new TracerProvider({
  resource: resourceFromAttributes({
    'service.name': serviceName,
    'service.version': process.env.SERVICE_VERSION ?? '0.0.0-dev',
    'service.namespace': 'mdp',
    'deployment.environment.name': process.env.DEPLOY_ENV ?? 'local',
  }),
  // With an endpoint: parent-based, roots sampled at OTEL_TRACES_SAMPLER_ARG (default 1).
  // Without one nothing would be exported, so spans are not recorded at all (about half the
  // tracing CPU cost measured under load); they still carry valid trace and span ids, so W3C
  // context propagates to the next hop and log lines still get trace_id / span_id.
  sampler: endpoint
    ? new ParentBasedSampler({
        root: new TraceIdRatioBasedSampler(Number.isFinite(ratio) ? Math.min(Math.max(ratio, 0), 1) : 1),
      })
    : new AlwaysOffSampler(),
  spanProcessors,
});
// SDK 3.x has no NodeTracerProvider.register(): context manager, propagator and provider are
// set globally one by one (what register() used to do).
context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
propagation.setGlobalPropagator(
  new CompositePropagator({ propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()] }),
);
trace.setGlobalTracerProvider(provider);

const PROBES = new Set(['/healthz', '/readyz', '/metrics']);

const instrumentations = [
  new HttpInstrumentation({
    ignoreIncomingRequestHook: (req) => PROBES.has((req.url ?? '').split('?')[0] ?? ''),
  }),
  new UndiciInstrumentation(),
  // No span per pool checkout / connection: the query spans stay (issue 16: fewer spans per order).
  new PgInstrumentation({ enhancedDatabaseReporting: false, ignoreConnectSpans: true }),
  new IORedisInstrumentation(),
  new AmqplibInstrumentation(),
  new MongoDBInstrumentation(),
  new FastifyOtelInstrumentation({
    registerOnInitialization: true,
    // The request and handler spans, not one span per lifecycle hook (onRequest ×4, onSend,
    // onResponse...): those were 26 of the 63 spans of an order and told nothing the request
    // span's duration and the dependency spans do not (issue 16, docs/performance.md).
    instrumentHooks: false,
    ignorePaths: (opts) => PROBES.has(opts.url),
  }),
];
if (syncHooks) {
  // The modules the instrumentations hook (and node:http for http), nothing else.
  const names = instrumentations.flatMap((i) => i.getModuleDefinitions().map((d) => d.name));
  syncHooks.register({
    include: names.flatMap((n) => (builtinModules.includes(n) ? [n, `node:${n}`] : [n])),
  });
}
registerInstrumentations({ tracerProvider: provider, instrumentations });
// The instrumentations above asked the off-thread loader to wrap their modules; wait until it has.
await waitForAllMessagesAcknowledged();

/** Lets the service's shutdown flush spans last (Lifecycle phase 'telemetry'). */
Object.defineProperty(globalThis, Symbol.for('mdp.telemetry'), {
  value: {
    enabled: true,
    exporting: Boolean(endpoint),
    serviceName,
    shutdown: () => provider.shutdown(),
    forceFlush: () => provider.forceFlush(),
  },
});
