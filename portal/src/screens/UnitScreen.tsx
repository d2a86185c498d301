import { useState } from 'preact/hooks';
import type { CombinedError } from '@urql/core';
import type { Me } from '../main';
import { api } from '../api';
import { useQuery, useSubscription, ErrorNote, Problems } from '../hooks';
import {
  TrendDocument, ResultExplainedDocument, UnitAppealsDocument, FileAppealDraftDocument, AddEvidenceFileDocument,
  SubmitAppealDocument, InboxEventsDocument, type AppealReasonCategory,
} from '../gql/graphql';
import { t, fmt } from '../i18n';

export function UnitScreen({ me }: { me: Me }) {
  const trend = useQuery(TrendDocument, { unitId: me.unitId });
  const appeals = useQuery(UnitAppealsDocument, { unitId: me.unitId, first: 20 });
  const [events, setEvents] = useState(0);
  const live = useSubscription(InboxEventsDocument, {}, () => {
    setEvents((n) => n + 1);
    appeals.reload();
    trend.reload();
  });
  const results = trend.data?.unit?.results ?? [];
  const [chosen, setChosen] = useState<string | null>(null);
  const current = results.find((r) => r.id === chosen) ?? results[0];
  return (
    <div class="unit-screen">
      <section>
        <h2>{t('myResults')}</h2>
        <ErrorNote error={trend.error} />
        {!trend.loading && !results.length ? <p class="empty">{t('noData')}</p> : null}
        <table data-testid="my-results">
          <thead>
            <tr><th>{t('scheme')}</th><th>{t('period')}</th><th class="num">{t('total')}</th><th>{t('grade')}</th><th>{t('rank')}</th><th /></tr>
          </thead>
          <tbody>
            {results.map((r) => (
              <tr class={r.id === current?.id ? 'focus' : ''} onClick={() => setChosen(r.id)}>
                <td>{r.run?.schemeNameZh}</td>
                <td>{r.run?.period.label}</td>
                <td class="num" data-testid="my-total">{fmt(r.total)}</td>
                <td>{r.grade?.code ?? '—'}</td>
                <td>{r.rank ?? '—'}</td>
                <td><a href={`#/result/${r.id}`}>{t('explain')}</a></td>
              </tr>
            ))}
          </tbody>
        </table>
      </section>
      {current ? <FileAppeal resultId={current.id} onFiled={() => appeals.reload()} /> : null}
      <section>
        <h2>
          {t('myAppeals')} {live ? <span class="live" data-testid="live">● {t('liveOn')}</span> : null} <small data-testid="events">{events}</small>
        </h2>
        <ErrorNote error={appeals.error} />
        <table data-testid="my-appeals">
          <thead>
            <tr><th>{t('appeal')}</th><th>{t('status')}</th><th>{t('indicators')}</th><th>{t('decisions')}</th></tr>
          </thead>
          <tbody>
            {(appeals.data?.appeals.edges ?? []).map(({ node: a }) => (
              <tr data-appeal={a.id} data-status={a.status}>
                <td><code>{a.id.slice(0, 8)}</code><div><small>{a.filedAt}</small></div></td>
                <td class="status">{a.status}{a.outcome ? ` · ${a.outcome}` : ''}</td>
                <td>{a.indicators.join(', ')}</td>
                <td>
                  {a.decisions.map((d) => (
                    <div class="decision">
                      {d.outcome}: {t('before')} {fmt(d.totalBefore)} → {t('after')} <strong data-testid="total-after">{fmt(d.totalAfter)}</strong>
                    </div>
                  ))}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </section>
    </div>
  );
}

const CATEGORIES: AppealReasonCategory[] = ['WRONG_DATA', 'WRONG_ATTRIBUTION', 'RULE_MISAPPLIED', 'FORCE_MAJEURE', 'OTHER'];

function FileAppeal({ resultId, onFiled }: { resultId: string; onFiled: () => void }) {
  const result = useQuery(ResultExplainedDocument, { resultId });
  const [picked, setPicked] = useState<string[]>([]);
  const [values, setValues] = useState<Record<string, string>>({});
  const [category, setCategory] = useState<AppealReasonCategory>('WRONG_DATA');
  const [reason, setReason] = useState('');
  const [file, setFile] = useState<File | null>(null);
  const [fileKey, setFileKey] = useState(0);
  const [problems, setProblems] = useState<{ code: string; message: string; path?: string | null }[]>([]);
  const [error, setError] = useState<CombinedError | null>(null);
  const [done, setDone] = useState<string | null>(null);
  const r = result.data?.unitResult;
  if (!r || !r.published) return null;

  async function file_() {
    setProblems([]);
    setError(null);
    // A draft first, then its evidence (multipart upload), then submitted: every refusal is a problem.
    const asks = picked
      .filter((i) => values[i]?.trim())
      .map((i) => ({ indicator: i, kind: 'CORRECT_VALUE' as const, value: Number(values[i]) }));
    const filed = await api().mutation(FileAppealDraftDocument, { resultId, indicators: picked, reasonCategory: category, reason, asks }).toPromise();
    const f = filed.data?.fileAppeal;
    if (filed.error || !f?.ok || !f.appeal) return (setError(filed.error ?? null), setProblems(f?.problems ?? []));
    let version = f.appeal.version;
    if (file) {
      const added = await api().mutation(AddEvidenceFileDocument, { id: f.appeal.id, expectedVersion: version, file }).toPromise();
      const a = added.data?.addEvidenceFile;
      if (added.error || !a?.ok || !a.appeal) return (setError(added.error ?? null), setProblems(a?.problems ?? []));
      version = a.appeal.version;
    }
    const sent = await api().mutation(SubmitAppealDocument, { id: f.appeal.id, expectedVersion: version }).toPromise();
    const s = sent.data?.submitAppeal;
    if (sent.error || !s?.ok) return (setError(sent.error ?? null), setProblems(s?.problems ?? []));
    setDone(f.appeal.id);
    // A clean form for the next appeal (the file input is remade: its chosen file cannot be cleared otherwise).
    setPicked([]);
    setValues({});
    setReason('');
    setFile(null);
    setFileKey((k) => k + 1);
    onFiled();
  }

  return (
    <section class="file-appeal">
      <h2>{t('fileAppeal')} · {r.run?.schemeNameZh}</h2>
      <ErrorNote error={error} />
      <fieldset>
        <legend>{t('indicators')}</legend>
        {r.indicators.map((i) => (
          <label class="check">
            <input type="checkbox" name="indicator" value={i.indicator} checked={picked.includes(i.indicator)}
              onChange={(e) => setPicked((e.target as HTMLInputElement).checked ? [...picked, i.indicator] : picked.filter((x) => x !== i.indicator))} />
            {i.nameZh} <small>({t('value')} {fmt(i.value)} {i.unit} · {fmt(i.score)} / {fmt(i.points)})</small>
            {picked.includes(i.indicator) ? (
              <input type="number" step="any" name={`value-${i.indicator}`} placeholder={t('correctValue')} value={values[i.indicator] ?? ''}
                onInput={(e) => setValues({ ...values, [i.indicator]: (e.target as HTMLInputElement).value })} />
            ) : null}
          </label>
        ))}
      </fieldset>
      <label>
        {t('reasonCategory')}{' '}
        <select name="reasonCategory" value={category} onChange={(e) => setCategory((e.target as HTMLSelectElement).value as AppealReasonCategory)}>
          {CATEGORIES.map((c) => <option value={c}>{c}</option>)}
        </select>
      </label>
      <label class="block">
        {t('reason')}
        <textarea name="reason" rows={3} value={reason} onInput={(e) => setReason((e.target as HTMLTextAreaElement).value)} />
      </label>
      <label class="block">
        {t('evidence')} <input key={fileKey} type="file" name="evidence" onChange={(e) => setFile((e.target as HTMLInputElement).files?.[0] ?? null)} />
      </label>
      <Problems problems={problems} />
      <button onClick={file_} disabled={!picked.length || !reason.trim()}>{t('submit')}</button>
      {done ? <p class="ok" data-testid="appeal-filed">{t('appeal')} {done.slice(0, 8)} ✓</p> : null}
    </section>
  );
}
