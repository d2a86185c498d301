import { useState } from 'preact/hooks';
import type { Me } from '../main';
import { useQuery, ErrorNote } from '../hooks';
import { ResultExplainedDocument, ResultSourcesDocument } from '../gql/graphql';
import { lang, t, fmt } from '../i18n';
import { download } from '../api';
import { ChartBox } from '../charts';
import { useUnitNames } from '../names';

export function ReportLinks({ runId }: { runId: string }) {
  const [note, setNote] = useState<string | null>(null);
  const get = async (ext: 'xlsx' | 'pdf') => {
    setNote(null);
    const r = await download(`/runs/${runId}/report.${ext}`, `evaluation-${runId}.${ext}`);
    if (!r.ok) setNote(r.status === 403 ? t('forbidden') : r.status === 404 ? t('notVisible') : `${t('error')} (${r.status})`);
    else setNote(`report.${ext} ✓`);
  };
  return (
    <p class="reports">
      {t('reports')}: <button onClick={() => get('xlsx')} data-testid="report-xlsx">XLSX</button>{' '}
      <button onClick={() => get('pdf')} data-testid="report-pdf">PDF</button>{' '}
      {note ? <span class="note" data-testid="report-note">{note}</span> : null}
    </p>
  );
}

export function ResultScreen({ resultId, me }: { resultId: string; me: Me }) {
  const q = useQuery(ResultExplainedDocument, { resultId });
  const sources = useQuery(ResultSourcesDocument, { resultId });
  const nameOf = useUnitNames(me.unitId);
  if (q.loading && !q.data) return <p class="loading">{t('loading')}</p>;
  if (q.error) return <ErrorNote error={q.error} />;
  const r = q.data?.unitResult;
  if (!r) return <p class="empty" data-testid="not-visible">{t('notVisible')}</p>;
  const extra = new Map((sources.data?.unitResult?.indicators ?? []).map((i) => [i.indicator, i]));
  const roles = me.roles.map((x) => x.toLowerCase());
  const en = lang.value === 'en';
  return (
    <div class="result" data-testid="result">
      <h2>
        {t('explain')} · {nameOf(r.unitId)}
      </h2>
      <p class="meta">
        {r.run?.schemeNameZh} · {r.run?.period.label} · {t('revision')} {r.revision}
        {r.final ? ' · final' : ''}
      </p>
      <div class="headline">
        <div>
          <span class="big" data-testid="total">{fmt(r.total)}</span> {t('total')}
        </div>
        <div>{t('ci')}: {r.totalInterval ? `${fmt(r.totalInterval[0])} – ${fmt(r.totalInterval[1])}` : '—'}</div>
        <div>{t('grade')}: {r.grade?.nameZh ?? '—'}</div>
        <div>{t('rank')}: {r.rank ?? '—'}</div>
        {r.totalWithheld ? <div class="flag">{t('withheld')}: {en ? r.totalWithheld.explanation.en : r.totalWithheld.explanation.zh}</div> : null}
      </div>
      {r.run && (roles.includes('organizer') || roles.includes('admin')) ? <ReportLinks runId={r.run.id} /> : null}
      <table class="indicators">
        <thead>
          <tr>
            <th>{t('indicator')}</th>
            <th class="num">{t('value')}</th>
            <th>{t('reference')}</th>
            <th>{t('rule')}</th>
            <th class="num">{t('score')}</th>
            <th>{t('explanation')}</th>
          </tr>
        </thead>
        <tbody>
          {r.indicators.map((i) => {
            const x = extra.get(i.indicator);
            return (
              <tr data-indicator={i.indicator} class={i.applicable ? '' : 'na'}>
                <td>
                  <strong>{en ? i.nameEn || i.nameZh : i.nameZh}</strong>
                  <div><code>{i.indicator}</code> {i.definition?.clause ? <small>§{i.definition.clause}</small> : null}</div>
                </td>
                <td class="num">
                  {i.applicable ? (
                    <>
                      {fmt(i.value)} {i.unit}
                      {i.numerator !== null && i.numerator !== undefined ? <div><small>{fmt(i.numerator)} / {fmt(i.denominator)}</small></div> : null}
                      {i.interval ? <div><small>[{fmt(i.interval[0])}, {fmt(i.interval[1])}]</small></div> : null}
                    </>
                  ) : (
                    <span class="na-reason" data-testid="na-reason">
                      {t('notApplicable')}: {i.naReason}
                      {i.uncoveredMeasures.length ? <div><small>{t('uncovered')}: {i.uncoveredMeasures.join(', ')}</small></div> : null}
                    </span>
                  )}
                </td>
                <td>
                  {fmt(i.reference.value)} <small>{i.reference.policy}</small>
                  {i.reference.setBy ? <div><small>{t('setBy')}: {nameOf(i.reference.setBy)}</small></div> : null}
                  {i.reference.labelZh ? <div><small>{en ? i.reference.labelEn : i.reference.labelZh}</small></div> : null}
                </td>
                <td>
                  {x?.rule.type ?? ''}
                  {x?.rule.params && Object.keys(x.rule.params as object).length ? <div><small>{JSON.stringify(x.rule.params)}</small></div> : null}
                </td>
                <td class="num">
                  {fmt(i.score)} / {fmt(i.points)}
                </td>
                <td class="explanation">
                  {en ? i.explanation.en : i.explanation.zh}
                  {x?.trend ? <div><small>{t('trend')}: {x.trend.direction} ({fmt(x.trend.slope, 3)})</small></div> : null}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
      <Trends series={(sources.data?.unitResult?.indicators ?? []).filter((i) => i.series?.length)} names={new Map(r.indicators.map((i) => [i.indicator, en ? i.nameEn || i.nameZh : i.nameZh]))} />
      <h3>{t('measureSources')}</h3>
      <table class="sources" data-testid="sources">
        <thead>
          <tr><th>{t('measure')}</th><th>{t('source')}</th><th>{t('batch')}</th><th class="num">{t('records')}</th></tr>
        </thead>
        <tbody>
          {(sources.data?.unitResult?.measureSources ?? []).map((s) => (
            <tr><td><code>{s.measure}</code></td><td>{s.source}</td><td><code>{s.batchId}</code></td><td class="num">{s.records}</td></tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function Trends({ series, names }: { series: { indicator: string; series?: { month: string; value?: number | null }[] | null }[]; names: Map<string, string> }) {
  if (!series.length) return null;
  const months = [...new Set(series.flatMap((s) => s.series!.map((p) => p.month)))].sort();
  const colours = ['#3b6fb6', '#d9822b', '#2b9a66', '#a03d94', '#7a6a00'];
  return (
    <>
      <h3>{t('trend')}</h3>
      <ChartBox
        label={t('trend')}
        height={220}
        config={{
          type: 'line',
          data: {
            labels: months,
            datasets: series.map((s, n) => ({
              label: names.get(s.indicator) ?? s.indicator,
              data: months.map((m) => s.series!.find((p) => p.month === m)?.value ?? null),
              borderColor: colours[n % colours.length],
              backgroundColor: colours[n % colours.length],
              spanGaps: true,
            })),
          },
        }}
      />
    </>
  );
}
