import { useState } from 'preact/hooks';
import type { Me } from '../main';
import { useQuery, ErrorNote } from '../hooks';
import { RunsDocument, RunOverviewDocument, SubtreeDocument } from '../gql/graphql';
import { t, fmt, named } from '../i18n';
import { ChartBox } from '../charts';
import { useUnitNames } from '../names';
import { ReportLinks } from './Result';

export function Overview({ me, runId }: { me: Me; runId: string | null }) {
  const runs = useQuery(RunsDocument, { first: 100 });
  const nameOf = useUnitNames(me.unitId);
  // The latest published run of each scheme (runs come newest period first).
  const latest = new Map<string, NonNullable<typeof runs.data>['runs']['edges'][number]['node']>();
  for (const e of runs.data?.runs.edges ?? []) {
    if (e.node.publishedAt && !latest.has(e.node.schemeCode)) latest.set(e.node.schemeCode, e.node);
  }
  const shown = [...latest.values()];
  const selected = runId ?? shown[0]?.id ?? null;
  return (
    <div class="overview">
      <section>
        <h2>{t('latestRuns')}</h2>
        <ErrorNote error={runs.error} />
        {runs.loading ? <p class="loading">{t('loading')}</p> : null}
        {!runs.loading && !shown.length ? <p class="empty" data-testid="no-runs">{t('noRuns')}</p> : null}
        <ul class="runs">
          {shown.map((r) => (
            <li class={r.id === selected ? 'active' : ''}>
              <a href={`#/run/${r.id}`} data-testid="run-link">
                {r.schemeNameZh} · {r.period.label}
              </a>{' '}
              <small>
                {t('revision')} {r.currentRevision}
                {r.final ? ' · final' : ''}
              </small>
            </li>
          ))}
        </ul>
      </section>
      {selected ? <RunRanking runId={selected} me={me} nameOf={nameOf} /> : null}
      <Subtree unitId={me.unitId} />
    </div>
  );
}

