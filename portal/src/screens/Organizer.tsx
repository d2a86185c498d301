import { useState } from 'preact/hooks';
import type { CombinedError } from '@urql/core';
import type { Me } from '../main';
import { api } from '../api';
import { useQuery, useSubscription, ErrorNote, Problems, FieldProblems } from '../hooks';
import {
  SchemeTemplatesDocument, CreateSchemeFromTemplateDocument, ValidateSchemeDocument, UpdateSchemeDraftDocument,
  PublishSchemeDocument, StartRunDocument, RunProgressDocument, PublishRunDocument, type PeriodKind,
} from '../gql/graphql';
import { t } from '../i18n';

type Problem = { path: string; code: string; message: string };
type Draft = { id: string; schemeId: string; version: number; code: string; status: string; body: any };

export function Organizer({ me }: { me: Me }) {
  const templates = useQuery(SchemeTemplatesDocument, {});
  const [form, setForm] = useState({ templateCode: '', code: '', nameZh: '', nameEn: '' });
  const [problems, setProblems] = useState<Problem[]>([]);
  const [error, setError] = useState<CombinedError | null>(null);
  const [draft, setDraft] = useState<Draft | null>(null);
  const [checked, setChecked] = useState<boolean | null>(null);
  const [published, setPublished] = useState(false);
  const [busy, setBusy] = useState(false);

  const field = (name: keyof typeof form) => ({
    name,
    value: form[name],
    onInput: (e: Event) => setForm({ ...form, [name]: (e.target as HTMLInputElement).value }),
  });

  async function create() {
    setBusy(true);
    const r = await api().mutation(CreateSchemeFromTemplateDocument, { ...form, templateCode: form.templateCode || templates.data!.schemeTemplates[0].code }).toPromise();
    setBusy(false);
    setError(r.error ?? null);
    const p = r.data?.createSchemeFromTemplate;
    setProblems(p?.problems ?? []);
    if (p?.ok && p.scheme) {
      setDraft(p.scheme as Draft);
      setChecked(null);
      setPublished(false);
    }
  }

  async function validate() {
    const r = await api().query(ValidateSchemeDocument, { body: draft!.body }).toPromise();
    setError(r.error ?? null);
    const found = r.data?.validateScheme ?? [];
    setProblems(found);
    setChecked(!r.error && found.length === 0);
  }

  async function save() {
    const r = await api().mutation(UpdateSchemeDraftDocument, { schemeId: draft!.schemeId, body: draft!.body }).toPromise();
    setError(r.error ?? null);
    const p = r.data?.updateSchemeDraft;
    setProblems(p?.problems ?? []);
    if (p?.ok && p.scheme) setDraft(p.scheme as Draft);
  }

  async function publish() {
    const r = await api().mutation(PublishSchemeDocument, { schemeId: draft!.schemeId, version: draft!.version }).toPromise();
    setError(r.error ?? null);
    const p = r.data?.publishScheme;
    setProblems(p?.problems ?? []);
    if (p?.ok) setPublished(true);
  }

  const setItemPoints = (index: number, value: string) => {
    const body = structuredClone(draft!.body);
    body.items[index].points = value === '' ? null : Number(value);
    setDraft({ ...draft!, body });
    setChecked(null);
  };

  const placed = new Set(['templateCode', 'code', 'nameZh', 'nameEn', 'name_zh', 'name_en', 'cohort', ...(draft?.body.items ?? []).map((_: unknown, i: number) => `items[${i}].points`)]);
  const elsewhere = problems.filter((p) => !placed.has(p.path));

  return (
    <div class="organizer">
      <section>
        <h2>{t('createFromTemplate')}</h2>
        <ErrorNote error={error} />
        <ErrorNote error={templates.error} />
        <form class="grid" onSubmit={(e) => (e.preventDefault(), create())}>
          <label>
            {t('templates')}
            <select {...field('templateCode')} data-testid="template">
              {(templates.data?.schemeTemplates ?? []).map((tp) => (
                <option value={tp.code}>{tp.nameZh} ({tp.code})</option>
              ))}
            </select>
            <FieldProblems problems={problems} path="templateCode" />
          </label>
          <label>
            {t('code')} <input {...field('code')} required />
            <FieldProblems problems={problems} path="code" />
          </label>
          <label>
            {t('nameZh')} <input {...field('nameZh')} required />
            <FieldProblems problems={problems} path="nameZh" />
          </label>
          <label>
            {t('nameEn')} <input {...field('nameEn')} />
          </label>
          <div>
            <button type="submit" disabled={busy || !templates.data}>{t('create')}</button>
          </div>
        </form>
      </section>
      {draft ? (
        <section class="draft" data-testid="draft">
          <h2>
            {t('draft')} · {draft.code} v{draft.version} {published ? <span class="ok">· {t('published')}</span> : null}
          </h2>
          <p>
            {t('nameZh')}: {draft.body.name_zh} · cohort: <code>{JSON.stringify(draft.body.cohort)}</code>
            <FieldProblems problems={problems} path="cohort" />
          </p>
          <table>
            <thead>
              <tr><th>#</th><th>{t('indicator')}</th><th>{t('rule')}</th><th>{t('points')}</th></tr>
            </thead>
            <tbody>
              {draft.body.items.map((item: any, i: number) => (
                <tr>
                  <td>{i}</td>
                  <td><code>{item.indicator?.code}</code></td>
                  <td>{item.rule?.type}</td>
                  <td>
                    <input type="number" name={`items[${i}].points`} value={item.points ?? ''} disabled={published}
                      onInput={(e) => setItemPoints(i, (e.target as HTMLInputElement).value)} />
                    <FieldProblems problems={problems} path={`items[${i}].points`} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          <Problems problems={elsewhere} />
          {checked ? <p class="ok" data-testid="valid">{t('valid')}</p> : null}
          {!published ? (
            <p>
              <button onClick={validate}>{t('validate')}</button> <button onClick={save}>{t('save')}</button>{' '}
              <button onClick={publish}>{t('publish')}</button>
            </p>
          ) : null}
        </section>
      ) : null}
      {draft && published ? <RunStarter schemeId={draft.schemeId} version={draft.version} /> : null}
      <p class="meta">{me.unitId}</p>
    </div>
  );
}

function RunStarter({ schemeId, version }: { schemeId: string; version: number }) {
  const [periodKind, setPeriodKind] = useState<PeriodKind>('QUARTER');
  const [period, setPeriod] = useState('');
  const [problems, setProblems] = useState<Problem[]>([]);
  const [error, setError] = useState<CombinedError | null>(null);
  const [runId, setRunId] = useState<string | null>(null);
  async function start() {
    const r = await api().mutation(StartRunDocument, { input: { schemeId, schemeVersion: version, periodKind, period } }).toPromise();
    setError(r.error ?? null);
    const p = r.data?.startRun;
    setProblems(p?.problems ?? []);
    if (p?.run && !p.problems.length) setRunId(p.run.id);
  }
  return (
    <section class="run-start">
      <h2>{t('startRun')}</h2>
      <ErrorNote error={error} />
      <label>
        {t('periodKind')}{' '}
        <select name="periodKind" value={periodKind} onChange={(e) => setPeriodKind((e.target as HTMLSelectElement).value as PeriodKind)}>
          {['MONTH', 'QUARTER', 'YEAR'].map((k) => <option value={k}>{k}</option>)}
        </select>
      </label>{' '}
      <label>
        {t('period')} <input name="period" value={period} placeholder="2024-Q3" onInput={(e) => setPeriod((e.target as HTMLInputElement).value)} />
        <FieldProblems problems={problems} path="input.period" />
      </label>{' '}
      <button onClick={start} disabled={!!runId}>{t('start')}</button>
      <Problems problems={problems.filter((p) => p.path !== 'input.period')} />
      {runId ? <RunProgressView runId={runId} /> : null}
    </section>
  );
}

function RunProgressView({ runId }: { runId: string }) {
  const [state, setState] = useState<{ status: string; progress: number; error?: string | null; seen: number }>({ status: 'queued', progress: 0, seen: 0 });
  const live = useSubscription(RunProgressDocument, { runId }, (d) => {
    if (d.runProgress) setState((s) => ({ status: d.runProgress!.status, progress: d.runProgress!.progress, error: d.runProgress!.error, seen: s.seen + 1 }));
  });
  const [publishedUntil, setPublishedUntil] = useState<string | null>(null);
  const [problems, setProblems] = useState<Problem[]>([]);
  const [error, setError] = useState<CombinedError | null>(null);
  async function publishRun() {
    const r = await api().mutation(PublishRunDocument, { runId }).toPromise();
    setError(r.error ?? null);
    setProblems(r.data?.publishRun.problems ?? []);
    if (r.data?.publishRun.run?.publishedAt) setPublishedUntil(r.data.publishRun.run.appealWindowClosesAt ?? '');
  }
  return (
    <div class="progress" data-testid="run-progress" data-status={state.status} data-events={state.seen}>
      <p>
        {t('status')}: <strong>{state.status}</strong> {live && !['done', 'failed'].includes(state.status) ? <span class="live">● {t('liveOn')}</span> : null}
      </p>
      <progress max={100} value={state.progress} /> {state.progress}%
      {state.error ? <p class="error">{state.error}</p> : null}
      <ErrorNote error={error} />
      <Problems problems={problems} />
      {state.status === 'done' && publishedUntil === null ? <p><button onClick={publishRun}>{t('publishRun')}</button></p> : null}
      {publishedUntil !== null ? (
        <p class="ok" data-testid="run-published">
          {t('runPublished')} {publishedUntil} · <a href={`#/run/${runId}`}>{t('overview')}</a>
        </p>
      ) : null}
    </div>
  );
}
