import { useState } from 'preact/hooks';
import type { CombinedError } from '@urql/core';
import type { Me } from '../main';
import { api, download, errorCodes } from '../api';
import { useQuery, useSubscription, ErrorNote, Problems } from '../hooks';
import {
  ReviewerInboxDocument, InboxEventsDocument, AppealDetailDocument, TakeAppealDocument, RequestInformationDocument,
  DecideAppealDocument, MarkInboxReadDocument, type AppealOutcome,
} from '../gql/graphql';
import { t, fmt } from '../i18n';
import { useUnitNames } from '../names';

export function Inbox({ me, appealId }: { me: Me; appealId: string | null }) {
  const inbox = useQuery(ReviewerInboxDocument, { decidingUnitId: me.unitId, first: 50 });
  const nameOf = useUnitNames(me.unitId);
  const [events, setEvents] = useState(0);
  const live = useSubscription(InboxEventsDocument, {}, () => {
    setEvents((n) => n + 1);
    inbox.reload();
  });
  return (
    <div class="inbox">
      <section>
        <h2>
          {t('queue')} ({inbox.data?.queue.totalCount ?? 0}) {live ? <span class="live" data-testid="live">● {t('liveOn')}</span> : null}{' '}
          <small data-testid="events">{events}</small>
        </h2>
        <ErrorNote error={inbox.error} />
        <table data-testid="queue">
          <tbody>
            {(inbox.data?.queue.edges ?? []).map(({ node: a }) => (
              <tr data-appeal={a.id}>
                <td><a href={`#/inbox/${a.id}`}>{t('viewAppeal')} <code>{a.id.slice(0, 8)}</code></a></td>
                <td>{nameOf(a.unitId)}</td>
                <td>{a.indicators.join(', ')}</td>
                <td>{a.reasonCategory}</td>
                <td><small>{t('dueAt')} {a.decisionDueAt ?? '—'}</small></td>
              </tr>
            ))}
          </tbody>
        </table>
        <h3>{t('unread')} ({inbox.data?.appealInbox.length ?? 0})</h3>
        <ul class="unread">
          {(inbox.data?.appealInbox ?? []).slice(0, 10).map((e) => (
            <li><a href={`#/inbox/${e.appealId}`}>{e.kind}</a> <small>{e.createdAt}</small></li>
          ))}
        </ul>
      </section>
      {appealId ? <AppealPanel key={appealId} id={appealId} nameOf={nameOf} unread={(inbox.data?.appealInbox ?? []).filter((e) => e.appealId === appealId).map((e) => e.id)} onChange={inbox.reload} /> : null}
    </div>
  );
}

