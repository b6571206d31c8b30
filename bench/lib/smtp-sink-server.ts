/**
 * A minimal, cheap SMTP sink for the email benchmarks, run as its own process so that it does
 * not spend the sender's CPU:
 *
 *   node --import tsx bench/lib/smtp-sink-server.ts [--fail-rate 0.2]   → "listening <port>"
 *
 * It speaks just enough ESMTP for a client like nodemailer (EHLO/HELO, MAIL, RCPT, DATA, RSET,
 * NOOP, QUIT; PIPELINING, 8BITMIME and SMTPUTF8 advertised), accepts every message and counts
 * it without parsing it. With a fail rate, that share of transactions is refused transiently,
 * half at RCPT (450) and half after the data (451). Three extra commands serve the bench on the
 * same port: `XSTATS` answers `250 <json counters>`, `XRESET` zeroes them, `XFAIL <rate>` sets
 * the fail rate.
 */
import { createServer, type Socket } from 'node:net';
import { parseArgs } from 'node:util';

export interface SinkStats {
  readonly connections: number;
  /** Messages accepted (250 after the data). */
  readonly accepted: number;
  /** Different recipients among the accepted messages; accepted − this = duplicates. */
  readonly uniqueRecipients: number;
  readonly rcptRefused: number;
  readonly dataRefused: number;
  /** Bytes of accepted message data, dot-stuffed as on the wire. */
  readonly bytes: number;
  /** performance.now() of the first and last accepted message (sink clock, ms). */
  readonly firstAt: number | null;
  readonly lastAt: number | null;
}

const TERMINATOR = Buffer.from('\r\n.\r\n');
const EHLO =
  '250-sink\r\n250-PIPELINING\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250-SIZE 52428800\r\n250 OK\r\n';

function main(): void {
  const { values } = parseArgs({
    options: { 'fail-rate': { type: 'string', default: '0' }, port: { type: 'string' } },
  });
  let failRate = Number(values['fail-rate']);
  const recipients = new Set<string>();
  let stats = fresh();

  function fresh() {
    return {
      connections: 0,
      accepted: 0,
      rcptRefused: 0,
      dataRefused: 0,
      bytes: 0,
      firstAt: null as number | null,
      lastAt: null as number | null,
    };
  }

  const server = createServer((socket: Socket) => {
    stats.connections++;
    socket.setNoDelay(true);
    let inData = false;
    let pending = ''; // an incomplete command line
    let tail: Buffer = Buffer.alloc(0); // the last 4 bytes of data: a terminator may straddle chunks
    let dataBytes = 0;
    let rcpts: string[] = [];
    let failAt: 'rcpt' | 'data' | null = null;
    let out = '';

    const command = (line: string): void => {
      const verb = line.slice(0, 4).toUpperCase();
      switch (verb) {
        case 'EHLO':
          out += EHLO;
          return;
        case 'HELO':
          out += '250 sink\r\n';
          return;
        case 'MAIL':
          rcpts = [];
          failAt = Math.random() < failRate ? (Math.random() < 0.5 ? 'rcpt' : 'data') : null;
          out += '250 2.1.0 OK\r\n';
          return;
        case 'RCPT': {
          if (failAt === 'rcpt') {
            stats.rcptRefused++;
            out += '450 4.2.0 sink says try again later\r\n';
            return;
          }
          const m = /<([^>]*)>/.exec(line);
          rcpts.push(m ? m[1]! : line.slice(8).trim());
          out += '250 2.1.5 OK\r\n';
          return;
        }
        case 'DATA':
          if (rcpts.length === 0) {
            out += '503 5.5.1 no valid recipients\r\n';
            return;
          }
          inData = true;
          tail = Buffer.from('\r\n');
          dataBytes = 0;
          out += '354 go ahead\r\n';
          return;
        case 'RSET':
          rcpts = [];
          failAt = null;
          out += '250 2.0.0 OK\r\n';
          return;
        case 'NOOP':
          out += '250 2.0.0 OK\r\n';
          return;
        case 'QUIT':
          out += '221 2.0.0 bye\r\n';
          socket.end(out);
          out = '';
          return;
        case 'XSTA':
          out += `250 ${JSON.stringify({ ...stats, uniqueRecipients: recipients.size } satisfies SinkStats)}\r\n`;
          return;
        case 'XRES':
          stats = fresh();
          recipients.clear();
          out += '250 2.0.0 reset\r\n';
          return;
        case 'XFAI':
          failRate = Number(line.slice(6).trim()) || 0;
          out += `250 2.0.0 fail rate ${failRate}\r\n`;
          return;
        default:
          out += '502 5.5.2 not implemented\r\n';
      }
    };

    const endOfData = (): void => {
      inData = false;
      if (failAt === 'data') {
        stats.dataRefused++;
        out += '451 4.3.0 sink says try again later\r\n';
      } else {
        const now = performance.now();
        stats.accepted++;
        stats.bytes += dataBytes;
        stats.firstAt ??= now;
        stats.lastAt = now;
        for (const r of rcpts) recipients.add(r);
        out += '250 2.0.0 queued\r\n';
      }
      rcpts = [];
      failAt = null;
    };

    socket.on('data', (chunk: Buffer) => {
      let rest: Buffer = chunk;
      while (rest.length > 0) {
        if (inData) {
          // The terminator may straddle the previous chunk and this one.
          let end = -1;
          const joint = Buffer.concat([tail, rest.subarray(0, TERMINATOR.length - 1)]);
          const j = joint.indexOf(TERMINATOR);
          if (j !== -1) end = j + TERMINATOR.length - tail.length;
          else {
            const k = rest.indexOf(TERMINATOR);
            if (k !== -1) end = k + TERMINATOR.length;
          }
          if (end === -1) {
            dataBytes += rest.length;
            const seen = rest.length >= TERMINATOR.length ? rest : Buffer.concat([tail, rest]);
            tail = Buffer.from(seen.subarray(-(TERMINATOR.length - 1)));
            break;
          }
          dataBytes += end;
          endOfData();
          rest = rest.subarray(end);
          continue;
        }
        const text = pending + rest.toString('latin1');
        let start = 0;
        let nl: number;
        rest = Buffer.alloc(0);
        while ((nl = text.indexOf('\r\n', start)) !== -1) {
          command(text.slice(start, nl));
          start = nl + 2;
          if (inData) {
            // What follows the DATA line is message data, not commands.
            rest = Buffer.from(text.slice(start), 'latin1');
            start = text.length;
            break;
          }
        }
        pending = text.slice(start);
        if (pending.length > 4096) {
          socket.destroy();
          return;
        }
      }
      if (out !== '') {
        socket.write(out);
        out = '';
      }
    });
    socket.on('error', () => socket.destroy());
    socket.write('220 sink ESMTP\r\n');
  });
  server.listen(Number(values.port ?? 0), '127.0.0.1', () => {
    const address = server.address() as { port: number };
    process.stdout.write(`listening ${address.port}\n`);
  });
  process.on('SIGTERM', () => process.exit(0));
}

main();
