/**
 * Removes one scale-out run's PostgreSQL schema and RabbitMQ objects: the synchronous
 * fallback of scale-services.ts (run as a child from process 'exit'), and a manual tool.
 *
 *   node --import tsx bench/lib/scale-release.ts '{"name":"bench_…","databaseUrl":"postgres://…","brokerUrl":"amqp://…","pid":0}'
 */
import { defaultPgUser, releaseRun, type ScaleRunSpec } from './scale-services.js';

const spec = JSON.parse(process.argv[2] ?? '{}') as ScaleRunSpec;
if (!/^bench_[0-9a-f]+$/.test(spec.name ?? '')) {
  console.error(
    'usage: scale-release.ts <JSON of the run: name bench_<hex>, databaseUrl, brokerUrl>',
  );
  process.exit(2);
}
defaultPgUser();
releaseRun(spec).then(
  () => process.stderr.write(`bench: removed schema and broker objects of ${spec.name}\n`),
  (err: unknown) => {
    process.stderr.write(`bench: could not remove ${spec.name}: ${String(err)}\n`);
    process.exit(1);
  },
);
