import { useEffect, useState } from 'preact/hooks';
import { api } from '../api';
import { t } from '../i18n';
import { store } from '../store';

interface LineMetrics {
  sessions: { new: number; closed: number; spam: number };
  firstAnswer: { count: number; avgSeconds: number | null };
  nextAnswer: { count: number; avgSeconds: number | null };
  handling: { count: number; avgSeconds: number | null };
  operators: { operatorId: string; name: string | null; sessionsHandled: number }[];
  queue: { length: number };
}

const DAY = 86_400_000;
const day = (d: Date) => d.toISOString().slice(0, 10);

/** A line's metrics (spam excluded) for a range: totals, per-operator rows, and a bar per day. */
export function Metrics() {
  const [lines, setLines] = useState<{ id: string; name: string }[]>([]);
  const [lineId, setLineId] = useState('');
  const [from, setFrom] = useState(day(new Date(Date.now() - 6 * DAY)));
  const [to, setTo] = useState(day(new Date()));
  const [total, setTotal] = useState<LineMetrics | null>(null);
  const [days, setDays] = useState<{ label: string; m: LineMetrics }[]>([]);

  useEffect(() => {
    void api<{ items: { id: string; name: string }[] }>('POST', '/lines/search', { size: 100 })
      .then((r) => {
        setLines(r.items);
        if (r.items[0]) setLineId(r.items[0].id);
      })
      .catch((err) => store.fail(err));
  }, []);

  async function load() {
    if (!lineId) return;
    const start = new Date(`${from}T00:00:00Z`);
    const end = new Date(new Date(`${to}T00:00:00Z`).getTime() + DAY);
    const get = (a: Date, b: Date) =>
      api<LineMetrics>('GET', `/lines/${lineId}/metrics?from=${a.toISOString()}&to=${b.toISOString()}`);
    try {
      const n = Math.min(31, Math.max(1, Math.round((end.getTime() - start.getTime()) / DAY)));
      const buckets = Array.from({ length: n }, (_, i) => new Date(start.getTime() + i * DAY));
      const [all, ...each] = await Promise.all([
        get(start, end),
        ...buckets.map((b) => get(b, new Date(b.getTime() + DAY))),
      ]);
      setTotal(all);
      setDays(each.map((m, i) => ({ label: day(buckets[i]!).slice(5), m })));
    } catch (err) {
      store.fail(err);
    }
  }
  useEffect(() => {
    void load();
  }, [lineId]);

  return (
    <section class="metrics" aria-labelledby="sv-metrics" data-testid="metrics">
      <h2 id="sv-metrics">
        {t('metrics')} <small class="muted">({t('spamExcluded')})</small>
      </h2>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void load();
        }}
      >
        <label>
          {t('line')}
          <select value={lineId} onChange={(e) => setLineId(e.currentTarget.value)}>
            {lines.map((l) => (
              <option value={l.id}>{l.name}</option>
            ))}
          </select>
        </label>
        <label>
          {t('from')}
          <input type="date" value={from} onInput={(e) => setFrom(e.currentTarget.value)} />
        </label>
        <label>
          {t('to')}
          <input type="date" value={to} onInput={(e) => setTo(e.currentTarget.value)} />
        </label>
        <button type="submit">{t('show')}</button>
      </form>
      {total && (
        <>
          <dl class="totals">
            <dt>{t('newSessions')}</dt>
            <dd data-testid="metric-new">{total.sessions.new}</dd>
            <dt>{t('closed')}</dt>
            <dd data-testid="metric-closed">{total.sessions.closed}</dd>
            <dt>{t('firstAnswer')}</dt>
            <dd>{fmt(total.firstAnswer.avgSeconds)}</dd>
            <dt>{t('nextAnswer')}</dt>
            <dd>{fmt(total.nextAnswer.avgSeconds)}</dd>
            <dt>{t('handling')}</dt>
            <dd>{fmt(total.handling.avgSeconds)}</dd>
          </dl>
          <Chart title={t('newSessions')} points={days.map((d) => [d.label, d.m.sessions.new])} />
          <Chart
            title={t('firstAnswer')}
            points={days.map((d) => [d.label, d.m.firstAnswer.avgSeconds ?? 0])}
          />
          <Chart title={t('handling')} points={days.map((d) => [d.label, d.m.handling.avgSeconds ?? 0])} />
          <table data-testid="metric-operators">
            <thead>
              <tr>
                <th scope="col">{t('operator')}</th>
                <th scope="col">{t('handled')}</th>
              </tr>
            </thead>
            <tbody>
              {total.operators.map((o) => (
                <tr>
                  <td>{o.name}</td>
                  <td>{o.sessionsHandled}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
    </section>
  );
}

const fmt = (s: number | null) => (s === null ? '—' : s.toFixed(1));

function Chart({ title, points }: { title: string; points: [string, number][] }) {
  const max = Math.max(1, ...points.map(([, v]) => v));
  const w = 280;
  const h = 80;
  const bw = w / Math.max(1, points.length);
  return (
    <figure class="chart">
      <figcaption>{title}</figcaption>
      <svg
        viewBox={`0 0 ${w} ${h + 14}`}
        role="img"
        aria-label={`${title}: ${points.map(([l, v]) => `${l} ${fmt(v)}`).join(', ')}`}
      >
        {points.map(([label, v], i) => {
          const bh = (v / max) * h;
          return (
            <g>
              <rect x={i * bw + 2} y={h - bh} width={Math.max(1, bw - 4)} height={bh} class="bar">
                <title>{`${label}: ${fmt(v)}`}</title>
              </rect>
              {points.length <= 10 && (
                <text x={i * bw + bw / 2} y={h + 11} text-anchor="middle" class="axis">
                  {label}
                </text>
              )}
            </g>
          );
        })}
      </svg>
    </figure>
  );
}
