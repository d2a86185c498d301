import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { config, loadConfig, signOut, token } from './api';
import { lang, setLang, t, named } from './i18n';
import { useQuery } from './hooks';
import { MeDocument, type MeQuery } from './gql/graphql';
import { SignIn } from './screens/SignIn';
import { Overview } from './screens/Overview';
import { ResultScreen } from './screens/Result';
import { Organizer } from './screens/Organizer';
import { UnitScreen } from './screens/UnitScreen';
import { Inbox } from './screens/Inbox';
import './styles.css';

export type Me = MeQuery['me'];

function useHash(): string {
  const [hash, setHash] = useState(location.hash || '#/');
  useEffect(() => {
    const on = () => setHash(location.hash || '#/');
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return hash;
}

function Shell() {
  const hash = useHash();
  const signedIn = token.value !== null;
  if (!signedIn || hash.startsWith('#/signin')) return <SignIn />;
  return <SignedIn key={token.value} hash={hash} />;
}

function SignedIn({ hash }: { hash: string }) {
  const me = useQuery(MeDocument, {});
  if (me.loading && !me.data) return <p class="loading">{t('loading')}</p>;
  if (!me.data) return <SignIn />;
  const who = me.data.me;
  const roles = who.roles.map((r) => r.toLowerCase());
  const [, screen, arg] = hash.split('/');
  const nav: [string, string, boolean][] = [
    ['#/', t('overview'), true],
    ['#/organizer', t('organizer'), roles.includes('organizer') || roles.includes('admin')],
    ['#/mine', t('myUnit'), roles.includes('unit')],
    ['#/inbox', t('inbox'), roles.includes('reviewer')],
  ];
  let body;
  if (screen === 'result' && arg) body = <ResultScreen resultId={decodeURIComponent(arg)} me={who} />;
  else if (screen === 'organizer') body = <Organizer me={who} />;
  else if (screen === 'mine') body = <UnitScreen me={who} />;
  else if (screen === 'inbox') body = <Inbox me={who} appealId={arg ? decodeURIComponent(arg) : null} />;
  else body = <Overview me={who} runId={screen === 'run' && arg ? decodeURIComponent(arg) : null} />;
  return (
    <>
      <header>
        <h1>{t('appTitle')}</h1>
        <nav>
          {nav.filter(([, , shown]) => shown).map(([href, label]) => (
            <a href={href} class={hash === href || (href !== '#/' && hash.startsWith(href)) ? 'active' : ''}>
              {label}
            </a>
          ))}
        </nav>
        <div class="who" data-testid="who">
          <span class="unit-name">{named(who.unit, who.unitId)}</span> <code>{who.unitId}</code>{' '}
          <span class="roles">{roles.join(', ')}</span>
          {who.unit?.ancestors.length ? (
            <span class="ancestors"> · {t('ancestors')}: {who.unit.ancestors.map((a) => a.nameZh).join(' › ')}</span>
          ) : null}
          <button class="link" onClick={() => setLang(lang.value === 'zh' ? 'en' : 'zh')}>{t('lang')}</button>
          <button class="link" onClick={() => signOut()}>{t('signOut')}</button>
        </div>
      </header>
      <main>{body}</main>
    </>
  );
}

// The bundled font first: the charts draw their labels on a canvas once, with whatever font is there then.
Promise.all([loadConfig(), document.fonts.load("14px 'Hotline Sans SC'", '广州').catch(() => null)])
  .then(() => render(<Shell />, document.getElementById('app')!))
  .catch((error) => {
    document.getElementById('app')!.textContent = `config.json: ${error}`;
  });
void config;