function AppealPanel({ id, nameOf, unread, onChange }: { id: string; nameOf: (id: string) => string; unread: string[]; onChange: () => void }) {
  const q = useQuery(AppealDetailDocument, { id });
  const [problems, setProblems] = useState<{ code: string; message: string; path?: string | null }[]>([]);
  const [error, setError] = useState<CombinedError | null>(null);
  const [message, setMessage] = useState('');
  const [outcome, setOutcome] = useState<AppealOutcome>('UPHELD');
  const [upheld, setUpheld] = useState<string[]>([]);
  const [reason, setReason] = useState('');
  if (q.loading && !q.data) return <p class="loading">{t('loading')}</p>;
  if (q.error) return <ErrorNote error={q.error} />;
  const a = q.data?.appeal;
  if (!a) return <p class="empty" data-testid="not-visible">{t('notVisible')}</p>;

  async function act(run: () => Promise<{ error?: CombinedError; payload?: { ok: boolean; problems: { code: string; message: string; path?: string | null }[] } | null }>) {
    const { error: e, payload } = await run();
    setError(e ?? null);
    setProblems(payload?.problems ?? []);
    // A concurrent change: read the appeal again (its new version), so the next try can succeed.
    if (e && errorCodes(e).includes('CONFLICT')) q.reload();
    if (payload?.ok) {
      q.reload();
      onChange();
      if (unread.length) await api().mutation(MarkInboxReadDocument, { ids: unread }).toPromise();
    }
  }
  const take = () => act(async () => {
    const r = await api().mutation(TakeAppealDocument, { id, expectedVersion: a.version }).toPromise();
    return { error: r.error, payload: r.data?.takeAppeal };
  });
  const ask = () => act(async () => {
    const r = await api().mutation(RequestInformationDocument, { id, expectedVersion: a.version, message, replyDays: 5 }).toPromise();
    return { error: r.error, payload: r.data?.requestInformation };
  });
  const decide = () => act(async () => {
    const r = await api().mutation(DecideAppealDocument, { id, expectedVersion: a.version, outcome, reason, upheldIndicators: outcome === 'REJECTED' ? [] : upheld }).toPromise();
    return { error: r.error, payload: r.data?.decideAppeal };
  });

  return (
    <section class="appeal" data-testid="appeal" data-status={a.status}>
      <h2>{t('appeal')} <code>{a.id.slice(0, 8)}</code> · {nameOf(a.unitId)} · <span class="status">{a.status}</span></h2>
      <p>{a.reasonCategory}: {a.reason}</p>
      <p>{t('indicators')}: {a.indicators.join(', ')} · {t('total')} {fmt(a.scoreTotalAtFiling)} · v{a.version}</p>
      {a.evidenceFiles.length ? (
        <ul class="evidence">
          {a.evidenceFiles.map((f) => (
            <li><button class="link" onClick={() => download(f.downloadPath, f.filename)}>{f.filename}</button> <small>{f.mediaType}, {f.sizeBytes} B</small></li>
          ))}
        </ul>
      ) : null}
      <ErrorNote error={error} />
      <Problems problems={problems} />
      {a.status === 'SUBMITTED' ? <button onClick={take}>{t('take')}</button> : null}
      {a.status === 'IN_REVIEW' ? (
        <div class="review">
          <fieldset>
            <legend>{t('requestInfo')}</legend>
            <input name="message" value={message} onInput={(e) => setMessage((e.target as HTMLInputElement).value)} placeholder={t('message')} />{' '}
            <button onClick={ask} disabled={!message.trim()}>{t('requestInfo')}</button>
          </fieldset>
          <fieldset>
            <legend>{t('decide')}</legend>
            <select name="outcome" value={outcome} onChange={(e) => setOutcome((e.target as HTMLSelectElement).value as AppealOutcome)}>
              {['UPHELD', 'PARTLY_UPHELD', 'REJECTED'].map((o) => <option value={o}>{o}</option>)}
            </select>
            <div>
              {t('upheld')}:{' '}
              {a.indicators.map((i) => (
                <label class="check">
                  <input type="checkbox" name="upheld" value={i} checked={upheld.includes(i)}
                    onChange={(e) => setUpheld((e.target as HTMLInputElement).checked ? [...upheld, i] : upheld.filter((x) => x !== i))} /> {i}
                </label>
              ))}
            </div>
            <textarea name="decisionReason" rows={2} value={reason} onInput={(e) => setReason((e.target as HTMLTextAreaElement).value)} placeholder={t('reason')} />
            <div><button onClick={decide} disabled={!reason.trim()}>{t('decide')}</button></div>
          </fieldset>
        </div>
      ) : null}
      {a.decisions.length ? (
        <div class="decisions" data-testid="decisions">
          <h3>{t('decisions')}</h3>
          {a.decisions.map((d) => (
            <div class="decision">
              <p>
                {d.outcome} · {d.reason} · {t('before')} <strong>{fmt(d.totalBefore)}</strong> → {t('after')} <strong data-testid="decision-after">{fmt(d.totalAfter)}</strong>
                {d.newRevision ? ` · ${t('newRevision')} ${d.newRevision}` : ''}
              </p>
              {d.indicatorChanges.length ? (
                <table>
                  <thead><tr><th>{t('indicator')}</th><th class="num">{t('before')}</th><th class="num">{t('after')}</th></tr></thead>
                  <tbody>
                    {d.indicatorChanges.map((c) => <tr><td>{c.indicator}</td><td class="num">{fmt(c.scoreBefore)}</td><td class="num">{fmt(c.scoreAfter)}</td></tr>)}
                  </tbody>
                </table>
              ) : null}
            </div>
          ))}
        </div>
      ) : null}
      <h3>Events</h3>
      <ol class="events">
        {a.events.map((e) => <li>{e.kind} · {e.actorUnitId} · <small>{e.occurredAt}</small></li>)}
      </ol>
    </section>
  );
}