function RunRanking({ runId, me, nameOf }: { runId: string; me: Me; nameOf: (id: string) => string }) {
  const q = useQuery(RunOverviewDocument, { runId });
  const [focus, setFocus] = useState<string | null>(null);
  if (q.loading && !q.data) return <p class="loading">{t('loading')}</p>;
  if (q.error) return <ErrorNote error={q.error} />;
  const run = q.data?.run;
  if (!run) return <p class="empty" data-testid="not-visible">{t('notVisible')}</p>;
  const rows = run.ranking;
  const focused = rows.find((r) => r.unitId === focus) ?? rows.find((r) => r.unitId === me.unitId) ?? rows[0];
  const dims = focused?.result.dimensions ?? [];
  const mean = (d: string) => {
    const all = rows.map((r) => r.result.dimensions.find((x) => x.dimension === d)).filter(Boolean);
    return all.reduce((s, x) => s + (100 * x!.score) / (x!.maxPoints || 1), 0) / (all.length || 1);
  };
  const roles = me.roles.map((r) => r.toLowerCase());
  return (
    <section class="ranking" data-testid="ranking">
      <h2>
        {run.schemeNameZh} · {run.period.label}
      </h2>
      <p class="meta">
        {t('status')}: {run.status} · {t('revision')} {run.currentRevision}
        {run.summary ? ` · n=${run.summary.units} · mean ${fmt(run.summary.total.mean)} · median ${fmt(run.summary.total.median)}` : ''}
      </p>
      {roles.includes('organizer') || roles.includes('admin') ? <ReportLinks runId={run.id} /> : null}
      {!rows.length ? <p class="empty">{t('noData')}</p> : null}
      <table>
        <thead>
          <tr>
            <th>{t('rank')}</th>
            <th>{t('unit')}</th>
            <th>{t('grade')}</th>
            <th class="num">{t('total')}</th>
            <th>{t('ci')}</th>
            <th>{t('rankChange')}</th>
            <th>{t('flags')}</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((r) => (
            <tr class={r.unitId === focused?.unitId ? 'focus' : ''} onClick={() => setFocus(r.unitId)} data-unit={r.unitId}>
              <td>{r.rank ?? '—'}</td>
              <td>
                <a href={`#/result/${r.result.id}`}>{nameOf(r.unitId)}</a>
              </td>
              <td>{r.result.grade?.nameZh ?? '—'}</td>
              <td class="num">{fmt(r.total)}</td>
              <td>{r.result.totalInterval ? `${fmt(r.result.totalInterval[0])} – ${fmt(r.result.totalInterval[1])}` : '—'}</td>
              <td>{r.result.rankChange === null || r.result.rankChange === undefined ? '—' : r.result.rankChange > 0 ? `▲${r.result.rankChange}` : r.result.rankChange < 0 ? `▼${-r.result.rankChange}` : '＝'}</td>
              <td class="flags">
                {r.result.totalWithheld ? <span class="flag">{t('withheld')}: {r.result.totalWithheld.reason}</span> : null}
                {r.result.rankOverlaps.length ? (
                  <span class="flag" title={r.result.rankOverlaps.join(', ')}>
                    {t('overlaps')} {r.result.rankOverlaps.map(nameOf).join('、')}
                  </span>
                ) : null}
                {r.result.tiedOnDisplayWith.length ? <span class="flag">{t('tiedOnDisplay')}</span> : null}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {rows.length ? (
        <div class="charts">
          <ChartBox
            label={t('totalsChart')}
            config={{
              type: 'bar',
              data: {
                labels: rows.map((r) => nameOf(r.unitId)),
                datasets: [{ label: t('totalsChart'), data: rows.map((r) => r.total ?? 0), backgroundColor: '#3b6fb6' }],
              },
              options: { indexAxis: 'y', scales: { x: { min: 0, max: 100 } }, plugins: { legend: { display: false } } },
            }}
          />
          {dims.length ? (
            <ChartBox
              label={t('dimensionProfile')}
              config={{
                type: 'bar',
                data: {
                  labels: dims.map((d) => d.dimension),
                  datasets: [
                    { label: nameOf(focused!.unitId), data: dims.map((d) => (100 * d.score) / (d.maxPoints || 1)), backgroundColor: '#d9822b' },
                    { label: t('cohortMean'), data: dims.map((d) => mean(d.dimension)), backgroundColor: '#9aa5b1' },
                  ],
                },
                options: { scales: { y: { min: 0, max: 100 } } },
              }}
            />
          ) : null}
        </div>
      ) : null}
    </section>
  );
}

function Subtree({ unitId }: { unitId: string }) {
  const [cursors, setCursors] = useState<(string | null)[]>([null]);
  const after = cursors[cursors.length - 1];
  const q = useQuery(SubtreeDocument, { unitId, first: 10, after });
  const unit = q.data?.unit;
  return (
    <section class="subtree" data-testid="subtree">
      <h2>
        {t('subtree')} {unit ? `· ${named(unit)} (${unit.children.totalCount})` : ''}
      </h2>
      <ErrorNote error={q.error} />
      <table>
        <tbody>
          {unit?.children.edges.map((e) => (
            <tr>
              <td><code>{e.node.id}</code></td>
              <td>{named(e.node)}</td>
              <td>{e.node.kind}</td>
              <td class="num" title={t('descendants')}>{e.node.descendantCount}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <div class="pager">
        <button disabled={cursors.length < 2} onClick={() => setCursors(cursors.slice(0, -1))}>{t('prev')}</button>
        <span>{t('page', { n: cursors.length })}</span>
        <button
          disabled={!unit?.children.pageInfo.hasNextPage}
          onClick={() => setCursors([...cursors, unit!.children.pageInfo.endCursor ?? null])}
          data-testid="next-page"
        >
          {t('next')}
        </button>
      </div>
    </section>
  );
}
