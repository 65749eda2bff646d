// monitoring/slo: the specs hold the plan's targets, the checked-in rules are exactly what the real
// Sloth generates from them, and the generated alerts are multi-window multi-burn-rate alerts
// (page 14.4x over 1h/5m and 6x over 6h/30m, ticket 3x over 1d/2h and 1x over 3d/6h).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { alertRules, ruleFiles } from '../src/monitoring.js';
import { generate, generatedFile, readSpec, slos, specFiles } from '../src/slo.js';
import { burnTerms } from '../src/slo-tests.js';

describe('SLOs (Sloth)', () => {
  test('the targets of the plan', () => {
    const byId = Object.fromEntries(slos().map((s) => [s.id, s.objective]));
    assert.deepEqual(byId, {
      'auth-availability': 0.999,
      'auth-latency': 0.99,
      'catalog-availability': 0.999,
      'catalog-latency': 0.99,
      'orders-availability': 0.999,
      'orders-latency': 0.99,
      'notifications-availability': 0.995,
      'events-order-created-delivery': 0.99,
      'databases-postgresql-uptime': 0.999,
      'databases-mongodb-uptime': 0.999,
    });
    // The latency bounds: catalog 250 ms, auth 1 s, orders 500 ms; events within 30 s.
    const text = (name: string) => readFileSync(specFiles().find((f) => f.endsWith(name)) ?? '', 'utf8');
    assert.match(text('api-catalog.yaml'), /le="0\.25"/);
    assert.match(text('api-auth.yaml'), /le="1"/);
    assert.match(text('api-orders.yaml'), /le="0\.5"/);
    assert.match(text('event-delivery.yaml'), /le="30"/);
  });

  for (const spec of specFiles())
    test(`regenerating ${spec.split('/').pop()} with Sloth changes nothing`, () => {
      const fresh = generate(spec);
      const current = readFileSync(generatedFile(spec), 'utf8');
      assert.equal(current, fresh, `stale: run npm run slo:generate`);
    });

  test('every SLO has a page and a ticket alert with the four burn windows', () => {
    const files = ruleFiles().filter((f) => f.file.startsWith('monitoring/slo/rules/'));
    assert.equal(files.length, specFiles().length);
    const alerts = alertRules(files);
    for (const s of slos()) {
      const mine = alerts.filter((a) => a.alert === s.alert && a.expr.includes(`sloth_id="${s.id}"`));
      const page = mine.find((a) => a.labels?.sloth_severity === 'page');
      const ticket = mine.find((a) => a.labels?.sloth_severity === 'ticket');
      assert.ok(page && ticket, `${s.id}: page and ticket alerts`);
      const budget = Number((1 - s.objective).toFixed(6));
      const shape = (a: typeof page) =>
        burnTerms(a.expr).map((t) => [t.window, t.factor, Number(t.budget.toFixed(6))]);
      assert.deepEqual(shape(page), [
        ['5m', 14.4, budget],
        ['1h', 14.4, budget],
        ['30m', 6, budget],
        ['6h', 6, budget],
      ]);
      assert.deepEqual(shape(ticket), [
        ['2h', 3, budget],
        ['1d', 3, budget],
        ['6h', 1, budget],
        ['3d', 1, budget],
      ]);
      assert.equal(page.labels?.severity, 'critical');
      assert.equal(ticket.labels?.severity, 'warning');
      const spec = readSpec(s.file);
      assert.ok(page.labels?.team, `${s.id}: team on the alert (spec ${spec.metadata.name})`);
    }
  });
});
